package org.twofactord.daemon.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.NssUserDatabase;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.config.ConfigException;
import org.twofactord.daemon.config.ConfigLoader;
import org.twofactord.daemon.server.Server;
import org.twofactord.daemon.store.StoreException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import sun.misc.Signal;

/** {@code twofactord serve}: run the daemon in the foreground until SIGTERM or SIGINT. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the daemon in the foreground until SIGTERM or SIGINT.",
            "Logs go to standard error, one line per event; audit lines come from the logger 'twofactord.audit'."})
public final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Spec
    CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH",
            description = "Unix socket to listen on (default: /run/twofactord/twofactord.sock; dev mode: inside the dev directory).")
    Path socket;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Directory of the store and the master key (default: /var/lib/twofactord; dev mode: ./.twofactord-dev).")
    Path stateDir;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Configuration file (default: /etc/twofactord/twofactord.conf, which may be missing; not read in dev mode).")
    Path configFile;

    @Option(names = "--dev", description = "Dev mode: no root, no install. The socket (mode 0600) and the store live in "
            + "./.twofactord-dev unless given, and this process's own uid counts as uid 0.")
    boolean dev;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Config config;
        try {
            config = ConfigLoader.load(new ConfigLoader.Flags(socket, stateDir, configFile, dev));
        } catch (ConfigException e) {
            err.println("twofactord: " + e.getMessage());
            err.flush();
            return ExitCodes.CONFIG;
        }
        nativeLibraryDir(config);
        long rootUid = dev ? currentUid() : 0;
        Server server;
        try {
            server = Server.start(config, new Server.Options(Clock.systemUTC(), new SecureRandom(),
                    new NssUserDatabase(), rootUid, Server.mapDb(), Version.get()));
        } catch (StoreException | java.io.IOException e) {
            err.println("twofactord: cannot start: " + e.getMessage());
            err.flush();
            return ExitCodes.UNAVAILABLE;
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        log.info("twofactord {} listening on {} (state {}, mode {})", Version.get(), config.socket(),
                config.stateDir(), String.format("%04o", config.socketMode()));
        if (dev) {
            out.println("twofactord (dev mode) listening on " + config.socket());
            out.println("try: echo PING | socat - UNIX-CONNECT:" + config.socket());
            out.flush();
        }
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("stopping");
        server.stop();
        log.info("stopped");
        return ExitCodes.OK;
    }

    /**
     * junixsocket unpacks its native library into a temporary directory; where /tmp is mounted
     * noexec (cPanel's "securetmp"), loading it from there fails. Use the state directory instead.
     */
    private static void nativeLibraryDir(Config config) {
        String property = "org.newsclub.net.unix.library.tmpdir";
        if (System.getProperty(property) != null) {
            return;
        }
        Path dir = config.stateDir().resolve("native");
        try {
            Files.createDirectories(dir);
            System.setProperty(property, dir.toString());
        } catch (java.io.IOException e) {
            log.debug("keeping junixsocket's default library directory: {}", e.getMessage());
        }
    }

    static long currentUid() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return 0;
        }
    }
}
