package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.postgres.PostgresStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The schema is made by the daemon under an advisory lock, once, and a newer one is refused. */
class PostgresSchemaTest {
    static PostgresServer server;
    static final SecureRandom RANDOM = new SecureRandom();

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.shared(); // stopped when the test JVM ends
    }

    static MasterKey newKey() {
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        RANDOM.nextBytes(raw);
        return MasterKey.of(raw, RANDOM);
    }

    private static String database(String url) {
        return url.substring(url.lastIndexOf('/') + 1);
    }

    @Test
    void daemonsStartingTogetherOnANewDatabaseApplyTheSchemaOnce() throws Exception {
        String url = server.createDatabase();
        MasterKey key = newKey();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<PostgresStore>> opening = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                opening.add(pool.submit(() -> {
                    go.await();
                    return PostgresStore.open(url, PostgresServer.credentials(), key);
                }));
            }
            go.countDown();
            for (Future<PostgresStore> f : opening) {
                f.get().close();
            }
        } finally {
            pool.shutdownNow();
        }
        try (Connection c = server.superuser(database(url)); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version FROM schema_version ORDER BY version")) {
            for (int v = 1; v <= PostgresStore.SCHEMA_VERSION; v++) {
                assertTrue(rs.next());
                assertEquals(v, rs.getInt(1));
            }
            assertTrue(!rs.next(), "each migration applied once");
        }
    }

    @Test
    void aVersionOneDatabaseIsUpgradedWithItsData() throws Exception {
        String url = server.createDatabase();
        MasterKey key = newKey();
        try (PostgresStore store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            store.putMeta(org.twofactord.daemon.store.Store.META_POLICY, "optional");
            store.commit();
        }
        // Back to what twofactord before schema 2 left: no table of required marks.
        try (Connection c = server.superuser(database(url)); Statement st = c.createStatement()) {
            st.execute("DROP TABLE required");
            st.execute("DELETE FROM schema_version WHERE version = 2");
        }
        try (PostgresStore store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            assertEquals("optional", store.meta(org.twofactord.daemon.store.Store.META_POLICY).orElseThrow());
            store.setRequired("alice", true);
            store.commit();
            assertTrue(store.required("alice"));
            assertEquals(java.util.List.of("alice"), store.requiredNames());
        }
    }

    @Test
    void aNewerSchemaThanTheCodeKnowsIsRefused() throws Exception {
        String url = server.createDatabase();
        MasterKey key = newKey();
        PostgresStore.open(url, PostgresServer.credentials(), key).close();
        try (Connection c = server.superuser(database(url)); Statement st = c.createStatement()) {
            st.execute("INSERT INTO schema_version (version) VALUES (" + (PostgresStore.SCHEMA_VERSION + 1) + ")");
        }
        StoreException e = assertThrows(StoreException.class,
                () -> PostgresStore.open(url, PostgresServer.credentials(), key));
        assertTrue(e.getMessage().contains("has schema version " + (PostgresStore.SCHEMA_VERSION + 1)
                + ", newer than this twofactord understands"), e.getMessage());
    }

    @Test
    void anUnreachableDatabaseRefusesTheStartAtOnce() {
        StoreException e = assertThrows(StoreException.class, () -> PostgresStore.open(
                "jdbc:postgresql://127.0.0.1:1/none", PostgresServer.credentials(), newKey()));
        assertTrue(e.getMessage().contains("unreachable"), e.getMessage());
    }
}
