package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.legacy.MapDbStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.store.log.LogStore;

/**
 * Root running an offline command on the service user's state directory (store check, store
 * import) must not leave files the daemon cannot open: the files it makes get the directory's owner.
 */
class StoreOwnershipTest {
    @Test
    void filesRootMakesInTheStateDirectoryBelongToItsOwner() throws Exception {
        RealUsers.requireRoot();
        Path dir = Files.createTempDirectory("tfd-owner");
        try {
            RealUsers.sh("chown", "nobody", dir.toString());
            MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
            try (MapDbStore store = MapDbStore.open(dir.resolve("twofactord.db"), key)) {
                store.putUser("alice", new UserRecord(key.seal("alice", new byte[20]), 1, 1, 0, 0, 0, 1L, 0,
                        new byte[0], 0));
                store.sync(List.of("alice"));
            }
            for (String name : List.of("twofactord.db", "twofactord.db.journal")) {
                assertEquals("nobody", Files.getOwner(dir.resolve(name)).getName(), name);
            }
        } finally {
            RealUsers.sh("rm", "-rf", dir.toString());
        }
    }

    /** The same for the log store: its directory, log segments, checkpoints, CURRENT and LOCK. */
    @Test
    void theLogStoresFilesRootMakesBelongToTheStateDirectorysOwner() throws Exception {
        RealUsers.requireRoot();
        Path dir = Files.createTempDirectory("tfd-owner");
        try {
            RealUsers.sh("chown", "nobody", dir.toString());
            MasterKey key = MasterKey.loadOrCreate(dir.resolve("master.key"), true, new SecureRandom());
            for (int open = 0; open < 2; open++) { // made, then opened again (a new segment)
                try (LogStore store = LogStore.open(dir.resolve("store"), key)) {
                    store.putUser("alice" + open, new UserRecord(key.seal("alice", new byte[20]), 1, 1, 0, 0, 0, 1L, 0,
                            new byte[0], 0));
                    store.requestCheckpoint();
                    store.commit();
                }
            }
            List<Path> files;
            try (var walk = Files.walk(dir.resolve("store"))) {
                files = walk.toList();
            }
            assertTrue(files.stream().anyMatch(p -> p.getFileName().toString().startsWith("checkpoint-")
                    && !p.getFileName().toString().equals("checkpoint-0000000000000000.db")), files.toString());
            for (Path p : files) {
                assertEquals("nobody", Files.getOwner(p).getName(), p.toString());
            }
        } finally {
            RealUsers.sh("rm", "-rf", dir.toString());
        }
    }
}
