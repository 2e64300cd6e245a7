package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.postgres.PostgresStore;

/**
 * A writer batch of several changes on PostgreSQL: its users are read and locked in one
 * statement, its user writes reach the server in one round trip (counted on the wire by a proxy),
 * and a held write that does not change exactly its row fails the whole batch closed.
 */
class PostgresBatchTest {
    static PostgresServer server;
    static final long NOW = 1_000_000;
    static final int USERS = 20;

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.shared(); // stopped when the test JVM ends
    }

    private static MasterKey newKey() {
        SecureRandom random = new SecureRandom();
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        random.nextBytes(raw);
        return MasterKey.of(raw, random);
    }

    private static String database(String url) {
        return url.substring(url.lastIndexOf('/') + 1);
    }

    private static UserRecord fresh(MasterKey key) {
        return new UserRecord(key.seal("x", new byte[20]), 1, 0, 0, 0, 0, 1, 0, new byte[0], 0);
    }

    /** Holds the writer busy until the returned latch is counted down, so that what is submitted meanwhile is one batch. */
    private static CountDownLatch holdWriter(Writer w) throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        w.submit(s -> {
            started.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return null;
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        return release;
    }

    @Test
    void aBatchOfManyUsersTakesThreeRoundTripsNotOneAStatement() throws Exception {
        MasterKey key = newKey();
        String url = server.createDatabase();
        try (RoundTripProxy proxy = new RoundTripProxy(server.port);
             PostgresStore store = PostgresStore.open("jdbc:postgresql://127.0.0.1:" + proxy.port() + "/"
                     + database(url), PostgresServer.credentials(), key)) {
            Writer w = new Writer(store);
            try {
                UserRecord fresh = fresh(key);
                w.submit(s -> {
                    for (int i = 0; i < USERS; i++) {
                        s.putUser("u" + i, fresh);
                    }
                    return null;
                }).get(10, TimeUnit.SECONDS);

                CountDownLatch release = holdWriter(w);
                List<CompletableFuture<Boolean>> accepted = new ArrayList<>();
                for (int i = 0; i < USERS; i++) {
                    String name = "u" + i;
                    accepted.add(w.submit(name, s -> s.acceptStep(name, 1, 100, NOW)));
                }
                // The same code again in the same batch: the batch's own write decides.
                CompletableFuture<Boolean> replay = w.submit("u0", s -> s.acceptStep("u0", 1, 100, NOW));
                // A failure counted after the accept, on the row as the batch left it.
                CompletableFuture<Integer> failure = w.submit("u1", s -> {
                    UserRecord r = s.user("u1").orElseThrow();
                    s.putUser("u1", r.withFailures(r.failures() + 1, 0, 0));
                    return r.failures() + 1;
                });
                // A user nobody named ahead, and none there: inserted when the batch has it.
                CompletableFuture<Boolean> absent = w.submit("nobody", s -> s.acceptStep("nobody", 1, 100, NOW));
                long before = proxy.roundTrips();
                release.countDown();
                for (CompletableFuture<Boolean> f : accepted) {
                    assertTrue(f.get(10, TimeUnit.SECONDS));
                }
                assertFalse(replay.get(10, TimeUnit.SECONDS), "replayed within the batch");
                assertEquals(1, failure.get(10, TimeUnit.SECONDS));
                assertFalse(absent.get(10, TimeUnit.SECONDS));
                long trips = proxy.roundTrips() - before;
                // The SELECT ... FOR UPDATE of all 21 names, one JDBC batch of 22 writes, COMMIT;
                // one a statement would be 23 and more.
                assertTrue(trips <= 3, "the batch of " + (USERS + 3) + " changes took " + trips + " round trips");

                for (int i = 0; i < USERS; i++) {
                    UserRecord r = store.user("u" + i).orElseThrow();
                    assertEquals(100, r.lastStep(), "u" + i);
                    assertEquals(NOW, r.lastUsedAt(), "u" + i);
                    assertEquals(i == 1 ? 1 : 0, r.failures(), "u" + i);
                }
                assertTrue(store.user("nobody").isEmpty());
                assertNull(w.broken());
            } finally {
                w.close();
            }
        }
    }

    @Test
    void aBatchWhoseRowsAreReadAheadStillReadsItsOwnWritesFromOtherStatements() throws Exception {
        MasterKey key = newKey();
        String url = server.createDatabase();
        try (PostgresStore store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            Writer w = new Writer(store);
            try {
                UserRecord fresh = fresh(key);
                CountDownLatch release = holdWriter(w);
                CompletableFuture<Boolean> made = w.submit("carol", s -> {
                    s.putUser("carol", fresh); // held back: carol had no row
                    return true;
                });
                // A change naming nobody: its reads go to the database, after the held writes.
                CompletableFuture<List<String>> seen = w.submit(s -> {
                    List<String> names = new ArrayList<>(s.names());
                    names.add("count=" + s.userCount());
                    s.removeUser("carol");
                    return names;
                });
                CompletableFuture<Boolean> after = w.submit("carol", s -> s.user("carol").isEmpty());
                release.countDown();
                assertTrue(made.get(10, TimeUnit.SECONDS));
                assertEquals(List.of("carol", "count=1"), seen.get(10, TimeUnit.SECONDS));
                assertTrue(after.get(10, TimeUnit.SECONDS), "the removal is seen by the batch's later change");
                assertTrue(store.user("carol").isEmpty());
            } finally {
                w.close();
            }
        }
    }

    @Test
    void aBatchThatFailsOutsideTheDatabaseLeavesNothingForTheNextCommit() throws Exception {
        MasterKey key = newKey();
        String url = server.createDatabase();
        try (PostgresStore store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            Writer w = new Writer(store);
            try {
                UserRecord fresh = fresh(key);
                w.submit(s -> {
                    s.putUser("alice", fresh);
                    s.putUser("bob", fresh);
                    return null;
                }).get(10, TimeUnit.SECONDS);
                CountDownLatch release = holdWriter(w);
                CompletableFuture<Boolean> counted = w.submit("alice", s -> {
                    s.putUser("alice", fresh.withFailures(4, 0, 0)); // held back
                    return true;
                });
                CompletableFuture<Boolean> other = w.submit("bob", s -> s.user("bob").isPresent());
                CompletableFuture<Object> broken = w.submit(s -> {
                    s.names(); // sends alice's held write
                    throw new StoreUnavailable(new StoreTransient("injected: a failure outside the database", false, null));
                });
                release.countDown();
                for (CompletableFuture<?> f : List.of(counted, other, broken)) {
                    try {
                        f.get(10, TimeUnit.SECONDS);
                        fail("a change of the failed batch was answered");
                    } catch (ExecutionException e) {
                        assertInstanceOf(StoreTransient.class, e.getCause(), e.toString());
                    }
                }
                // The next batch, one change alone, commits: nothing of the failed one may go with it.
                w.submit(s -> {
                    s.putUser("bob", fresh.withFailures(1, 0, 0));
                    return null;
                }).get(10, TimeUnit.SECONDS);
                assertEquals(0, store.user("alice").orElseThrow().failures(), "the failed batch's write was committed");
                assertEquals(1, store.user("bob").orElseThrow().failures());
            } finally {
                w.close();
            }
        }
    }

    @Test
    void aHeldWriteThatChangesNoRowFailsTheWholeBatchClosed() throws Exception {
        MasterKey key = newKey();
        String url = server.createDatabase();
        try (PostgresStore store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            Writer w = new Writer(store);
            try {
                UserRecord fresh = fresh(key);
                w.submit(s -> {
                    s.putUser("alice", fresh);
                    s.putUser("mallory", fresh);
                    s.putUser("bob", fresh);
                    return null;
                }).get(10, TimeUnit.SECONDS);
                // Something the daemon does not know of swallows every update of mallory's row, as a
                // row changed behind the lock would make the compare-and-set miss.
                try (Connection c = server.superuser(database(url)); Statement st = c.createStatement()) {
                    st.execute("CREATE FUNCTION swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                            + "IF NEW.name = 'mallory' THEN RETURN NULL; END IF; RETURN NEW; END $$");
                    st.execute("CREATE TRIGGER swallow BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION swallow()");
                }
                CountDownLatch release = holdWriter(w);
                List<CompletableFuture<Boolean>> batch = new ArrayList<>();
                for (String name : List.of("alice", "mallory", "bob")) {
                    batch.add(w.submit(name, s -> s.acceptStep(name, 1, 100, NOW)));
                }
                release.countDown();
                for (CompletableFuture<Boolean> f : batch) {
                    try {
                        Boolean answer = f.get(10, TimeUnit.SECONDS);
                        fail("a change of the failed batch was answered " + answer);
                    } catch (ExecutionException e) {
                        assertInstanceOf(StoreTransient.class, e.getCause(), e.toString());
                    }
                }
                for (String name : List.of("alice", "mallory", "bob")) {
                    assertEquals(0, store.user(name).orElseThrow().lastStep(), name + ": nothing committed");
                }
                assertNull(w.broken(), "the store carries on");

                try (Connection c = server.superuser(database(url)); Statement st = c.createStatement()) {
                    st.execute("DROP TRIGGER swallow ON users");
                }
                release = holdWriter(w);
                batch.clear();
                for (String name : List.of("alice", "mallory", "bob")) {
                    batch.add(w.submit(name, s -> s.acceptStep(name, 1, 100, NOW)));
                }
                release.countDown();
                for (CompletableFuture<Boolean> f : batch) {
                    assertTrue(f.get(10, TimeUnit.SECONDS));
                }
                assertEquals(100, store.user("mallory").orElseThrow().lastStep());
            } finally {
                w.close();
            }
        }
    }
}
