package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.MutableClock;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.PostgresServer;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.log.LogStore;
import org.twofactord.daemon.store.postgres.PostgresStore;

/**
 * store export and store import through the real command line, MapDB to PostgreSQL to MapDB: the
 * same users verify with the same codes, replay and lockout state, used backup codes, pending
 * enrolments, policy and issuer come along; a store with another key or one not empty is refused.
 */
class StoreExportImportTest {
    static PostgresServer postgres;

    @TempDir
    Path dir;

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = PostgresServer.shared(); // stopped when the test JVM ends
    }

    private Path mapDbConfig() throws Exception {
        Path file = dir.resolve("mapdb.conf");
        Files.writeString(file, "store = mapdb\n");
        return file;
    }

    private Path postgresConfig(String url) throws Exception {
        Path password = dir.resolve("pg.password");
        Files.writeString(password, PostgresServer.ROLE_PASSWORD + "\n");
        Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
        Path file = dir.resolve("pg.conf");
        Files.writeString(file, "store = postgresql\npostgres_url = " + url + "\npostgres_user = " + PostgresServer.ROLE
                + "\npostgres_password_file = " + password + "\n");
        return file;
    }

    private static Cli.Run cli(String... args) {
        return Cli.run(null, args);
    }

    private static void copyKey(Path fromState, Path toState) throws Exception {
        Files.createDirectories(toState);
        Files.copy(fromState.resolve("master.key"), toState.resolve("master.key"));
    }

    @Test
    void mapDbToPostgresAndBackKeepsUsersCodesAndState() throws Exception {
        MutableClock clock = MutableClock.atStepStart();
        String alice;
        String usedBackup;
        String freshBackup;
        String carol;
        TestDaemon source = new TestDaemon(dir.resolve("mapdb1"), clock).start();
        try (Client c = source.client()) {
            c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("ISSUER SET Example Fleet", "OK {\"issuer\":\"Example Fleet\",\"default\":false}");
            alice = Json.of(c.call("ENROLL alice")).get("secret").asText();
            JsonNode backup = Json.of(c.call("CONFIRM alice " + Totp.code(alice, clock, -1))).get("backup_codes");
            usedBackup = backup.get(0).asText();
            freshBackup = backup.get(1).asText();
            c.expect("VERIFY alice " + Totp.code(alice, clock, 0), "OK {\"method\":\"totp\"}");
            c.expect("VERIFY alice " + usedBackup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
            carol = Json.of(c.call("ENROLL carol")).get("secret").asText();
            c.call("CONFIRM carol " + Totp.code(carol, clock, -1));
            String wrong = Totp.wrongCode(carol, clock);
            for (int i = 0; i < 5; i++) {
                c.expect("VERIFY carol " + wrong, "NO invalid");
            }
            c.call("ENROLL bob");
        }
        source.stop(); // a MapDB store is exported with its daemon stopped

        Path first = dir.resolve("first.json");
        Cli.Run export = cli("store", "export", first.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", source.stateDir().toString());
        assertEquals(0, export.exit(), export.out() + export.err());
        assertEquals("exported 2 users and 1 pending enrolments to " + first + "\n", export.out());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first)));
        String text = Files.readString(first);
        assertFalse(text.contains(alice) || text.contains(carol), "secrets stay sealed in the export");
        assertFalse(text.contains(freshBackup) || text.contains(freshBackup.replace("-", "")), "no backup code");

        // Into PostgreSQL, with the same master key.
        String url = postgres.createDatabase();
        Path pgConfig = postgresConfig(url);
        TestDaemon fleet = new TestDaemon(dir.resolve("pg"), clock);
        PostgresServer.configure(fleet, url, dir.resolve("pg"));
        copyKey(source.stateDir(), fleet.stateDir());
        Cli.Run imported = cli("store", "import", first.toString(), "--config", pgConfig.toString(),
                "--state-dir", fleet.stateDir().toString());
        assertEquals(0, imported.exit(), imported.out() + imported.err());
        assertEquals("imported 2 users and 1 pending enrolments from " + first + "\n", imported.out());
        Cli.Run again = cli("store", "import", first.toString(), "--config", pgConfig.toString(),
                "--state-dir", fleet.stateDir().toString());
        assertEquals(1, again.exit(), "a refusal, not an unavailable store");
        assertTrue(again.err().contains("not empty"), again.err());

        fleet.start();
        try (Client c = fleet.client()) {
            expectSameState(c, alice, usedBackup, carol, clock);
            c.expect("VERIFY alice " + Totp.code(alice, clock, 1), "OK {\"method\":\"totp\"}");
            c.expect("VERIFY alice " + freshBackup, "OK {\"method\":\"backup\",\"backup_codes_left\":8}");
        }
        // Out of PostgreSQL while its daemon runs, into a new MapDB store.
        Path second = dir.resolve("second.json");
        Cli.Run export2 = cli("store", "export", second.toString(), "--config", pgConfig.toString(),
                "--state-dir", fleet.stateDir().toString());
        assertEquals(0, export2.exit(), export2.out() + export2.err());
        fleet.stop();

        TestDaemon back = new TestDaemon(dir.resolve("mapdb2"), clock);
        copyKey(source.stateDir(), back.stateDir());
        Cli.Run imported2 = cli("store", "import", second.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", back.stateDir().toString());
        assertEquals(0, imported2.exit(), imported2.out() + imported2.err());
        back.start();
        try (Client c = back.client()) {
            expectSameState(c, alice, usedBackup, carol, clock);
            c.expect("VERIFY alice " + Totp.code(alice, clock, 1), "NO replayed");
            c.expect("VERIFY alice " + freshBackup, "NO invalid");
            clock.advanceSeconds(30);
            c.expect("VERIFY alice " + Totp.code(alice, clock, 1), "OK {\"method\":\"totp\"}");
        } finally {
            back.close();
        }

        // A store made with another master key refuses the file.
        Path otherState = dir.resolve("other").resolve("state");
        Files.createDirectories(otherState);
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Files.write(otherState.resolve("master.key"), key);
        Cli.Run refused = cli("store", "import", second.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", otherState.toString());
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("another master key"), refused.err());
    }

    @Test
    void refusalsExitOneAndSayWhy() throws Exception {
        TestDaemon source = new TestDaemon(dir.resolve("mapdb1")).start();
        try (Client c = source.client()) {
            c.call("ENROLL bob");
        }
        source.stop();
        Path file = dir.resolve("export.json");
        Files.writeString(file, "");
        Cli.Run onto = cli("store", "export", file.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", source.stateDir().toString());
        assertEquals(1, onto.exit(), onto.err());
        assertEquals("twofactord: " + file + " exists; name a new file\n", onto.err());
        assertEquals("", Files.readString(file), "not overwritten");
        Files.delete(file);
        Cli.Run export = cli("store", "export", file.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", source.stateDir().toString());
        assertEquals(0, export.exit(), export.err());

        // Into a new state directory without the key: the key is what is missing, not a store.
        Path empty = dir.resolve("new-state");
        Files.createDirectories(empty);
        Cli.Run noKey = cli("store", "import", file.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", empty.toString());
        assertEquals(1, noKey.exit(), noKey.err());
        assertTrue(noKey.err().contains("no master key at " + empty.resolve("master.key") + ": copy the master.key"),
                noKey.err());
        assertFalse(noKey.err().contains("store exists"), noKey.err());
        assertFalse(Files.exists(empty.resolve("store")), "nothing made");
    }

    /**
     * A store larger than one COPY of the PostgreSQL import (5,000 rows): every record arrives
     * as it was, across the chunks. A file whose records all open but cannot all be written (a
     * name twice, in the second chunk) rolls the whole import back: the store is still empty,
     * and the good file then imports.
     */
    @Test
    void largeImportIntoPostgresArrivesWholeOrNotAtAll() throws Exception {
        Path state = dir.resolve("big").resolve("state");
        Files.createDirectories(state);
        SecureRandom random = new SecureRandom();
        MasterKey key = MasterKey.loadOrCreate(state.resolve("master.key"), true, random);
        key.save();
        int count = 12_001;
        List<String> names = new ArrayList<>();
        Map<String, UserRecord> records = new HashMap<>();
        try (Store store = LogStore.open(state.resolve("store"), key)) {
            for (int i = 0; i < count; i++) {
                String name = (i % 3 == 0 ? "u" : "a.b-c_d@e+") + i;
                byte[] secret = new byte[20];
                random.nextBytes(secret);
                byte[] hashes = new byte[10 * MasterKey.BACKUP_HASH_BYTES];
                random.nextBytes(hashes);
                UserRecord r = new UserRecord(key.seal(name, secret), 1 + i % 4, 57_000_000L + i, i % 5, i % 3,
                        i % 2 == 0 ? 0 : 1_700_000_000L + i, 1_600_000_000L + i, 1_650_000_000L - i, hashes, i & 0x3ff);
                store.putUser(name, r);
                names.add(name);
                records.put(name, r);
            }
            store.commit();
        }
        Path file = dir.resolve("big.json");
        Cli.Run export = cli("store", "export", file.toString(), "--config", mapDbConfig().toString(),
                "--state-dir", state.toString());
        assertEquals(0, export.exit(), export.out() + export.err());

        // The same file with the 7,001st user written twice: every secret opens, so the check passes.
        JsonNode root = Json.of("OK " + Files.readString(file));
        ((ArrayNode) root.get("users")).insert(7_000, root.get("users").get(3).deepCopy());
        Path twice = dir.resolve("twice.json");
        Files.writeString(twice, root.toString());

        String url = postgres.createDatabase();
        Path pgConfig = postgresConfig(url);
        Path pgState = dir.resolve("pg").resolve("state");
        copyKey(state, pgState);
        Cli.Run failed = cli("store", "import", twice.toString(), "--config", pgConfig.toString(),
                "--state-dir", pgState.toString());
        assertEquals(4, failed.exit(), failed.out() + failed.err());
        assertTrue(failed.err().contains("duplicate key"), failed.err());
        try (Store store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            assertEquals(0, store.userCount(), "nothing of the failed import stays");
        }
        // A secret that does not open (another user's: the name is sealed with it), deep in the
        // file, where the secrets are checked on several threads: refused before anything is written.
        JsonNode swapped = Json.of("OK " + Files.readString(file));
        ((ObjectNode) swapped.get("users").get(9_000)).put("sealed_secret",
                swapped.get("users").get(9_001).get("sealed_secret").asText());
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, swapped.toString());
        Cli.Run refused = cli("store", "import", bad.toString(), "--config", pgConfig.toString(),
                "--state-dir", pgState.toString());
        assertEquals(4, refused.exit(), refused.out() + refused.err());
        assertTrue(refused.err().contains("cannot be decrypted"), refused.err());
        try (Store store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            assertEquals(0, store.userCount(), "nothing written");
        }

        Cli.Run imported = cli("store", "import", file.toString(), "--config", pgConfig.toString(),
                "--state-dir", pgState.toString());
        assertEquals(0, imported.exit(), imported.out() + imported.err());
        assertEquals("imported " + count + " users and 0 pending enrolments from " + file + "\n", imported.out());
        try (Store store = PostgresStore.open(url, PostgresServer.credentials(), key)) {
            assertEquals(count, store.userCount());
            assertEquals(names.stream().sorted().toList(), store.names());
            for (String name : names) {
                UserRecord want = records.get(name);
                UserRecord got = store.user(name).orElseThrow();
                assertArrayEquals(want.sealedSecret(), got.sealedSecret(), name);
                assertArrayEquals(want.backupHashes(), got.backupHashes(), name);
                assertEquals(List.of(want.generation(), want.lastStep(), want.failures(), want.lockoutLevel(),
                        want.lockedUntil(), want.enrolledAt(), want.lastUsedAt(), want.backupUsed()),
                        List.of(got.generation(), got.lastStep(), got.failures(), got.lockoutLevel(),
                                got.lockedUntil(), got.enrolledAt(), got.lastUsedAt(), got.backupUsed()), name);
            }
        }

        // And out again, read a page of 5,000 at a time: the same records as the MapDB export.
        Path back = dir.resolve("back.json");
        Cli.Run exported = cli("store", "export", back.toString(), "--config", pgConfig.toString(),
                "--state-dir", pgState.toString());
        assertEquals(0, exported.exit(), exported.out() + exported.err());
        assertEquals("exported " + count + " users and 0 pending enrolments to " + back + "\n", exported.out());
        assertEquals(byName(Json.of("OK " + Files.readString(file)).get("users")),
                byName(Json.of("OK " + Files.readString(back)).get("users")));
    }

    /** An export's user records by name: PostgreSQL lists them in its collation's order. */
    private static Map<String, JsonNode> byName(JsonNode users) {
        Map<String, JsonNode> all = new HashMap<>();
        users.forEach(u -> all.put(u.get("name").asText(), u));
        assertEquals(users.size(), all.size(), "no name twice");
        return all;
    }

    /** What came along: policy, issuer, replay state, used backup code, lockout, pending enrolment. */
    private static void expectSameState(Client c, String alice, String usedBackup, String carol, MutableClock clock)
            throws Exception {
        c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
        c.expect("ISSUER", "OK {\"issuer\":\"Example Fleet\",\"default\":false}");
        c.expect("VERIFY alice " + Totp.code(alice, clock, 0), "NO replayed");
        c.expect("VERIFY alice " + usedBackup, "NO invalid");
        assertTrue(c.call("VERIFY carol " + Totp.code(carol, clock, 1)).startsWith("NO locked"));
        assertTrue(Json.of(c.call("USER bob")).get("pending").asBoolean());
        List<String> users = new ArrayList<>();
        Json.of(c.call("USERS")).get("users").forEach(u -> users.add(u.get("user").asText()));
        assertEquals(List.of("alice", "bob", "carol"), users);
    }
}
