package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.TestDaemon;

/** Connection limits and timeouts, over a real socket. */
class LimitsTest {
    @TempDir
    Path dir;

    @Test
    void idleConnectionIsClosedAfterTheTimeout() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).set("idle_timeout_s", "1").start();
             Client c = daemon.client()) {
            c.expect("PING", "OK");
            long start = System.nanoTime();
            assertNull(c.read(), "the server closes an idle connection");
            long waitedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(waitedMs >= 900, "closed too early: " + waitedMs + " ms");
        }
    }

    @Test
    void clientStalledMidLineIsClosedAtTheSameTimeout() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).set("idle_timeout_s", "1").start();
             Client c = daemon.client()) {
            // Drip a byte every 300 ms: each read succeeds, but the line never completes.
            long start = System.nanoTime();
            boolean closed = false;
            for (int i = 0; i < 20 && !closed; i++) {
                try {
                    c.sendRaw("P".getBytes(StandardCharsets.US_ASCII));
                    c.socket.setSoTimeout(300);
                    closed = c.read() == null;
                } catch (java.net.SocketTimeoutException e) {
                    // still open
                } catch (java.io.IOException e) {
                    closed = true;
                }
            }
            long waitedMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(closed, "a client that never finishes its line is closed");
            assertTrue(waitedMs < 3000, "closed only after " + waitedMs + " ms");
        }
    }

    /**
     * A client that sends its request at once and reads only later (what a PAM module or a web
     * login does) still gets the busy reply: closing with its request unread would reset the
     * connection and drop the reply from under it.
     */
    @Test
    void aRefusedClientThatSentItsRequestFirstStillReadsBusy() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).set("max_connections", "1").start();
             Client held = daemon.client()) {
            held.expect("PING", "OK");
            for (int i = 0; i < 20; i++) {
                try (Client extra = daemon.client()) {
                    extra.send("VERIFY alice 123456");
                    Thread.sleep(30); // the daemon has answered and closed by now
                    assertEquals("ERR busy too many connections", extra.read(), "attempt " + i);
                }
            }
        }
    }

    @Test
    void overTheConnectionLimitIsBusyAndRecoversAfter() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).set("max_connections", "3").start()) {
            List<Client> held = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Client c = daemon.client();
                c.expect("PING", "OK");
                held.add(c);
            }
            try (Client extra = daemon.client()) {
                assertEquals("ERR busy too many connections", extra.read());
                assertNull(extra.read());
            }
            held.remove(0).close();
            // The freed slot is released when its session ends; give it a moment without sleeping blindly.
            String reply = null;
            for (int i = 0; i < 50 && !"OK".equals(reply); i++) {
                try (Client again = daemon.client()) {
                    reply = again.call("PING");
                } catch (java.io.IOException e) {
                    reply = e.toString(); // refused as busy before the slot was free: the write found it closed
                }
                if (!"OK".equals(reply)) {
                    Thread.onSpinWait();
                    Thread.sleep(20);
                }
            }
            assertEquals("OK", reply);
            for (Client c : held) {
                c.close();
            }
        }
    }
}
