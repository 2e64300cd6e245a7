package org.twofactord.daemon.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.MutableClock;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.store.PostgresCluster;
import org.twofactord.daemon.store.PostgresServer;
import org.twofactord.daemon.store.StoreException;

/**
 * What a daemon sees of its database's replication, on a real primary with a streaming standby:
 * asynchronous (STATS says so; {@code postgres_synchronous = require} refuses to start), then,
 * with {@code synchronous_standby_names} set on the primary, synchronous (and require starts);
 * with {@code pg_monitor} the daemon's role sees each standby's state and finds the named one
 * missing. A database without a standby, and one waiting for a missing standby:
 * {@link SynchronousCommitTest}.
 */
class ReplicationCheckTest {
    @TempDir
    Path dir;
    final MutableClock clock = MutableClock.atStepStart();
    PostgresCluster cluster;
    TestDaemon daemon;

    @AfterEach
    void stop() {
        if (daemon != null) {
            daemon.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    private TestDaemon daemon(String name, String synchronous) throws Exception {
        TestDaemon d = new TestDaemon(dir.resolve(name), clock).set("postgres_synchronous", synchronous);
        PostgresServer.configure(d, cluster.url(), dir.resolve(name));
        if (daemon != null) {
            Files.createDirectories(d.stateDir());
            Files.copy(daemon.stateDir().resolve("master.key"), d.stateDir().resolve("master.key"));
        }
        return d;
    }

    private String replication() throws Exception {
        try (Client c = daemon.client()) {
            return Json.of(c.call("STATS")).get("store").get("replication").asText();
        }
    }

    private void onThePrimary(String... statements) throws Exception {
        try (Connection c = cluster.primaryConnection(); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        }
    }

    @Test
    void asynchronousIsSeenAndRefusedOnRequestSynchronousIsSeenAndAccepted() throws Exception {
        cluster = PostgresCluster.start(PostgresCluster.Replication.ASYNCHRONOUS);
        daemon = daemon("warned", "warn").start();
        assertEquals("asynchronous", replication());

        TestDaemon strict = daemon("strict", "require");
        StoreException e = assertThrows(StoreException.class, strict::start);
        assertTrue(e.getMessage().contains("postgres_synchronous = require, but 1 standby(s) replicate asynchronously "
                + "from the database " + cluster.url()), e.getMessage());

        PostgresServer.standbyNames(cluster::primaryConnection, "*");
        assertEquals("synchronous", replication());
        strict.start();
        strict.close();

        // With pg_monitor the role sees each standby's state: one named that is not attached
        // leaves every commit waiting, and the daemon says so.
        onThePrimary("GRANT pg_monitor TO " + PostgresServer.ROLE);
        PostgresServer.standbyNames(cluster::primaryConnection, "no_such_standby");
        assertEquals("waiting", replication());
    }
}
