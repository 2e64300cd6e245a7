package org.twofactord.daemon.store.legacy;

import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The record cache in front of MapDB: a reader never sees a record older than one already written,
 * nor a removed user, however its read interleaves with the writer's; and the cache stays bounded
 * without losing anything.
 */
class StoreCacheTest {
    @TempDir
    Path dir;

    private MasterKey key;

    private UserRecord record(long lastStep) {
        return new UserRecord(key.seal("u", new byte[20]), 1, lastStep, 0, 0, 0, 1_700_000_000L, 0, new byte[0], 0);
    }

    @Test
    void readersRacingTheWriterNeverSeeAnOlderRecordOrARemovedUser() throws Exception {
        key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        try (MapDbStore store = MapDbStore.open(dir.resolve("twofactord.db"), key)) {
            for (int i = 0; i < 50; i++) {
                store.putUser("other" + i, record(1)); // a B-tree of some depth: reads take a while
            }
            AtomicLong floor = new AtomicLong(-1); // -1: removed; else the last step written before now
            AtomicLong removals = new AtomicLong(); // counted before each removal
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> readers = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                Thread t = new Thread(() -> {
                    while (!Thread.currentThread().isInterrupted() && failure.get() == null) {
                        long removalsBefore = removals.get();
                        long before = floor.get();
                        Optional<UserRecord> seen = store.user("alice");
                        if (before == -1 || removals.get() != removalsBefore) {
                            continue; // a removal overlapped this read
                        }
                        if (seen.isEmpty() || seen.get().lastStep() < before) {
                            failure.set(new AssertionError("read " + seen.map(UserRecord::lastStep) + " after "
                                    + before + " was written"));
                        }
                    }
                });
                t.start();
                readers.add(t);
            }
            for (long step = 1; step <= 20_000 && failure.get() == null; step++) {
                if (step % 100 == 0) {
                    floor.set(-1); // first: a reader that saw the old floor read removals before this
                    removals.incrementAndGet();
                    store.removeUser("alice");
                    for (int k = 0; k < 50; k++) {
                        if (store.user("alice").isPresent()) {
                            failure.set(new AssertionError("a removed user was read back at step " + step));
                        }
                        Thread.onSpinWait();
                    }
                }
                store.putUser("alice", record(step));
                floor.set(step);
            }
            readers.forEach(Thread::interrupt);
            for (Thread t : readers) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        }
    }

    @Test
    void theCacheIsBoundedAndEveryRecordReadsBackRight() throws Exception {
        key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        int n = MapDbStore.CACHED_USERS + 500;
        try (MapDbStore store = MapDbStore.open(dir.resolve("twofactord.db"), key)) {
            for (int i = 0; i < n; i++) {
                store.putUser("u" + i, record(i));
            }
            store.commit();
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < n; i += 7) {
                    assertEquals(i, store.user("u" + i).orElseThrow().lastStep());
                }
            }
            assertTrue(store.user("nobody").isEmpty());
        }
    }
}
