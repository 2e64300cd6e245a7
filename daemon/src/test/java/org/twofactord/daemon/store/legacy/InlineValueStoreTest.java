package org.twofactord.daemon.store.legacy;

import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * Stores made before user records moved out of the B-tree nodes keep the layout they were made
 * with (MapDB reads it from its catalog): they open, read and write as before.
 */
class InlineValueStoreTest {
    @TempDir
    Path dir;

    @Test
    void aStoreWithRecordsInsideTheNodesOpensReadsAndWrites() throws Exception {
        Path file = dir.resolve("old.db");
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        UserRecord alice = new UserRecord(key.seal("alice", new byte[20]), 1, 100, 0, 0, 0, 1_700_000_000L, 0,
                new byte[0], 0);
        // The store as the daemon made it before: values inline, as DBMaker's default.
        DB old = DBMaker.fileDB(file.toFile()).transactionEnable().make();
        var meta = old.hashMap("meta", Serializer.STRING, Serializer.STRING).createOrOpen();
        meta.put(MapDbStore.META_SCHEMA, "1");
        meta.put(MapDbStore.META_KEY_CHECK, HexFormat.of().formatHex(key.fingerprint()));
        var users = old.treeMap("users", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
        for (int i = 0; i < 200; i++) {
            users.put("u" + i, alice.encode());
        }
        users.put("alice", alice.encode());
        old.commit();
        old.close();

        try (MapDbStore store = MapDbStore.open(file, key)) {
            assertEquals(alice, store.user("alice").orElseThrow());
            store.putUser("alice", alice.accepted(101, 1_700_000_030L));
            store.commit();
        }
        try (MapDbStore store = MapDbStore.open(file, key)) {
            assertEquals(101, store.user("alice").orElseThrow().lastStep());
            assertEquals(100, store.user("u7").orElseThrow().lastStep());
            assertEquals(201, store.userCount());
        }
    }
}
