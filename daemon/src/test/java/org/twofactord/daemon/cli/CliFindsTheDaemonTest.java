package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;

/**
 * The command line finds its daemon (--socket, $TWOFACTORD_SOCKET, --dev from any folder of the
 * checkout) and, when it cannot connect, says which path it tried, why, and what to do.
 */
class CliFindsTheDaemonTest {
    @TempDir
    Path dir;
    TestDaemon daemon;
    Path checkout;

    /** A checkout whose dev daemon runs: ./dev-server, and .twofactord-dev/twofactord.sock (a link to the daemon's). */
    @BeforeEach
    void start() throws Exception {
        daemon = new TestDaemon(dir.resolve("daemon")).start();
        checkout = Files.createDirectories(dir.resolve("checkout"));
        Files.writeString(checkout.resolve("dev-server"), "#!/bin/sh\n");
        Files.createDirectories(checkout.resolve("daemon/src/main"));
        Files.createDirectories(checkout.resolve(".twofactord-dev"));
        Files.createSymbolicLink(checkout.resolve(".twofactord-dev/twofactord.sock"), daemon.socket());
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    @Test
    void devWorksFromAnyFolderOfTheCheckout() {
        for (Path from : new Path[] {checkout, checkout.resolve("daemon"), checkout.resolve("daemon/src/main")}) {
            Cli.Run r = Cli.runIn(from, Map.of(), "status", "--dev");
            assertEquals(0, r.exit(), from + ": " + r.err());
            assertTrue(r.out().contains(" at " + checkout.resolve(".twofactord-dev/twofactord.sock") + "\n"), r.out());
        }
    }

    @Test
    void devOutsideACheckoutSaysWhereItLooked() throws Exception {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere/deeper"));
        assertEquals(new Cli.Run(4, "", "twofactord: --dev: no .twofactord-dev folder (nor a checkout with ./dev-server) in "
                + elsewhere + " or any folder above it: run the command inside the checkout where ./dev-server runs, or "
                + "give --socket PATH\n"), Cli.runIn(elsewhere, Map.of(), "status", "--dev"));
    }

    @Test
    void devInACheckoutWhoseDaemonIsNotRunning() throws Exception {
        Path other = Files.createDirectories(dir.resolve("other/protocol"));
        Files.writeString(dir.resolve("other/dev-server"), "#!/bin/sh\n");
        assertEquals(new Cli.Run(4, "", "twofactord: cannot connect to the daemon at " + dir.resolve("other/.twofactord-dev/"
                + "twofactord.sock") + ": no such file. Is the daemon running? ./dev-server in " + dir.resolve("other")
                + ", and --dev\n"), Cli.runIn(other, Map.of(), "users", "--dev"));
    }

    @Test
    void theEnvironmentNamesTheSocketAndSocketWins() {
        Map<String, String> env = Map.of("TWOFACTORD_SOCKET", daemon.socket().toString());
        Cli.Run r = Cli.runIn(dir, env, "status");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains(" at " + daemon.socket() + "\n"), r.out());
        Cli.Run given = Cli.runIn(dir, env, "status", "--socket", dir.resolve("none.sock").toString());
        assertEquals(4, given.exit());
        assertTrue(given.err().startsWith("twofactord: cannot connect to the daemon at " + dir.resolve("none.sock")),
                given.err());
        Cli.Run bad = Cli.runIn(dir, Map.of("TWOFACTORD_SOCKET", "a\nb"), "status");
        assertEquals(new Cli.Run(2, "", "twofactord: $TWOFACTORD_SOCKET: 'a?b' is not a path: it contains a control "
                + "character\n"), bad);
    }

    @Test
    void noSuchFileSaysIsTheDaemonRunning() {
        assertEquals(new Cli.Run(4, "", "twofactord: cannot connect to the daemon at " + dir.resolve("none.sock")
                + ": no such file. Is the daemon running? systemctl status twofactord, or ./dev-server and --dev\n"),
                Cli.run(dir.resolve("none.sock"), "status"));
    }

    @Test
    void aSocketNobodyListensOnIsNamedSo() throws Exception {
        Path stale = dir.resolve("stale.sock");
        // The JDK's own Unix sockets leave the file behind when closed, as a killed daemon does.
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(stale));
        }
        assertEquals(new Cli.Run(4, "", "twofactord: cannot connect to the daemon at " + stale + ": the socket exists but "
                + "nothing listens (a daemon that stopped without removing it): systemctl restart twofactord.socket\n"),
                Cli.run(stale, "status"));
        Path plain = Files.writeString(dir.resolve("plain"), "");
        assertEquals(new Cli.Run(4, "", "twofactord: cannot connect to the daemon at " + plain + ": it is a file, not a "
                + "socket: --socket names the daemon's socket (/run/twofactord/twofactord.sock)\n"), Cli.run(plain, "status"));
    }

    @Test
    void aDaemonThatDoesNotAnswerIsATimeout() throws Exception {
        Path silent = dir.resolve("silent.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(silent)); // listening, never answering
            assertEquals(new Cli.Run(4, "", "twofactord: cannot connect to the daemon at " + silent + ": no answer within "
                    + "1 s: the daemon may be overloaded or stuck (systemctl status twofactord); --timeout SECONDS "
                    + "waits longer\n"), Cli.run(silent, "status", "--timeout", "1"));
        }
    }
}
