package org.twofactord.daemon.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;

/**
 * Socket activation without a running systemd: {@code systemd-socket-activate} binds the socket,
 * starts the daemon on the first connection and hands it the socket as fd 3, as systemd does
 * with twofactord.socket. The daemon must serve that socket, bind none of its own, and leave the
 * socket file in place when it stops.
 */
class SocketActivatedDaemonTest {
    @TempDir
    Path dir;

    /** The command is in Debian's systemd package; CI installs it, and there it must not be skipped. */
    static void requireCommand(String command) throws Exception {
        boolean found = new ProcessBuilder("sh", "-c", "command -v " + command).start().waitFor() == 0;
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(found, command + " is missing: run-tests installs it (Debian package systemd)");
        }
        assumeTrue(found, command + " is not installed (Debian package systemd)");
    }

    /** {@code java ... twofactord serve --dev --state-dir DIR}, with this test's class path. */
    static List<String> serve(Path stateDir) {
        return new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m",
                "-cp", System.getProperty("java.class.path"),
                "org.twofactord.daemon.Main", "serve", "--dev", "--state-dir", stateDir.toString()));
    }

    static Object fileKey(Path path) throws Exception {
        return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    @Test
    void theFirstConnectionStartsTheDaemonOnTheSocketItWasHanded() throws Exception {
        requireCommand("systemd-socket-activate");
        Path socket = dir.resolve("activated.sock");
        Path state = dir.resolve("state");
        Path log = dir.resolve("daemon.log");
        List<String> command = new ArrayList<>(List.of("systemd-socket-activate", "-l", socket.toString()));
        command.addAll(serve(state));
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
                assertTrue(process.isAlive(), () -> "systemd-socket-activate exited: " + read(log));
                assertTrue(System.nanoTime() < deadline, "systemd-socket-activate made no socket");
                Thread.sleep(20);
            }
            Object madeBySystemd = fileKey(socket);
            assertFalse(Files.exists(state), "the daemon starts only on the first connection");

            try (Client c = new Client(socket)) {
                c.socket.setSoTimeout(60_000); // this request waits for the JVM to start
                c.expect("PING", "OK");
                c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            }
            String output = read(log);
            assertTrue(output.contains("serving the socket passed by systemd, " + socket), output);
            assertFalse(Files.exists(state.resolve("twofactord.sock"), LinkOption.NOFOLLOW_LINKS),
                    "the daemon bound no socket of its own");
            assertEquals(madeBySystemd, fileKey(socket), "the socket file is the one systemd-socket-activate made");

            process.destroy(); // SIGTERM to the daemon, which systemd-socket-activate exec'd into
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the daemon exits on SIGTERM");
            assertEquals(0, process.exitValue(), read(log));
            assertTrue(read(log).contains("stopped"));
            assertEquals(madeBySystemd, fileKey(socket), "the daemon left systemd's socket file alone");
        } finally {
            process.destroyForcibly();
        }
    }

    static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
