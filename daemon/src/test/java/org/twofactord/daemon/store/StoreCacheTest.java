package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The record and meta caches of {@link MapDbStore} never show what the file does not hold. */
class StoreCacheTest {
    @TempDir
    Path dir;

    private MapDbStore open() throws Exception {
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        return MapDbStore.open(dir.resolve("t.db"), key);
    }

    private static UserRecord record(long lastStep) {
        return new UserRecord(new byte[48], 1, lastStep, 0, 0, 0, 1_700_000_000L, 0, new byte[0], 0);
    }

    @Test
    void aRollbackForgetsTheCachedRecordsAndMetaOfTheLostChanges() throws Exception {
        try (MapDbStore store = open()) {
            store.putUser("alice", record(10));
            store.putMeta(Store.META_POLICY, "optional");
            store.commit();
            store.putUser("alice", record(11));
            store.putUser("bob", record(5));
            store.putMeta(Store.META_POLICY, "disabled");
            store.removeMeta(Store.META_ISSUER);
            assertEquals(11, store.user("alice").orElseThrow().lastStep(), "reads see the batch before its commit");
            store.rollback();
            assertEquals(10, store.user("alice").orElseThrow().lastStep());
            assertTrue(store.user("bob").isEmpty());
            assertEquals("optional", store.meta(Store.META_POLICY).orElseThrow());
        }
    }

    @Test
    void recordsReadFromTheFileAndRecordsWrittenAgreeAfterReopening() throws Exception {
        try (MapDbStore store = open()) {
            for (int i = 0; i < 100; i++) {
                store.putUser("u" + i, record(i));
            }
            store.commit();
        }
        try (MapDbStore store = open()) {
            assertEquals(42, store.user("u42").orElseThrow().lastStep(), "read from the file");
            store.putUser("u42", record(43));
            assertEquals(43, store.user("u42").orElseThrow().lastStep(), "a write replaces the cached record");
            store.removeUser("u42");
            assertTrue(store.user("u42").isEmpty(), "a removal removes it");
            store.putUser("u7", record(8));
            assertEquals(99, store.userCount(), "the counter counts inserts and removals, not updates");
            store.commit();
        }
    }
}
