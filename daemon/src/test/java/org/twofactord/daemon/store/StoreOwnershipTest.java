package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.RealUsers;

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
}
