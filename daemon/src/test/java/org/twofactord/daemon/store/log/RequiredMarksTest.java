package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;

/**
 * Required marks in the log store: folded into checkpoints like every other table, and a
 * checkpoint written before the table existed (twofactord before required marks) still opens.
 */
class RequiredMarksTest {
    @TempDir
    Path dir;

    @Test
    void marksSurviveACheckpointAndTheLogsReplay() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        Path storeDir = dir.resolve("store");
        LogStore.Settings never = new LogStore.Settings(64 << 10, 10_000_000, 1L << 40, 86_400_000);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, never)) {
            store.setRequired("alice", true);
            store.setRequired("bob", true);
            store.commit();
        }
        // Every change at start goes into a checkpoint; then one more change, in the log only.
        LogStore.Settings eager = new LogStore.Settings(64 << 10, 1, 1L << 40, 86_400_000);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, eager)) {
            assertTrue(store.checkpoints() >= 1, "the marks went into a checkpoint");
            store.setRequired("bob", false);
            store.commit();
        }
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, never)) {
            assertEquals(List.of("alice"), store.requiredNames());
            assertTrue(store.required("alice"));
        }
    }

    @Test
    void aCheckpointFromBeforeRequiredMarksOpensWithNone() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        Path storeDir = dir.resolve("store");
        UserRecord record = new UserRecord(key.seal("carol", new byte[20]), 1, 7, 0, 0, 0, 1L, 0, new byte[0], 0);
        LogStore.Settings eager = new LogStore.Settings(64 << 10, 1, 1L << 40, 86_400_000);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, eager)) {
            store.putUser("carol", record);
            store.commit();
        }
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, eager)) {
            assertEquals(1, store.userCount()); // now in the checkpoint
        }
        // Rewrite the live checkpoint as the previous version wrote it: meta, users, pending.
        Pointer live = Pointer.read(storeDir).orElseThrow();
        Path file = storeDir.resolve(live.checkpoint());
        Path old = dir.resolve("old.db");
        DB from = DBMaker.fileDB(file.toFile()).readOnly().fileChannelEnable().make();
        DB to = DBMaker.fileDB(old.toFile()).fileChannelEnable().make();
        for (String map : List.of("meta", "users", "pending")) {
            to.treeMap(map, Serializer.STRING, Serializer.BYTE_ARRAY).create()
                    .putAll(from.treeMap(map, Serializer.STRING, Serializer.BYTE_ARRAY).open());
        }
        assertTrue(from.exists("required"), "the current format has the table");
        to.atomicLong("user_count", from.atomicLong("user_count").open().get()).create();
        from.close();
        to.close();
        Files.move(old, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        new Pointer(live.checkpoint(), live.lsn(), Files.size(file), Checkpoint.crc(Disk.REAL, file))
                .publish(Disk.REAL, storeDir);
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, eager)) {
            assertEquals(List.of(), store.requiredNames());
            assertEquals(1, store.userCount());
            store.setRequired("carol", true);
            store.commit();
        }
        try (LogStore store = LogStore.open(storeDir, key, Disk.REAL, eager)) {
            assertEquals(List.of("carol"), store.requiredNames());
        }
    }
}
