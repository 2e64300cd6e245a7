package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.postgres.PostgresStore;
import org.junit.jupiter.api.BeforeAll;

/** The store contract on a real PostgreSQL server, a new database for each test. */
class PostgresStoreContractTest extends StoreContractTest {
    static PostgresServer server;
    String url;

    @BeforeAll
    static void startServer() throws Exception {
        server = PostgresServer.shared(); // stopped when the test JVM ends
    }

    @Override
    Store create(MasterKey key) throws Exception {
        url = server.createDatabase();
        return PostgresStore.open(url, PostgresServer.credentials(), key);
    }

    @Override
    Store reopen(MasterKey key) throws Exception {
        return PostgresStore.open(url, PostgresServer.credentials(), key);
    }
}
