package org.twofactord.daemon.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
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
import org.twofactord.daemon.store.StoreException;

/**
 * A database that waits for a synchronous standby that is not there (its
 * {@code synchronous_standby_names} names one, none is attached): a commit is then on the
 * primary only, and a failover could forget it. The daemon answers such a request
 * {@code ERR unavailable}, never OK, within the client's time, and leaves no server process
 * waiting for the standby (statement_timeout does not end that wait: the daemon cancels it).
 * STATS tells what the daemon sees of the replication, and {@code postgres_synchronous = require}
 * refuses a database that replicates to no standby.
 */
class SynchronousCommitTest {
    @TempDir
    Path dir;
    final MutableClock clock = MutableClock.atStepStart();
    PostgresServer postgres;
    String url;
    TestDaemon daemon;

    @BeforeEach
    void start() throws Exception {
        postgres = PostgresServer.start(); // its own: the test changes the server's settings
        url = postgres.createDatabase();
        daemon = new TestDaemon(dir.resolve("one"), clock);
        PostgresServer.configure(daemon, url, dir.resolve("one"));
        daemon.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        postgres.close();
    }

    private int waitingForAStandby() throws Exception {
        try (Connection c = postgres.superuser("postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private String replication(Client c) throws Exception {
        return Json.of(c.call("STATS")).get("store").get("replication").asText();
    }

    @Test
    void aCommitNoStandbyConfirmedIsAnsweredUnavailableAndNothingWaitsForTheStandby() throws Exception {
        String secret;
        try (Client c = daemon.client()) {
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            assertTrue(c.call("CONFIRM alice " + Totp.code(secret, clock, -1)).startsWith("OK "));
            assertEquals("none", replication(c));
        }
        PostgresServer.standbyNames(() -> postgres.superuser("postgres"), "absent_standby");
        String code = Totp.code(secret, clock, 0);
        try (Client c = daemon.client()) {
            long start = System.nanoTime();
            String reply = c.call("VERIFY alice " + code);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(reply.startsWith("ERR unavailable"), reply);
            assertTrue(ms < 4000, "answered in " + ms + " ms, within the PAM module's 5 s");
            assertEquals("waiting", replication(c));
        }
        // The cancelled wait ended at once; without the cancel it would last until a standby came.
        long deadline = System.nanoTime() + 3_000_000_000L;
        while (waitingForAStandby() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, waitingForAStandby(), "no server process left waiting for a standby");

        PostgresServer.standbyNames(() -> postgres.superuser("postgres"), null);
        try (Client c = daemon.client()) {
            // The commit stands on the primary: the code is used up, never accepted.
            c.expect("VERIFY alice " + code, "NO replayed");
            c.expect("VERIFY alice " + Totp.code(secret, clock, 1), "OK {\"method\":\"totp\"}");
            assertEquals("none", replication(c));
        }
    }

    @Test
    void requireRefusesADatabaseWithoutAStandby() throws Exception {
        TestDaemon strict = new TestDaemon(dir.resolve("strict"), clock).set("postgres_synchronous", "require");
        PostgresServer.configure(strict, url, dir.resolve("strict"));
        Files.createDirectories(strict.stateDir());
        Files.copy(daemon.stateDir().resolve("master.key"), strict.stateDir().resolve("master.key"));
        StoreException e = assertThrows(StoreException.class, strict::start);
        assertTrue(e.getMessage().contains("postgres_synchronous = require, but the database " + url
                + " replicates to no standby (synchronous_standby_names = '')"), e.getMessage());
    }
}
