package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.legacy.MapDbStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Group commit: outcomes are released only after the commit that covers them, and fail with it. */
class WriterTest {
    @TempDir
    Path dir;

    /** A real store whose commit waits for the test's permission and can be made to fail. */
    static final class GatedStore extends StoreFailureTest.FailingStore {
        final Semaphore permits = new Semaphore(0);
        final CountDownLatch committing = new CountDownLatch(1);
        final AtomicInteger commits = new AtomicInteger();

        GatedStore(Store inner, AtomicBoolean fail) {
            super(inner, fail);
        }

        final AtomicInteger syncs = new AtomicInteger();

        @Override
        public void sync(java.util.Collection<String> names) throws StoreException {
            syncs.incrementAndGet();
            super.sync(names);
        }

        @Override
        public void commit() throws StoreException {
            committing.countDown();
            permits.acquireUninterruptibly();
            commits.incrementAndGet();
            super.commit();
        }
    }

    private GatedStore open(AtomicBoolean fail) throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        return new GatedStore(MapDbStore.open(dir.resolve("t.db"), key), fail);
    }

    @Test
    void aSyncedChangeIsAnsweredAfterItsSyncAndCommittedWithinTheLazyDelay() throws Exception {
        GatedStore store = open(new AtomicBoolean());
        store.permits.release(1000);
        Writer writer = new Writer(store);
        try {
            MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
            UserRecord alice = new UserRecord(key.seal("alice", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
            int commitsBefore = store.commits.get();
            String outcome = writer.submitSynced("alice", s -> {
                s.putUser("alice", alice);
                return "accepted";
            }).get(5, TimeUnit.SECONDS);
            assertEquals("accepted", outcome);
            assertEquals(1, store.syncs.get(), "answered after one sync");
            assertEquals(commitsBefore, store.commits.get(), "no commit before the answer");
            Thread.sleep(Writer.LAZY_COMMIT_MS * 3);
            assertEquals(commitsBefore + 1, store.commits.get(), "committed within the lazy delay");
        } finally {
            writer.close();
            store.close();
        }
    }

    @Test
    void outcomesWaitForTheirCommitAndAWaitingBatchSharesOne() throws Exception {
        GatedStore store = open(new AtomicBoolean());
        Writer writer = new Writer(store);
        try {
            CompletableFuture<String> first = writer.submit(s -> {
                s.putMeta("a", "1");
                return "first";
            });
            assertTrue(store.committing.await(5, TimeUnit.SECONDS));
            // While the first commit hangs, more changes queue up.
            List<CompletableFuture<Integer>> waiting = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int n = i;
                waiting.add(writer.submit(s -> {
                    s.putMeta("k" + n, "v");
                    return n;
                }));
            }
            Thread.sleep(100);
            assertFalse(first.isDone(), "no outcome before its commit");
            waiting.forEach(f -> assertFalse(f.isDone()));
            store.permits.release(100);
            assertEquals("first", first.get(5, TimeUnit.SECONDS));
            for (int i = 0; i < 20; i++) {
                assertEquals(i, waiting.get(i).get(5, TimeUnit.SECONDS));
            }
            assertEquals(2, store.commits.get(), "the 20 waiting changes shared one commit");
        } finally {
            store.permits.release(100);
            writer.close();
            store.close();
        }
    }

    @Test
    void aFailedCommitFailsEveryChangeOfItsBatchAndKeepsNoneOfThem() throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        GatedStore store = open(fail);
        Writer writer = new Writer(store);
        try {
            CompletableFuture<Object> hold = writer.submit(s -> null);
            assertTrue(store.committing.await(5, TimeUnit.SECONDS));
            List<CompletableFuture<Object>> batch = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                int n = i;
                batch.add(writer.submit(s -> {
                    s.putMeta("lost" + n, "v");
                    return null;
                }));
            }
            Thread.sleep(100);
            store.permits.release(100);
            for (CompletableFuture<Object> f : batch) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
                assertInstanceOf(StoreException.class, e.getCause());
            }
            assertThrows(ExecutionException.class, () -> hold.get(5, TimeUnit.SECONDS));
            for (int i = 0; i < 5; i++) {
                assertTrue(store.meta("lost" + i).isEmpty(), "never applied: the store was already broken");
            }
        } finally {
            store.permits.release(100);
            writer.close();
            store.close();
        }
    }

    @Test
    void aLazyChangeIsToldAtOnceAndCommittedWithinTheDelay() throws Exception {
        GatedStore store = open(new AtomicBoolean());
        store.permits.release(1000);
        Writer writer = new Writer(store);
        try {
            long start = System.nanoTime();
            assertEquals("no", writer.submitLazy(s -> {
                s.putMeta("failures", "1");
                return "no";
            }).get(5, TimeUnit.SECONDS));
            assertTrue(store.meta("failures").isPresent(), "applied before it is told");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (store.commits.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(1, store.commits.get(), "committed by the writer's deadline");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(Writer.LAZY_COMMIT_MS) / 2,
                    "not committed at once: lazy changes wait to share a commit");
        } finally {
            writer.close();
            store.close();
        }
    }

    @Test
    void withoutGroupCommitEveryChangeHasItsOwnCommit() throws Exception {
        GatedStore store = open(new AtomicBoolean());
        store.permits.release(1000);
        Writer writer = new Writer(store, false);
        try {
            List<CompletableFuture<Object>> all = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                all.add(writer.submit(s -> null));
                all.add(writer.submitLazy(s -> null));
            }
            for (CompletableFuture<Object> f : all) {
                f.get(5, TimeUnit.SECONDS);
            }
            assertEquals(20, store.commits.get());
        } finally {
            writer.close();
            store.close();
        }
    }
}
