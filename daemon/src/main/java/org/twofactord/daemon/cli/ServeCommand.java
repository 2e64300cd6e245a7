package org.twofactord.daemon.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.NssUserDatabase;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.config.ConfigException;
import org.twofactord.daemon.config.ConfigLoader;
import org.twofactord.daemon.server.Server;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.systemd.SocketActivation;
import org.twofactord.daemon.systemd.SystemdNotifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import sun.misc.Signal;

/**
 * {@code twofactord serve}: run the daemon in the foreground until SIGTERM or SIGINT. Under systemd
 * it serves the socket systemd passes and reports its state over {@code NOTIFY_SOCKET}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the daemon in the foreground until SIGTERM or SIGINT.",
            "Logs go to standard error, one line per event; audit lines come from the logger 'twofactord.audit'.",
            "Started by systemd (twofactord.socket), it serves the socket systemd passes (LISTEN_FDS) instead of "
                + "binding one, and reports readiness and status over NOTIFY_SOCKET."})
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

    /**
     * The command that talks to this dev daemon: the repository's launcher says how it was called
     * ({@code -Dtwofactord.command=./twofactord}); the installed one is just {@code twofactord}.
     */
    static String devClientHint(Path socketPath) {
        String command = System.getProperty("twofactord.command", "twofactord");
        Path devSocket = Config.DEV_DIR.resolve(Config.SOCKET_NAME).toAbsolutePath().normalize();
        boolean defaultSocket = socketPath.toAbsolutePath().normalize().equals(devSocket);
        return command + " status " + (defaultSocket ? "--dev" : "--socket " + socketPath);
    }

    @Override
    public Integer call() {
        Map<String, String> env = System.getenv();
        long pid = ProcessHandle.current().pid();
        try (SystemdNotifier systemd = SystemdNotifier.fromEnvironment(env, pid)) {
            return serve(env, pid, systemd);
        }
    }

    private int serve(Map<String, String> env, long pid, SystemdNotifier systemd) {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Config config;
        try {
            config = ConfigLoader.load(new ConfigLoader.Flags(socket, stateDir, configFile, dev));
        } catch (ConfigException e) {
            return fail(err, systemd, "bad configuration: " + e.getMessage(), ExitCodes.CONFIG);
        }
        // Before the first use of junixsocket, the systemd socket and NOTIFY_SOCKET included.
        nativeLibraryDir(config);
        systemd.status("opening the store in " + config.stateDir());
        long rootUid = dev ? currentUid() : 0;
        Server server;
        Optional<AFUNIXServerSocket> inherited = Optional.empty();
        try {
            inherited = SocketActivation.inherited(env, pid);
            Server.Options options = new Server.Options(Clock.systemUTC(), new SecureRandom(),
                    new NssUserDatabase(), rootUid, Server.configured(config), Version.get());
            server = inherited.isPresent() ? Server.start(config, options, inherited.get())
                    : Server.start(config, options);
        } catch (StoreException | java.io.IOException e) {
            return fail(err, systemd, "cannot start: " + e.getMessage(), ExitCodes.UNAVAILABLE);
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        java.util.concurrent.atomic.AtomicBoolean storeBroken = new java.util.concurrent.atomic.AtomicBoolean();
        server.onStoreBroken(() -> {
            // Fail-stop: a restart reopens the store from its last commit (systemd: Restart=on-failure).
            storeBroken.set(true);
            stop.countDown();
        });
        java.util.concurrent.atomic.AtomicBoolean acceptFailed = new java.util.concurrent.atomic.AtomicBoolean();
        server.onAcceptFailed(() -> {
            acceptFailed.set(true);
            stop.countDown();
        });
        if (inherited.isPresent()) {
            log.info("twofactord {} serving the socket passed by systemd, {} (state {}); the configuration's "
                    + "socket, socket_mode and socket_group do not apply: twofactord.socket sets them",
                    Version.get(), server.socketPath(), config.stateDir());
        } else {
            log.info("twofactord {} listening on {} (state {}, mode {})", Version.get(), server.socketPath(),
                    config.stateDir(), String.format("%04o", config.socketMode()));
        }
        if (dev) {
            out.println("twofactord (dev mode) listening on " + server.socketPath());
            out.println("in another terminal: " + devClientHint(server.socketPath()));
            out.println("or speak the protocol (docs/protocol.md): socat - UNIX-CONNECT:" + server.socketPath());
            out.flush();
        }
        // The store is open and the accept loop runs: connections queued by systemd meanwhile
        // are being answered.
        systemd.ready("serving on " + server.socketPath());
        systemd.startWatchdog(server::accepting);
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("stopping");
        systemd.stopping("stopping: finishing requests in flight and closing the store");
        server.stop();
        if (storeBroken.get()) {
            log.error("stopped because a store write failed; start twofactord again (its service manager does) "
                    + "to continue from the last commit");
            return ExitCodes.STORE_FAILED;
        }
        if (acceptFailed.get()) {
            log.error("stopped because accepting connections kept failing; its service manager starts it again");
            return ExitCodes.SOCKET_FAILED;
        }
        log.info("stopped");
        return ExitCodes.OK;
    }

    /** Says why start-up failed, on standard error and in {@code systemctl status}. */
    private static int fail(PrintWriter err, SystemdNotifier systemd, String why, int exitCode) {
        err.println("twofactord: " + why);
        err.flush();
        systemd.status(why);
        return exitCode;
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
