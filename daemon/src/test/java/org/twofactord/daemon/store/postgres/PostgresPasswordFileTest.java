package org.twofactord.daemon.store.postgres;

import org.twofactord.daemon.store.StoreException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The database password comes from a file only its owner may read; anything wider is refused. */
class PostgresPasswordFileTest {
    @TempDir
    Path dir;

    @Test
    void aPasswordFileReadableByGroupOrOthersIsRefused() throws Exception {
        Path file = dir.resolve("pw");
        Files.writeString(file, "s3cret\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertEquals("s3cret", PostgresStore.readPassword(file));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--------"));
        assertEquals("s3cret", PostgresStore.readPassword(file));
        for (String mode : new String[] {"rw-r-----", "rw----r--", "rw-rw-rw-", "rw---x---"}) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
            StoreException e = assertThrows(StoreException.class, () -> PostgresStore.readPassword(file), mode);
            assertTrue(e.getMessage().contains("may be read by group or others"), e.getMessage());
            assertTrue(!e.getMessage().contains("s3cret"));
        }
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(file, "\n");
        assertThrows(StoreException.class, () -> PostgresStore.readPassword(file));
    }
}
