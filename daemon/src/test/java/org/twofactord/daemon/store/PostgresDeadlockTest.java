package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.postgres.PostgresStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two daemons' writers lock two rows in opposite orders: PostgreSQL breaks the deadlock by
 * failing one transaction (SQLSTATE 40P01); that writer rolls back and applies its whole batch
 * again, so both batches succeed, nothing is answered twice and no update is lost.
 */
class PostgresDeadlockTest {
    static PostgresServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.shared(); // stopped when the test JVM ends
    }

    /** Reads {@code first} FOR UPDATE, waits until the other writer holds its row, then takes {@code second}. */
    private static Writer.Change<String> crossing(String first, String second, CountDownLatch mine,
                                                  CountDownLatch theirs, AtomicInteger applied) {
        return s -> {
            applied.incrementAndGet();
            UserRecord a = s.user(first).orElseThrow();
            mine.countDown();
            try {
                assertTrue(theirs.await(10, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            UserRecord b = s.user(second).orElseThrow();
            s.putUser(first, a.withFailures(a.failures() + 1, 0, 0));
            s.putUser(second, b.withFailures(b.failures() + 1, 0, 0));
            return first + " then " + second;
        };
    }

    @Test
    void aDeadlockBetweenTwoWritersIsRolledBackAndTheLosingBatchAppliedAgain() throws Exception {
        SecureRandom random = new SecureRandom();
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        random.nextBytes(raw);
        MasterKey key = MasterKey.of(raw, random);
        String url = server.createDatabase();
        try (PostgresStore one = PostgresStore.open(url, PostgresServer.credentials(), key);
             PostgresStore two = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            Writer w1 = new Writer(one);
            Writer w2 = new Writer(two);
            try {
                UserRecord fresh = new UserRecord(key.seal("x", new byte[20]), 1, 0, 0, 0, 0, 1, 0, new byte[0], 0);
                w1.submit(s -> {
                    s.putUser("alice", fresh);
                    s.putUser("bob", fresh);
                    return null;
                }).get(10, TimeUnit.SECONDS);
                CountDownLatch aliceHeld = new CountDownLatch(1);
                CountDownLatch bobHeld = new CountDownLatch(1);
                AtomicInteger applied = new AtomicInteger();
                CompletableFuture<String> f1 = w1.submit(crossing("alice", "bob", aliceHeld, bobHeld, applied));
                CompletableFuture<String> f2 = w2.submit(crossing("bob", "alice", bobHeld, aliceHeld, applied));
                assertEquals("alice then bob", f1.get(20, TimeUnit.SECONDS));
                assertEquals("bob then alice", f2.get(20, TimeUnit.SECONDS));
                // At least one batch was applied again; the retry can meet the other batch once
                // more (a row lock is not queued fairly after an abort), and is retried again.
                assertTrue(applied.get() >= 3, "a batch was applied again: " + applied.get());
                assertEquals(2, one.user("alice").orElseThrow().failures(), "no update lost");
                assertEquals(2, two.user("bob").orElseThrow().failures(), "no update lost");
                assertEquals(null, w1.broken());
                assertEquals(null, w2.broken());
            } finally {
                w1.close();
                w2.close();
            }
        }
    }

    @Test
    void aChangeThatFailsOnItsOwnReleasesTheRowsItLocked() throws Exception {
        SecureRandom random = new SecureRandom();
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        random.nextBytes(raw);
        MasterKey key = MasterKey.of(raw, random);
        String url = server.createDatabase();
        try (PostgresStore one = PostgresStore.open(url, PostgresServer.credentials(), key);
             PostgresStore two = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            Writer w1 = new Writer(one);
            Writer w2 = new Writer(two);
            try {
                UserRecord fresh = new UserRecord(key.seal("x", new byte[20]), 1, 0, 0, 0, 0, 1, 0, new byte[0], 0);
                w1.submit(s -> {
                    s.putUser("alice", fresh);
                    return null;
                }).get(10, TimeUnit.SECONDS);
                CompletableFuture<Object> failing = w1.submit(s -> {
                    s.user("alice"); // locks the row
                    throw new IllegalStateException("this change's own failure");
                });
                assertThrows(java.util.concurrent.ExecutionException.class, () -> failing.get(10, TimeUnit.SECONDS));
                // The other daemon's writer must get the row well within lock_timeout.
                assertEquals("written", w2.submit(s -> {
                    s.putUser("alice", s.user("alice").orElseThrow().withFailures(1, 0, 0));
                    return "written";
                }).get(10, TimeUnit.SECONDS));
                assertEquals(1, one.user("alice").orElseThrow().failures());
            } finally {
                w1.close();
                w2.close();
            }
        }
    }
}
