package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.TestDaemon;

/** A damaged or missing store stops start-up with a message naming the file and the way back; never an empty store. */
class StoreDamageTest {
    @TempDir
    Path dir;
    Path db;

    @BeforeEach
    void storeWithUsers() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            c.call("POLICY REQUIRE");
            c.call("ENROLL alice");
        }
        db = dir.resolve("state/twofactord.db");
    }

    private void assertRefused(String what) {
        StoreException e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start(), what);
        assertTrue(e.getMessage().contains(db.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("restore"), e.getMessage());
    }

    @Test
    void truncated() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
            f.setLength(1000);
        }
        assertRefused("truncated");
    }

    @Test
    void emptied() throws Exception {
        Files.write(db, new byte[0]);
        assertRefused("empty");
    }

    @Test
    void garbledHeader() throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
            f.write("not a MapDB file".getBytes());
        }
        assertRefused("garbled header");
    }

    @Test
    void garbledBody() throws Exception {
        byte[] noise = new byte[65536];
        new Random(42).nextBytes(noise);
        try (RandomAccessFile f = new RandomAccessFile(db.toFile(), "rw")) {
            f.seek(100);
            f.write(noise);
        }
        assertRefused("garbled body");
    }

    @Test
    void missingStoreBesideItsKey() throws Exception {
        Files.delete(db);
        assertRefused("missing store");
        assertTrue(Files.notExists(db), "no empty store was made");
    }
}
