package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.legacy.MapDbStore;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.UserRecord;

/**
 * A store of an earlier version ({@code twofactord.db}: MapDB with its own write-ahead log, and
 * the journal of accepted codes beside it) is converted at the first start, once, keeping every
 * user, pending enrolment, policy, issuer, replay and lockout state.
 */
class StoreConversionTest {
    @TempDir
    Path dir;

    /** A daemon on the MapDB store of earlier versions, in state/twofactord.db. */
    private TestDaemon legacyDaemon() {
        return new TestDaemon(dir).storeFactory((file, key) -> MapDbStore.open(LogStore.legacyFile(file), key));
    }

    @Test
    void aMapDbStoreOfAnEarlierVersionIsConvertedOnceWithEveryState() throws Exception {
        String secret;
        String usedCode;
        String usedBackup;
        String unusedBackup;
        String lockedSecret;
        try (TestDaemon old = legacyDaemon().set("lockout_s", "3600").start(); Client c = old.client()) {
            c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("ISSUER SET Acme Hosting", "OK {\"issuer\":\"Acme Hosting\",\"default\":false}");
            secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            var backup = Json.of(c.call("CONFIRM alice " + Totp.code(secret, old.clock, 0))).get("backup_codes");
            usedBackup = backup.get(0).asText();
            unusedBackup = backup.get(1).asText();
            old.clock.advanceSeconds(30);
            usedCode = Totp.code(secret, old.clock, 0);
            c.expect("VERIFY alice " + usedCode, "OK {\"method\":\"totp\"}"); // made durable by the old journal
            c.expect("VERIFY alice " + usedBackup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
            lockedSecret = Json.of(c.call("ENROLL mallory")).get("secret").asText();
            c.call("CONFIRM mallory " + Totp.code(lockedSecret, old.clock, 0));
            for (int i = 0; i < 5; i++) {
                c.expect("VERIFY mallory " + Totp.wrongCode(lockedSecret, old.clock), "NO invalid");
            }
            c.call("ENROLL carol"); // pending only
        }
        Path state = dir.resolve("state");
        assertTrue(Files.exists(state.resolve("twofactord.db")));
        assertFalse(Files.exists(state.resolve("store")));

        for (int start = 1; start <= 2; start++) { // converted at the first start, used as it is at the second
            try (TestDaemon daemon = new TestDaemon(dir).set("lockout_s", "3600").start(); Client c = daemon.client()) {
                daemon.clock.advanceSeconds(30L * start);
                c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
                c.expect("ISSUER", "OK {\"issuer\":\"Acme Hosting\",\"default\":false}");
                c.expect("VERIFY alice " + usedCode, "NO replayed");
                c.expect("VERIFY alice " + usedBackup, "NO invalid");
                assertTrue(c.call("VERIFY mallory " + Totp.code(lockedSecret, daemon.clock, 0)).startsWith("NO locked"));
                assertTrue(Json.of(c.call("USER carol")).get("pending").asBoolean());
                assertEquals(3, Json.of(c.call("USERS")).get("users").size(), "alice and mallory enrolled, carol pending");
                if (start == 1) {
                    c.expect("VERIFY alice " + unusedBackup, "OK {\"method\":\"backup\",\"backup_codes_left\":8}");
                } else {
                    c.expect("VERIFY alice " + unusedBackup, "NO invalid");
                }
            }
            assertTrue(Files.exists(state.resolve("store/CURRENT")));
            assertFalse(Files.exists(state.resolve("twofactord.db")), "the old store is no longer where it was");
            assertTrue(Files.exists(state.resolve("twofactord.db.converted/twofactord.db")), "but kept aside");
        }
    }

    /** The oldest layout: user records inside the B-tree nodes, no user counter. */
    @Test
    void aStoreWithRecordsInsideTheNodesIsConvertedToo() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        MasterKey key = MasterKey.loadOrCreate(state.resolve("master.key"), true, new SecureRandom());
        UserRecord alice = new UserRecord(key.seal("alice", new byte[20]), 1, 100, 2, 0, 0, 1_700_000_000L, 0,
                new byte[0], 0);
        DB old = DBMaker.fileDB(state.resolve("twofactord.db").toFile()).transactionEnable().make();
        var meta = old.hashMap("meta", Serializer.STRING, Serializer.STRING).createOrOpen();
        meta.put(MapDbStore.META_SCHEMA, "1");
        meta.put(MapDbStore.META_KEY_CHECK, HexFormat.of().formatHex(key.fingerprint()));
        var users = old.treeMap("users", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
        for (int i = 0; i < 300; i++) {
            users.put("u" + i, alice.encode());
        }
        old.commit();
        old.close();
        try (LogStore store = LogStore.open(state.resolve("store"), key)) {
            assertEquals(300, store.userCount());
            assertEquals(alice, store.user("u299").orElseThrow());
        }
        try (LogStore store = LogStore.open(state.resolve("store"), key)) {
            assertEquals(300, store.names().size());
        }
    }
}
