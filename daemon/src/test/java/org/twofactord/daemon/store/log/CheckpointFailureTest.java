package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;

/**
 * A checkpoint that cannot be written (a full disk) leaves the previous checkpoint and the log in
 * place, says why in {@link LogStore#health} (STATS), loses nothing, and is written once it can be.
 */
class CheckpointFailureTest {
    @TempDir
    Path dir;

    /** The real disk, but a checkpoint file cannot be finished while {@code full} holds. */
    private static Disk failingCheckpoints(AtomicBoolean full) {
        return new BrokenDisks.Forwarding(Disk.REAL) {
            @Override
            public void writtenElsewhere(Path path) throws IOException {
                if (full.get()) {
                    throw new IOException("No space left on device");
                }
                below.writtenElsewhere(path);
            }
        };
    }

    private static void awaitCheckpointDone(LogStore store, long published) throws InterruptedException {
        for (int i = 0; i < 500 && store.checkpoints() == published && store.checkpointFailure() == null; i++) {
            Thread.sleep(10); // the checkpoint thread's work, not the passing of time, is waited for
        }
    }

    @Test
    void aFailedCheckpointShowsInHealthKeepsEverythingAndIsWrittenLater() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        AtomicBoolean full = new AtomicBoolean(false);
        UserRecord record = new UserRecord(key.seal("u", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
        Path storeDir = dir.resolve("store");
        try (LogStore store = LogStore.open(storeDir, key, failingCheckpoints(full), LogStore.Settings.defaults())) {
            full.set(true); // made; from now on the disk is full for checkpoints
            String liveBefore = Files.readString(storeDir.resolve("CURRENT"));
            store.putUser("alice", record);
            store.requestCheckpoint();
            store.commit();
            awaitCheckpointDone(store, 0);
            assertEquals(0, store.checkpoints());
            assertTrue(String.valueOf(store.health().get("checkpoint_failure")).contains("No space"), store.health().toString());
            assertEquals(liveBefore, Files.readString(storeDir.resolve("CURRENT")), "the previous checkpoint stays live");
            try (var files = Files.list(storeDir)) {
                assertEquals(1, files.filter(p -> p.getFileName().toString().startsWith("checkpoint-")).count(),
                        "the failed checkpoint's file is gone");
            }
            assertEquals(7, store.user("alice").orElseThrow().lastStep(), "served from memory meanwhile");

            full.set(false);
            store.putUser("bob", record);
            store.requestCheckpoint();
            store.commit();
            for (int i = 0; i < 500 && store.checkpoints() == 0; i++) {
                Thread.sleep(10); // the checkpoint thread's work, not the passing of time, is waited for
            }
            assertEquals(1, store.checkpoints());
            assertNull(store.health().get("checkpoint_failure"));
        }
        try (LogStore store = LogStore.open(storeDir, key)) {
            assertEquals(2, store.userCount());
        }
    }
}
