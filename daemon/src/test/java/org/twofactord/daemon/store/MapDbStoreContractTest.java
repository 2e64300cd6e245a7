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
}
