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
import org.twofactord.daemon.store.log.Disk;
import org.twofactord.daemon.store.log.LogStore;

/**
 * The state directory on a small tmpfs that fills up. The log's segments are filled with zeros
 * before use, so a full disk is met when a new segment is needed (or a checkpoint written): from
 * then on a change gets ERR unavailable and is not made, reads go on answering from what is on
 * the disk, and once space is freed writes go on by themselves, without a restart. Needs root to
 * mount.
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
        RealUsers.sh("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", mount.toString());
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

    /** Small log segments, and a checkpoint after every change: both meet the full disk soon. */
    private static TestDaemon daemon(Path dir) {
        return new TestDaemon(dir).storeFactory((file, key) -> LogStore.open(file, key, Disk.REAL,
                new LogStore.Settings(64 << 10, 1, 1 << 20, 600_000)));
    }

    @Test
    void aFullDiskRefusesWritesAnswersReadsAndRecoversWhenFreed() throws Exception {
        try (TestDaemon daemon = daemon(dir).start()) {
            Client c = daemon.client();
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            String confirm = c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            String backup = Json.of(confirm).get("backup_codes").get(0).asText();

            Path filler = mount.resolve("filler");
            fill(filler);
            // Policy changes until one is refused: the segment in use had room for some.
            String unavailable = "ERR unavailable the store cannot be read or written";
            boolean required = false;
            int answered = 0;
            String reply;
            while (true) {
                String mode = required ? "ENABLE" : "REQUIRE";
                reply = c.call("POLICY " + mode);
                if (!reply.startsWith("OK")) {
                    break;
                }
                required = !required;
                answered++;
                assertTrue(answered < 100_000, "the disk never filled up");
            }
            assertEquals(unavailable, reply);
            // Reads answer from what is on the disk: the last policy change that was answered OK
            // (not the refused one), and alice's enrolment.
            String policy = "OK {\"mode\":\"" + (required ? "required" : "optional") + "\",\"enabled\":true}";
            c.expect("POLICY", policy);
            c.expect("CHECK alice", "OK {\"required\":true}");
            String fresh = Totp.code(secret, daemon.clock, 0);
            c.expect("VERIFY alice " + fresh, unavailable);
            c.expect("VERIFY alice " + backup, unavailable);
            c.expect("POLICY", policy);
            c.expect("CHECK alice", "OK {\"required\":true}");
            c.expect("PING", "OK");


            // Space freed: writes go on, no restart; the refused code was never stored as used.
            Files.delete(filler);
            c.expect("VERIFY alice " + fresh, "OK {\"method\":\"totp\"}");
            c.expect("VERIFY alice " + backup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
            c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("VERIFY alice " + fresh, "NO replayed");
            c.close();
        }
        // And everything answered is durable, through the checkpoints that failed on the full disk.
        try (TestDaemon again = daemon(dir).start(); Client c = again.client()) {
            c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("CHECK alice", "OK {\"required\":true}");
        }
    }
}
