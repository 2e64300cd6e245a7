package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.store.log.LogStore;

/** The store contract on the log store (the store of one server). */
class LogStoreContractTest extends StoreContractTest {
    @TempDir
    Path dir;

    @Override
    Store create(MasterKey key) throws Exception {
        return LogStore.open(dir.resolve("store"), key);
    }

    @Override
    Store reopen(MasterKey key) throws Exception {
        return LogStore.open(dir.resolve("store"), key);
    }
}
