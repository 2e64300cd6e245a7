package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo's password file: salted PBKDF2 hashes, checked in constant time. */
class PasswordFileTest {
    /** The lowest count the file takes, to keep the test quick; the real default is 600,000. */
    static final int FAST = 1_000;

    @TempDir
    Path dir;

    @Test
    void theRightPasswordPassesAndNothingElseDoes() {
        String hash = PasswordFile.hash("correct horse".toCharArray(), FAST, new SecureRandom());
        PasswordFile file = PasswordFile.of(Map.of("alice", hash));
        assertTrue(file.check("alice", "correct horse".toCharArray()));
        assertFalse(file.check("alice", "correct horsE".toCharArray()));
        assertFalse(file.check("alice", "".toCharArray()));
        assertFalse(file.check("bob", "correct horse".toCharArray()), "an unknown user never passes");
    }

    @Test
    void eachHashHasItsOwnSaltAndHidesThePassword() {
        SecureRandom random = new SecureRandom();
        String a = PasswordFile.hash("same".toCharArray(), FAST, random);
        String b = PasswordFile.hash("same".toCharArray(), FAST, random);
        assertNotEquals(a, b, "a salt per hash");
        assertTrue(a.startsWith("pbkdf2-sha256$1000$"), a);
        assertFalse(a.contains("same"));
        assertFalse(PasswordFile.Hash.parse(a).toString().contains(a.substring(a.lastIndexOf('$') + 1)));
    }

    @Test
    void aTamperedHashOrSaltDoesNotMatch() {
        String hash = PasswordFile.hash("pw".toCharArray(), FAST, new SecureRandom());
        String[] parts = hash.split("\\$");
        String otherSalt = PasswordFile.hash("pw".toCharArray(), FAST, new SecureRandom()).split("\\$")[2];
        String swapped = parts[0] + "$" + parts[1] + "$" + otherSalt + "$" + parts[3];
        assertFalse(PasswordFile.of(Map.of("u", swapped)).check("u", "pw".toCharArray()));
        String moreIterations = parts[0] + "$" + (FAST + 1) + "$" + parts[2] + "$" + parts[3];
        assertFalse(PasswordFile.of(Map.of("u", moreIterations)).check("u", "pw".toCharArray()));
    }

    @Test
    void aMalformedLineIsAnErrorNamingFileAndLine() throws IOException {
        Path file = dir.resolve("passwords");
        Files.writeString(file, "# comment\n\nalice:md5$abc\n");
        IOException e = assertThrows(IOException.class, () -> PasswordFile.load(file));
        assertTrue(e.getMessage().contains(file + ":3:"), e.getMessage());
        Files.writeString(file, "bad name:pbkdf2-sha256$1000$AAAAAAAAAAA=$" + "A".repeat(43) + "=\n");
        assertTrue(assertThrows(IOException.class, () -> PasswordFile.load(file)).getMessage().contains(":1:"));
        Files.writeString(file, "u:pbkdf2-sha256$10$AAAAAAAAAAA=$" + "A".repeat(43) + "=\n");
        assertTrue(assertThrows(IOException.class, () -> PasswordFile.load(file)).getMessage().contains("iterations"));
    }

    @Test
    void passwdAddsAndReplacesUsersInAPrivateFile() throws IOException {
        Path file = dir.resolve("passwords");
        assertEquals(0, passwd(file, "alice", "first"));
        assertEquals(0, passwd(file, "bob", "bobs"));
        assertEquals(0, passwd(file, "alice", "second"));
        PasswordFile loaded = PasswordFile.load(file);
        assertEquals(java.util.List.of("bob", "alice"), java.util.List.copyOf(loaded.users()));
        assertTrue(loaded.check("alice", "second".toCharArray()));
        assertFalse(loaded.check("alice", "first".toCharArray()));
        assertTrue(loaded.check("bob", "bobs".toCharArray()));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(2, passwd(file, "no good", "x"), "a bad user name is a usage error");
    }

    private static int passwd(Path file, String user, String password) {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        return Main.run(new String[] {"passwd", file.toString(), user, "--iterations", Integer.toString(FAST)},
                new ByteArrayInputStream((password + "\n").getBytes(StandardCharsets.UTF_8)),
                new PrintStream(sink), new PrintStream(sink));
    }
}
