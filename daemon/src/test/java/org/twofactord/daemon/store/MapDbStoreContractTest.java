package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.legacy.MapDbStore;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on MapDB. */
class MapDbStoreContractTest extends StoreContractTest {
    @TempDir
    Path dir;

    @Override
    Store create(MasterKey key) throws Exception {
        return MapDbStore.open(dir.resolve("t.db"), key);
    }

    @Override
    Store reopen(MasterKey key) throws Exception {
        return MapDbStore.open(dir.resolve("t.db"), key);
    }

    /** The old MapDB store is only read, to be converted; it never had required marks. */
    @Override
    @org.junit.jupiter.api.Test
    void requiredMarksAreSetClearedAndSurviveAReopenIndependentlyOfEnrolment() {
        org.junit.jupiter.api.Assertions.assertEquals(java.util.List.of(), store.requiredNames());
        org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class,
                () -> store.setRequired("dora", true));
    }
}
