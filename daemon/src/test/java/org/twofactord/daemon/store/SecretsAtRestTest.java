package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.log.LogStore;
import org.twofactord.daemon.totp.Base32;

/** The store holds no secret in a readable form, and refuses to start with a wrong or missing key. */
class SecretsAtRestTest {
    @TempDir
    Path dir;

    @Test
    void storeFilesHoldNeitherTheRawSecretNorItsBase32NorBackupCodes() throws Exception {
        List<String> secrets = new ArrayList<>();
        List<String> backup = new ArrayList<>();
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            for (String user : List.of("alice", "bob", "mail@example.com")) {
                String secret = Json.of(c.call("ENROLL " + user)).get("secret").asText();
                secrets.add(secret);
                Json.of(c.call("CONFIRM " + user + " " + Totp.code(secret, daemon.clock, 0)))
                        .get("backup_codes").forEach(n -> backup.add(n.asText()));
            }
            secrets.add(Json.of(c.call("ENROLL carol")).get("secret").asText()); // pending only
        }
        byte[] all = readAll(dir.resolve("state"));
        assertTrue(all.length > 10_000, "the scan read the store");
        for (String secret : secrets) {
            assertFalse(contains(all, Base32.decode(secret)), "raw secret in the store");
            assertFalse(contains(all, secret.getBytes(StandardCharsets.US_ASCII)), "Base32 secret in the store");
            assertFalse(contains(all, secret.toLowerCase().getBytes(StandardCharsets.US_ASCII)), "base32 secret");
        }
        for (String code : backup) {
            assertFalse(contains(all, code.getBytes(StandardCharsets.US_ASCII)), "backup code in the store");
            assertFalse(contains(all, code.replace("-", "").getBytes(StandardCharsets.US_ASCII)), "backup code");
        }
        // The scan can find what is there: the sealed secret, a byte array the store keeps as it is.
        Path state = dir.resolve("state");
        MasterKey key = MasterKey.loadOrCreate(state.resolve("master.key"), false, new java.security.SecureRandom());
        try (LogStore store = LogStore.open(state.resolve("store"), key)) {
            byte[] sealed = store.user("alice").orElseThrow().sealedSecret();
            assertTrue(contains(all, sealed), "the scan finds the sealed secret, so it would find a plain one");
            assertArrayEquals(Base32.decode(secrets.get(0)), key.open("alice", sealed));
        }
    }

    private static byte[] readAll(Path state) throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (var files = Files.walk(state)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().equals("master.key")) {
                    out.write(Files.readAllBytes(p));
                }
            }
        }
        return out.toByteArray();
    }

    static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Test
    void keyAndStoreFilesAreOwnerOnly() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            Path state = dir.resolve("state");
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("master.key"))));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("store"))));
            try (var files = Files.list(state.resolve("store"))) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
                }
            }
            assertEquals(32, Files.size(state.resolve("master.key")));
        }
    }

    @Test
    void aMissingKeyBesideAnExistingStoreStopsStartUpAndIsNotRecreated() throws Exception {
        new TestDaemon(dir).start().close();
        Path key = dir.resolve("state/master.key");
        Files.delete(key);
        StoreException e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start());
        assertTrue(e.getMessage().contains("master key") && e.getMessage().contains("missing"), e.getMessage());
        assertFalse(Files.exists(key), "no new key was made over the existing store");
    }

    @Test
    void aWrongKeyStopsStartUp() throws Exception {
        new TestDaemon(dir).start().close();
        Path key = dir.resolve("state/master.key");
        byte[] other = new byte[32];
        other[0] = 1;
        Files.write(key, other);
        StoreException e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start());
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        Files.write(key, new byte[7]);
        e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start());
        assertTrue(e.getMessage().contains("is 7 bytes"), e.getMessage());
    }

    @Test
    void aSecondDaemonOnTheSameStateDirectoryIsRefused() throws Exception {
        try (TestDaemon first = new TestDaemon(dir).start()) {
            TestDaemon second = new TestDaemon(dir).editConfig(c -> c.withPaths(dir.resolve("other.sock"), c.stateDir()));
            StoreException e = assertThrows(StoreException.class, second::start);
            assertTrue(e.getMessage().contains("in use by another process"), e.getMessage());
            try (Client c = first.client()) {
                c.expect("PING", "OK");
            }
        }
    }

    @Test
    void toStringNeverShowsSecrets() {
        byte[] sealed = "sealed-secret-bytes".getBytes(StandardCharsets.US_ASCII);
        UserRecord r = new UserRecord(sealed, 1, 5, 0, 0, 0, 1, 0, new byte[120], 0);
        assertFalse(r.toString().contains("sealed"));
        assertTrue(r.toString().contains("***"));
        assertFalse(new PendingEnrollment(sealed, 1, 2).toString().contains("sealed"));
        assertEquals("MasterKey[***]", MasterKey.of(new byte[32], new java.security.SecureRandom()).toString());
    }
}
