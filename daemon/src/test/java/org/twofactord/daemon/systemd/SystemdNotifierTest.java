package org.twofactord.daemon.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** sd_notify messages reach a datagram socket named by a path or an abstract name. */
class SystemdNotifierTest {
    static final long PID = 4242;

    @TempDir
    Path dir;

    /** Stands in for systemd: a datagram socket that receives the notifications. */
    static final class Listener implements AutoCloseable {
        final AFUNIXDatagramSocket socket;

        Listener(AFUNIXSocketAddress address) throws Exception {
            socket = AFUNIXDatagramSocket.newInstance();
            socket.bind(address);
            socket.setSoTimeout(10_000);
        }

        String next() throws Exception {
            byte[] buf = new byte[4096];
            DatagramPacket packet = new DatagramPacket(buf, buf.length);
            socket.receive(packet);
            return new String(buf, 0, packet.getLength(), StandardCharsets.UTF_8);
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    @Test
    void messagesGoToTheSocketPath() throws Exception {
        Path path = dir.resolve("notify");
        try (Listener systemd = new Listener(AFUNIXSocketAddress.of(path));
             SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", path.toString()), PID)) {
            assertTrue(notifier.enabled());
            notifier.status("opening the store");
            notifier.ready("serving on /run/twofactord/twofactord.sock");
            notifier.stopping("stopping\nnow");
            assertEquals("STATUS=opening the store", systemd.next());
            assertEquals("READY=1\nSTATUS=serving on /run/twofactord/twofactord.sock", systemd.next());
            assertEquals("STOPPING=1\nSTATUS=stopping now", systemd.next(), "a status stays one line");
        }
    }

    @Test
    void anAtSignNamesTheAbstractNamespace() throws Exception {
        String name = "twofactord-test-" + UUID.randomUUID();
        try (Listener systemd = new Listener(AFUNIXSocketAddress.inAbstractNamespace(name));
             SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name), PID)) {
            notifier.ready("serving");
            assertEquals("READY=1\nSTATUS=serving", systemd.next());
        }
    }

    @Test
    void withoutNotifySocketNothingIsSentAndNothingFails() {
        try (SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("WATCHDOG_USEC", "1000000"), PID)) {
            assertFalse(notifier.enabled());
            assertEquals(0, notifier.watchdogIntervalMicros(), "no watchdog without a socket to ping");
            notifier.ready("serving");
            notifier.startWatchdog(() -> true);
            notifier.stopping("stopping");
        }
    }

    @Test
    void aMissingListenerIsLoggedNotThrown() {
        Path nobody = dir.resolve("nobody-listens");
        try (SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", nobody.toString()), PID)) {
            notifier.ready("serving");
            notifier.status("still serving");
        }
    }

    @Test
    void theWatchdogIsPingedAtHalfItsTimeoutWhileAccepting() throws Exception {
        assertEquals(500_000, SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "1000000"), PID));
        assertEquals(500_000, SystemdNotifier.watchdogInterval(
                Map.of("WATCHDOG_USEC", "1000000", "WATCHDOG_PID", "4242"), PID));
        assertEquals(0, SystemdNotifier.watchdogInterval(
                Map.of("WATCHDOG_USEC", "1000000", "WATCHDOG_PID", "4241"), PID), "another process's watchdog");
        assertEquals(0, SystemdNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "soon"), PID));

        Path path = dir.resolve("notify");
        AtomicBoolean accepting = new AtomicBoolean(true);
        CountDownLatch firstTwoRefusals = new CountDownLatch(2);
        CountDownLatch twoRefusalsMore = new CountDownLatch(4);
        try (Listener systemd = new Listener(AFUNIXSocketAddress.of(path));
             SystemdNotifier notifier = SystemdNotifier.fromEnvironment(
                     Map.of("NOTIFY_SOCKET", path.toString(), "WATCHDOG_USEC", "40000"), PID)) {
            assertEquals(20_000, notifier.watchdogIntervalMicros());
            notifier.startWatchdog(() -> {
                if (accepting.get()) {
                    return true;
                }
                firstTwoRefusals.countDown();
                twoRefusalsMore.countDown();
                return false;
            });
            assertEquals("WATCHDOG=1", systemd.next());
            assertEquals("WATCHDOG=1", systemd.next());
            accepting.set(false);
            assertTrue(firstTwoRefusals.await(10, TimeUnit.SECONDS));
            // Pings sent before the switch are queued by now (a Unix datagram arrives on send).
            drain(systemd);
            assertTrue(twoRefusalsMore.await(10, TimeUnit.SECONDS));
            systemd.socket.setSoTimeout(1);
            assertThrows(SocketTimeoutException.class, systemd::next, "no ping while not accepting");
        }
    }

    @Test
    void stoppingEndsThePings() throws Exception {
        Path path = dir.resolve("notify");
        try (Listener systemd = new Listener(AFUNIXSocketAddress.of(path));
             SystemdNotifier notifier = SystemdNotifier.fromEnvironment(
                     Map.of("NOTIFY_SOCKET", path.toString(), "WATCHDOG_USEC", "40000"), PID)) {
            notifier.startWatchdog(() -> true);
            assertEquals("WATCHDOG=1", systemd.next());
            notifier.stopping("stopping");
            String message;
            do {
                message = systemd.next();
            } while (message.equals("WATCHDOG=1"));
            assertEquals("STOPPING=1\nSTATUS=stopping", message);
            systemd.socket.setSoTimeout(200); // ten ping intervals
            assertThrows(SocketTimeoutException.class, systemd::next, "no ping after STOPPING=1");
        }
    }

    private static void drain(Listener systemd) throws Exception {
        systemd.socket.setSoTimeout(1);
        try {
            while (true) {
                assertEquals("WATCHDOG=1", systemd.next());
            }
        } catch (SocketTimeoutException done) {
            // empty now
        }
    }
}
