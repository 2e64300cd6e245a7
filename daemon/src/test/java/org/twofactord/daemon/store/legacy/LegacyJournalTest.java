package org.twofactord.daemon.store.legacy;

import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal that makes an accepted code durable without a commit. A crash is simulated by
 * copying the store's files while it is open (what a kill -9 leaves on the disk), and opening the
 * copy.
 */
class LegacyJournalTest {
    @TempDir
    Path dir;

    private MasterKey key;

    @BeforeEach
    void key() throws Exception {
        key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
    }

    private UserRecord record(long lastStep) {
        return new UserRecord(key.seal("alice", new byte[20]), 1, lastStep, 0, 0, 0, 1_700_000_000L, 0,
                new byte[0], 0);
    }

    /** The store's files as a crash at this instant would leave them, in a directory of their own. */
    private Path crashImage(Path live, String name) throws IOException {
        Path image = Files.createDirectory(dir.resolve(name));
        try (var files = Files.list(live)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.copy(p, image.resolve(p.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
        return image.resolve("twofactord.db");
    }

    @Test
    void aSyncedRecordSurvivesACrashBeforeTheCommitAndOnlyOnce() throws Exception {
        Path live = Files.createDirectory(dir.resolve("live"));
        try (MapDbStore store = MapDbStore.open(live.resolve("twofactord.db"), key)) {
            store.putUser("alice", record(1));
            store.putUser("bob", record(1));
            store.commit();
            store.putUser("alice", record(5));
            store.putUser("bob", record(9)); // not synced: a lazy change
            store.sync(List.of("alice"));
            Path image = crashImage(live, "crash");
            try (MapDbStore reopened = MapDbStore.open(image, key)) {
                assertEquals(5, reopened.user("alice").orElseThrow().lastStep(), "the synced record was lost");
            }
            try (MapDbStore again = MapDbStore.open(image, key)) { // the replay was committed
                assertEquals(5, again.user("alice").orElseThrow().lastStep());
                assertEquals(0, Files.size(MapDbStore.journalPath(image)));
            }
        }
    }

    @Test
    void entriesOlderThanTheLastCommitAreNotReplayedEvenIfTheFileWasNotEmptied() throws Exception {
        Path live = Files.createDirectory(dir.resolve("live"));
        Path journalBeforeRemoval = dir.resolve("journal-copy");
        try (MapDbStore store = MapDbStore.open(live.resolve("twofactord.db"), key)) {
            store.putUser("alice", record(1));
            store.commit();
            store.putUser("alice", record(5));
            store.sync(List.of("alice"));
            Files.copy(MapDbStore.journalPath(live.resolve("twofactord.db")), journalBeforeRemoval);
            store.removeUser("alice"); // an admin's REMOVE, committed
            store.commit();
            Path image = crashImage(live, "crash");
            // The emptying of the journal did not reach the disk before the crash.
            Files.copy(journalBeforeRemoval, MapDbStore.journalPath(image), StandardCopyOption.REPLACE_EXISTING);
            try (MapDbStore reopened = MapDbStore.open(image, key)) {
                assertTrue(reopened.user("alice").isEmpty(), "a removed user came back from the journal");
            }
        }
    }

    @Test
    void entriesNewerThanTheCommitTheStoreCameBackWithAreReplayed() throws Exception {
        Path live = Files.createDirectory(dir.resolve("live"));
        Path file = live.resolve("twofactord.db");
        Path olderStore = Files.createDirectory(dir.resolve("older"));
        try (MapDbStore store = MapDbStore.open(file, key)) {
            store.putUser("alice", record(1));
            store.commit();
            try (var files = Files.list(live)) { // the store files as of this commit
                for (Path p : (Iterable<Path>) files::iterator) {
                    if (!p.getFileName().toString().endsWith(".journal")) {
                        Files.copy(p, olderStore.resolve(p.getFileName()));
                    }
                }
            }
            store.putUser("bob", record(1));
            store.commit(); // a commit MapDB reported done, and then (say) lost
            store.putUser("alice", record(9));
            store.sync(List.of("alice"));
            Files.copy(MapDbStore.journalPath(file), MapDbStore.journalPath(olderStore.resolve("twofactord.db")));
        }
        try (MapDbStore reopened = MapDbStore.open(olderStore.resolve("twofactord.db"), key)) {
            assertEquals(9, reopened.user("alice").orElseThrow().lastStep(), "an acknowledged code was forgotten");
        }
    }

    @Test
    void aTornLastEntryEndsTheReplayAndTheEntriesBeforeItCount() throws Exception {
        Path live = Files.createDirectory(dir.resolve("live"));
        Path file = live.resolve("twofactord.db");
        try (MapDbStore store = MapDbStore.open(file, key)) {
            store.putUser("alice", record(1));
            store.putUser("bob", record(1));
            store.commit();
            store.putUser("alice", record(7));
            store.sync(List.of("alice"));
            store.putUser("bob", record(8));
            store.sync(List.of("bob"));
            Path image = crashImage(live, "crash");
            Path journal = MapDbStore.journalPath(image);
            long size = Files.size(journal);
            // Cut bob's entry in half, as a crash while appending would.
            try (var ch = java.nio.channels.FileChannel.open(journal, StandardOpenOption.WRITE)) {
                ch.truncate(size - 10);
            }
            try (MapDbStore reopened = MapDbStore.open(image, key)) {
                assertEquals(7, reopened.user("alice").orElseThrow().lastStep());
                assertEquals(1, reopened.user("bob").orElseThrow().lastStep(), "a torn entry was applied");
            }
        }
    }

    @Test
    void theJournalIsReadableOnlyByItsOwner() throws Exception {
        Path file = dir.resolve("twofactord.db");
        try (MapDbStore store = MapDbStore.open(file, key)) {
            store.putUser("alice", record(1));
            store.sync(List.of("alice"));
        }
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(MapDbStore.journalPath(file))));
    }
}
