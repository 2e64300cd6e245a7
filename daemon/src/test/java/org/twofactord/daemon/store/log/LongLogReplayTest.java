package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;

/**
 * A log much longer than a checkpoint's worth (checkpoints held off, or failing, for a long time)
 * is folded into checkpoints while it is replayed at start, so that memory stays bounded by
 * {@code checkpoint_changes} whatever the log's length; nothing of it is lost, and the segments
 * the checkpoints cover are deleted.
 */
class LongLogReplayTest {
    @TempDir
    Path dir;

    @Test
    void aLongLogIsFoldedIntoCheckpointsWhileItIsReplayed() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        Path storeDir = dir.resolve("store");
        LogStore.Settings never = new LogStore.Settings(64 << 10, 10_000_000, 1L << 40, 86_400_000);
        UserRecord record = new UserRecord(key.seal("u", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, never)) {
            for (int i = 0; i < 2000; i++) {
                store.putUser("u" + i, record.accepted(100 + i, 2L));
                if (i % 10 == 9) {
                    store.commit();
                }
            }
            store.removeUser("u5");
            store.commit();
            assertEquals(0, store.checkpoints());
        }
        long segmentsBefore = segments(storeDir);
        LogStore.Settings small = new LogStore.Settings(64 << 10, 300, 1L << 40, 86_400_000, 300);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, small)) {
            assertTrue(store.checkpoints() >= 5, "checkpoints while replaying: " + store.checkpoints());
            assertEquals(1999, store.userCount());
            assertEquals(100 + 1999, store.user("u1999").orElseThrow().lastStep());
            assertTrue(store.user("u5").isEmpty());
        }
        assertTrue(segments(storeDir) < segmentsBefore, "covered segments deleted: " + segments(storeDir)
                + " of " + segmentsBefore);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, small)) {
            assertEquals(1999, store.names().size());
            assertEquals(100 + 1234, store.user("u1234").orElseThrow().lastStep());
        }
    }

    /**
     * A small checkpoint_changes (an operator's choice, or the benchmark's) makes a start write one
     * checkpoint of what it replayed, not one per change it reads (a store of a million users
     * once took minutes to start so).
     */
    @Test
    void aSmallCheckpointSettingWritesOneCheckpointAtStartNotOnePerChange() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        Path storeDir = dir.resolve("store");
        UserRecord record = new UserRecord(key.seal("u", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, new LogStore.Settings(64 << 10, 10_000_000,
                1L << 40, 86_400_000))) {
            for (int i = 0; i < 500; i++) {
                store.putUser("u" + i, record);
                store.commit();
            }
        }
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, new LogStore.Settings(64 << 10, 1, 1L << 40,
                86_400_000))) {
            assertEquals(1, store.checkpoints());
            assertEquals(500, store.userCount());
        }
    }

    /**
     * Folds that fail while the log is replayed (a full disk) keep every change they could not
     * write in memory: a second failed fold once replaced the changes frozen by the first, and
     * the store then answered as if they had never been made.
     */
    @Test
    void foldsThatFailWhileReplayingLoseNothing() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        Path storeDir = dir.resolve("store");
        UserRecord record = new UserRecord(key.seal("u", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, new LogStore.Settings(64 << 10, 10_000_000,
                1L << 40, 86_400_000))) {
            for (int i = 0; i < 1000; i++) {
                store.putUser("u" + i, record.accepted(100 + i, 2L));
                store.commit();
            }
        }
        Disk full = new BrokenDisks.Forwarding(Disk.REAL) {
            @Override
            public void writtenElsewhere(Path path) throws java.io.IOException {
                throw new java.io.IOException("No space left on device");
            }
        };
        try (LogStore store = LogStore.open(storeDir, key, full, new LogStore.Settings(64 << 10, 200, 1L << 40,
                86_400_000, 200))) {
            assertEquals(0, store.checkpoints());
            assertEquals(1000, store.userCount());
            for (int i = 0; i < 1000; i += 99) {
                assertEquals(100 + i, store.user("u" + i).orElseThrow().lastStep(), "u" + i);
            }
            assertEquals(1000, store.names().size());
        }
    }

    private static long segments(Path storeDir) throws Exception {
        try (var files = Files.list(storeDir)) {
            return files.filter(p -> p.getFileName().toString().startsWith("journal-")).count();
        }
    }
}
