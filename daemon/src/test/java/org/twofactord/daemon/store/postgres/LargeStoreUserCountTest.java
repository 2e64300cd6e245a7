package org.twofactord.daemon.store.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.security.SecureRandom;
import java.util.AbstractMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.store.PostgresServer;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;

/**
 * STATS' user count of a large PostgreSQL store is reused for a while (counting a million users
 * scans the primary key for 0.3-0.5 s); a small store's is exact at every call. Two stores on one
 * database stand for two daemons of a fleet: one adds a user, the other's count does not move
 * until the reuse ends.
 */
class LargeStoreUserCountTest {
    static PostgresServer postgres;
    private static final SecureRandom RANDOM = new SecureRandom();

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = PostgresServer.shared();
    }

    private static MasterKey key() {
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        RANDOM.nextBytes(raw);
        return MasterKey.of(raw, RANDOM);
    }

    private static UserRecord record(int i) {
        byte[] sealed = new byte[48];
        RANDOM.nextBytes(sealed);
        return new UserRecord(sealed, 1, 0, 0, 0, 0, 1_700_000_000L + i, 0, new byte[10 * MasterKey.BACKUP_HASH_BYTES], 0);
    }

    /** {@code count} users u0, u1, ..., made as they are asked for. */
    private static Iterable<Map.Entry<String, UserRecord>> users(String prefix, int count) {
        return () -> new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public Map.Entry<String, UserRecord> next() {
                if (next >= count) {
                    throw new NoSuchElementException();
                }
                int i = next++;
                return new AbstractMap.SimpleEntry<>(prefix + i, record(i));
            }
        };
    }

    @Test
    void aLargeStoresCountIsReusedASmallOnesIsNot() throws Exception {
        MasterKey key = key();
        String url = postgres.createDatabase();
        try (PostgresStore here = PostgresStore.open(url, PostgresServer.credentials(), key);
             PostgresStore there = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            there.putUsers(users("u", PostgresStore.USER_COUNT_CACHE_FROM - 1));
            there.commit();
            assertEquals(PostgresStore.USER_COUNT_CACHE_FROM - 1, here.userCount());
            there.putUser("late", record(0));
            there.commit();
            assertEquals(PostgresStore.USER_COUNT_CACHE_FROM, here.userCount(), "below the threshold: counted again");
            there.putUser("later", record(1));
            there.commit();
            assertEquals(PostgresStore.USER_COUNT_CACHE_FROM, here.userCount(), "at the threshold: the count is reused");
            assertEquals(PostgresStore.USER_COUNT_CACHE_FROM + 1, there.userCount(), "a first count is a fresh one");
        }
    }
}
