package org.twofactord.daemon.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.TestDaemon;

/**
 * {@code systemctl restart twofactord}: systemd keeps the listening socket and hands a copy of it to
 * each new service process. Here the test plays systemd: it binds the socket and keeps it, and
 * each daemon gets a duplicate of the descriptor, as fd 3 is one. A daemon that stops must leave
 * the socket listening, so that connections made between two processes wait in its backlog and
 * the next process answers them. (Before the fix the daemon shut the socket down on stop, and the
 * next one got "accept failed: Invalid argument" for good.)
 */
class RestartKeepsTheSocketTest {
    @TempDir
    Path dir;

    private static AFUNIXServerSocket handedTo(AFUNIXServerSocket systemds) throws Exception {
        return SocketActivation.adopt(FileDescriptorCast.duplicating(systemds.getFileDescriptor())
                .as(AFUNIXServerSocket.class));
    }

    @Test
    void restartsAndStopsLeaveSystemdsSocketListening() throws Exception {
        Path socket = dir.resolve("systemd.sock");
        try (AFUNIXServerSocket systemds = AFUNIXServerSocket.newInstance()) {
            systemds.setReuseAddress(false);
            systemds.bind(AFUNIXSocketAddress.of(socket), 16);
            Object made = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
            TestDaemon daemon = new TestDaemon(dir.resolve("d"));
            daemon.start(handedTo(systemds));
            try (Client c = new Client(socket)) {
                c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            }
            for (int restart = 1; restart <= 3; restart++) {
                daemon.stop();
                // Between two service processes a login connects, and waits in the backlog.
                try (Client waiting = new Client(socket)) {
                    waiting.send("PING");
                    daemon.start(handedTo(systemds));
                    assertEquals("OK", waiting.read(), "restart " + restart + ": the waiting login is answered");
                    assertTrue(daemon.accepting(), "restart " + restart);
                }
                try (Client c = new Client(socket)) {
                    c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
                }
            }
            daemon.stop();
            assertEquals(made, Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey(), "the socket file is systemd's, never removed");
        }
    }

    /**
     * A listening socket shut down under the daemon (what the old daemon did to systemd's) makes
     * every accept fail with EINVAL. The daemon must not go on refusing logins while it looks
     * healthy: within {@code ACCEPT_GIVE_UP_MS} it stops accepting (the watchdog then goes
     * unpinged) and tells its owner, which exits so that systemd restarts it.
     */
    @Test
    void aDaemonWhoseAcceptKeepsFailingGivesUp() throws Exception {
        Path socket = dir.resolve("systemd.sock");
        AFUNIXServerSocket systemds = AFUNIXServerSocket.newInstance();
        systemds.bind(AFUNIXSocketAddress.of(socket), 16);
        TestDaemon daemon = new TestDaemon(dir.resolve("d"));
        java.util.concurrent.CountDownLatch gaveUp = new java.util.concurrent.CountDownLatch(1);
        try {
            daemon.start(handedTo(systemds));
            daemon.onAcceptFailed(gaveUp::countDown);
            try (Client c = new Client(socket)) {
                c.expect("PING", "OK");
            }
            assertTrue(daemon.accepting());
            systemds.close(); // junixsocket shuts the shared socket down: accept now fails for good
            assertTrue(gaveUp.await(30, java.util.concurrent.TimeUnit.SECONDS), "the daemon gave up");
            assertEquals(false, daemon.accepting(), "not accepting: the watchdog is no longer pinged");
        } finally {
            daemon.stop();
        }
    }
}
