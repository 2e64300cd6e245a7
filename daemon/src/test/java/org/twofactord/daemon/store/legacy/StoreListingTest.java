package org.twofactord.daemon.store.legacy;

import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The listings the daemon's sweeps and STATS read: pending names alone (the minute's sweep must
 * not read every user), and the user count from the counter new stores keep, across a reopen.
 */
class StoreListingTest {
    @TempDir
    Path dir;

    @Test
    void pendingNamesListOnlyPendingEnrolmentsAndTheUserCountSurvivesAReopen() throws Exception {
        Path file = dir.resolve("twofactord.db");
        MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
        UserRecord record = new UserRecord(key.seal("u", new byte[20]), 1, 100, 0, 0, 0, 1_700_000_000L, 0,
                new byte[0], 0);
        try (MapDbStore store = MapDbStore.open(file, key)) {
            for (int i = 0; i < 300; i++) {
                store.putUser("u" + i, record);
            }
            store.putPending("carol", new PendingEnrollment(key.seal("carol", new byte[20]), 1, 2));
            store.putPending("u7", new PendingEnrollment(key.seal("u7", new byte[20]), 1, 2));
            store.commit();
            assertEquals(List.of("carol", "u7"), store.pendingNames());
            assertEquals(300, store.userCount());
            assertEquals(301, store.names().size());
        }
        try (MapDbStore store = MapDbStore.open(file, key)) {
            store.removeUser("u1");
            store.removePending("carol");
            store.commit();
            assertEquals(List.of("u7"), store.pendingNames());
            assertEquals(299, store.userCount());
        }
        try (MapDbStore store = MapDbStore.open(file, key)) {
            assertEquals(299, store.userCount());
        }
    }
}
