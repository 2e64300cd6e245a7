package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

/**
 * A damaged or missing store stops start-up with a message naming the damaged file and the way
 * back; never an empty store, and never a store that silently lost what the log held.
 */
class StoreDamageTest {
    @TempDir
    Path dir;
    Path store;

    @BeforeEach
    void storeWithUsers() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            c.call("POLICY REQUIRE");
            c.call("ENROLL alice");
        }
        store = dir.resolve("state/store");
    }

    /** The live checkpoint, as CURRENT names it. */
    private Path checkpoint() throws Exception {
        return store.resolve(Files.readString(store.resolve("CURRENT")).split(" ")[2]);
    }

    /** The log segment that holds the changes above (the first; a new one is made at each start). */
    private Path segment() throws Exception {
        try (var files = Files.list(store)) {
            return files.filter(p -> p.getFileName().toString().startsWith("journal-")).sorted().findFirst().orElseThrow();
        }
    }

    private void assertRefused(String what, Path damaged) {
        StoreException e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start(), what);
        assertTrue(e.getMessage().contains(damaged.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("restore"), e.getMessage());
    }

    @Test
    void truncatedCheckpoint() throws Exception {
        Path cp = checkpoint();
        try (RandomAccessFile f = new RandomAccessFile(cp.toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        assertRefused("truncated", cp);
    }

    @Test
    void emptiedCheckpoint() throws Exception {
        Path cp = checkpoint();
        Files.write(cp, new byte[0]);
        assertRefused("empty", cp);
    }

    @Test
    void garbledCheckpointHeader() throws Exception {
        Path cp = checkpoint();
        try (RandomAccessFile f = new RandomAccessFile(cp.toFile(), "rw")) {
            f.write("not a MapDB file".getBytes());
        }
        assertRefused("garbled header", cp);
    }

    @Test
    void oneBitFlippedInTheCheckpoint() throws Exception {
        Path cp = checkpoint();
        try (RandomAccessFile f = new RandomAccessFile(cp.toFile(), "rw")) {
            f.seek(f.length() - 100);
            int b = f.read();
            f.seek(f.length() - 100);
            f.write(b ^ 0x10);
        }
        assertRefused("one bit", cp);
    }

    @Test
    void garbledPointer() throws Exception {
        Path current = store.resolve("CURRENT");
        Files.writeString(current, Files.readString(current).replace("checkpoint-", "checkpoint_"));
        assertRefused("garbled CURRENT", current);
    }

    @Test
    void missingPointer() throws Exception {
        Files.delete(store.resolve("CURRENT"));
        assertRefused("missing CURRENT", store.resolve("CURRENT"));
    }

    @Test
    void garbledSegmentHeader() throws Exception {
        Path segment = segment();
        try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "rw")) {
            f.write("garbage!".getBytes());
        }
        assertRefused("garbled segment header", segment);
    }

    /**
     * An entry in the middle of the log damaged after it was synced (the POLICY change), with the
     * enrolment after it sound: not a torn end, so the rest must not be dropped in silence.
     */
    @Test
    void anEntryDamagedInTheMiddleOfTheLog() throws Exception {
        Path segment = segment();
        try (RandomAccessFile f = new RandomAccessFile(segment.toFile(), "rw")) {
            f.seek(64 + 40); // inside the first entry's body
            int b = f.read();
            f.seek(64 + 40);
            f.write(b ^ 0x01);
        }
        assertRefused("damaged entry", segment);
    }

    @Test
    void randomNoiseOverTheCheckpoint() throws Exception {
        Path cp = checkpoint();
        byte[] noise = new byte[4096];
        new Random(42).nextBytes(noise);
        try (RandomAccessFile f = new RandomAccessFile(cp.toFile(), "rw")) {
            f.seek(100);
            f.write(noise, 0, (int) Math.min(noise.length, f.length() - 100));
        }
        assertRefused("garbled body", cp);
    }

    @Test
    void missingStoreBesideItsKey() throws Exception {
        try (var files = Files.list(store)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.delete(p);
            }
        }
        Files.delete(store);
        StoreException e = assertThrows(StoreException.class, () -> new TestDaemon(dir).start());
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("restore"), e.getMessage());
        assertEquals(false, Files.exists(store), "no empty store was made");
    }
}
