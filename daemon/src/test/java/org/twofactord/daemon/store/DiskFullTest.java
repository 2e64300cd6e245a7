package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/**
 * The state directory on a small tmpfs that fills up: writes answer ERR unavailable, reads still
 * answer, no OK goes out for anything not stored, and the daemon recovers by itself once space is
 * freed. Needs root to mount.
 */
class DiskFullTest {
    @TempDir
    Path dir;
    Path mount;

    @BeforeEach
    void mountTmpfs() throws Exception {
        RealUsers.requireRoot();
        mount = dir.resolve("state");
        Files.createDirectories(mount);
        RealUsers.sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.toString());
    }

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            RealUsers.sh("umount", "-l", mount.toString());
        }
    }

    private static void fill(Path file) {
        byte[] block = new byte[64 * 1024];
        try (FileOutputStream out = new FileOutputStream(file.toFile())) {
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            // the disk is full
        }
    }

    @Test
    void aFullDiskRefusesWritesAnswersReadsAndRecoversWhenFreed() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            Client c = daemon.client();
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            String confirm = c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            String backup = Json.of(confirm).get("backup_codes").get(0).asText();

            Path filler = mount.resolve("filler");
            fill(filler);
            String unavailable = "ERR unavailable the store cannot be read or written";
            String fresh = Totp.code(secret, daemon.clock, 0);
            c.expect("VERIFY alice " + fresh, unavailable);
            // Fail-stop: after a failed write nothing is answered from the store's memory.
            c.expect("VERIFY alice " + backup, unavailable);
            c.expect("CHECK alice", unavailable);
            c.expect("POLICY REQUIRE", unavailable);
            c.expect("PING", "OK");

            // Space freed and the daemon started again (the service manager does it): it goes on
            // from the last commit, and the refused code was never stored as used.
            Files.delete(filler);
            daemon.restart();
            try (Client again = daemon.client()) {
                again.expect("CHECK alice", "OK {\"required\":true}");
                again.expect("VERIFY alice " + fresh, "OK {\"method\":\"totp\"}");
                again.expect("VERIFY alice " + backup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
                again.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            }
        }
        // And what was written after the recovery is durable.
        try (TestDaemon again = new TestDaemon(dir).start(); Client c = again.client()) {
            c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
        }
    }
}
