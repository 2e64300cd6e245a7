package org.twofactord.daemon.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.MutableClock;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.PostgresServer;

/**
 * The database hangs (its processes stopped with SIGSTOP: connections are accepted by the kernel
 * and never answered, as with a hung server or a network that drops packets): requests get
 * {@code ERR unavailable} within the PAM module's 5 s, also those that queue behind one another,
 * and never OK; when it runs again, the daemon serves again by itself.
 */
class FrozenDatabaseTest {
    static final int CLIENT_TIMEOUT_MS = 5000;

    @TempDir
    Path dir;
    PostgresServer postgres;
    TestDaemon daemon;

    @BeforeEach
    void start() throws Exception {
        postgres = PostgresServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        try {
            postgres.signal("CONT");
        } finally {
            postgres.close();
        }
    }

    private Client client() throws Exception {
        Client c = daemon.client();
        c.socket.setSoTimeout(CLIENT_TIMEOUT_MS); // a reply later than this fails the test
        return c;
    }

    @Test
    void aHungDatabaseGivesUnavailableWithinTheClientTimeoutAndIsServedAgainAfter() throws Exception {
        MutableClock clock = MutableClock.atStepStart();
        daemon = new TestDaemon(dir.resolve("d"), clock);
        PostgresServer.configure(daemon, postgres.createDatabase(), dir.resolve("d"));
        daemon.start();
        String secret;
        try (Client c = client()) {
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            assertTrue(c.call("CONFIRM alice " + Totp.code(secret, clock, -1)).startsWith("OK"));
        }

        postgres.signal("STOP");
        List<String> requests = List.of("VERIFY alice " + Totp.code(secret, clock, 0), "CHECK alice",
                "POLICY REQUIRE", "UNLOCK alice", "VERIFY alice 000000", "USERS");
        ExecutorService pool = Executors.newFixedThreadPool(requests.size());
        try {
            for (int round = 0; round < 2; round++) {
                List<Future<String>> replies = new ArrayList<>();
                for (String request : requests) {
                    replies.add(pool.submit(() -> {
                        try (Client c = client()) {
                            return c.call(request);
                        }
                    }));
                }
                for (int i = 0; i < requests.size(); i++) {
                    String reply = replies.get(i).get(); // a SocketTimeoutException here is a hang
                    assertTrue(reply.startsWith("ERR unavailable"), requests.get(i) + " while the database hangs: "
                            + reply);
                }
            }
        } finally {
            pool.shutdownNow();
        }

        postgres.signal("CONT");
        try (Client c = client()) {
            long deadline = System.nanoTime() + 30_000_000_000L;
            String reply;
            while (!(reply = c.call("CHECK alice")).startsWith("OK") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertEquals("OK {\"required\":true}", reply);
            c.expect("VERIFY alice " + Totp.code(secret, clock, 0), "OK {\"method\":\"totp\"}");
        }
    }
}
