package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.log.LogStore;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.UserRecord;

/** store backup takes a consistent copy while the daemon runs; store check reads every record. */
class StoreCommandTest {
    @TempDir
    Path dir;

    @Test
    void backupWhileRunningThenTheCopyServesTheSameUsers() throws Exception {
        Path backup = dir.resolve("backups/monday");
        String secret;
        try (TestDaemon daemon = new TestDaemon(dir.resolve("live")).start(); Client c = daemon.client()) {
            c.call("POLICY REQUIRE");
            secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            c.call("ENROLL bob");
            Cli.Run r = Cli.run(daemon.socket(), "store", "backup", backup.toString());
            assertEquals(0, r.exit(), r.out() + r.err());
            assertTrue(r.out().contains("backup written to " + backup), r.out());
            assertTrue(r.out().contains("1 users, 1 pending enrolments, policy required"), r.out());
            assertTrue(r.out().contains("the copy checks out"), r.out());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(backup)));
            assertTrue(Files.exists(backup.resolve("master.key")));
            assertEquals(0, Files.list(daemon.stateDir().resolve("snapshots")).count(), "the snapshot was moved out");
            // The daemon goes on after the snapshot.
            c.expect("VERIFY alice " + Totp.code(secret, daemon.clock, 0), "OK {\"method\":\"totp\"}");
            Cli.Run again = Cli.run(daemon.socket(), "store", "backup", backup.toString());
            assertEquals(2, again.exit(), "an existing directory is not overwritten");
        }
        // Restore: a daemon on the copy has the same users and policy.
        Path restored = dir.resolve("restored");
        Files.createDirectories(restored);
        try (TestDaemon daemon = new TestDaemon(restored)
                .editConfig(c -> c.withPaths(restored.resolve("tfd.sock"), backup)).start(); Client c = daemon.client()) {
            c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
            assertTrue(Json.of(c.call("USER alice")).get("enrolled").asBoolean());
            assertTrue(Json.of(c.call("USER bob")).get("pending").asBoolean());
        }
    }

    @Test
    void checkRefusesAStoreInUseAndFindsADamagedRecord() throws Exception {
        TestDaemon daemon = new TestDaemon(dir).start();
        try (Client c = daemon.client()) {
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, 0));
            c.call("ENROLL bob");
        }
        Path state = daemon.stateDir();
        Cli.Run busy = Cli.run(null, "store", "check", "--state-dir", state.toString());
        assertEquals(4, busy.exit());
        assertTrue(busy.err().contains("in use by another process"), busy.err());
        assertTrue(busy.err().contains("stop it, or check a consistent copy while it runs with 'twofactord store "
                + "backup DIR'"), busy.err());
        assertEquals("", busy.out(), "nothing read from a store in use");
        daemon.stop();

        Cli.Run ok = Cli.run(null, "store", "check", "--state-dir", state.toString());
        assertEquals(0, ok.exit(), ok.out() + ok.err());
        assertTrue(ok.out().endsWith("ok\n"), ok.out());

        // Damage one secret, as a bit flip on disk would: the check names the user.
        MasterKey key = MasterKey.loadOrCreate(state.resolve("master.key"), false, new SecureRandom());
        try (LogStore store = LogStore.open(state.resolve("store"), key)) {
            UserRecord r = store.user("alice").orElseThrow();
            byte[] sealed = r.sealedSecret().clone();
            sealed[sealed.length - 1] ^= 1;
            store.putUser("alice", new UserRecord(sealed, r.generation(), r.lastStep(), 0, 0, 0, r.enrolledAt(), 0,
                    r.backupHashes(), 0));
            store.commit();
        }
        Cli.Run bad = Cli.run(null, "store", "check", "--state-dir", state.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.out().contains("problem: alice: a secret cannot be decrypted"), bad.out());
    }
    @Test
    void devFindsTheDevStoreFromAFolderBelowAsTheClientCommandsDo() throws Exception {
        Path top = dir.resolve("checkout");
        TestDaemon daemon = new TestDaemon(top).start();
        try (Client c = daemon.client()) {
            c.call("ENROLL alice");
        }
        daemon.stop();
        Files.move(daemon.stateDir(), top.resolve(".twofactord-dev"));
        Path below = Files.createDirectories(top.resolve("daemon/src"));

        Cli.Run check = Cli.runIn(below, java.util.Map.of(), "store", "check", "--dev");
        assertEquals(0, check.exit(), check.out() + check.err());
        assertTrue(check.out().endsWith("ok\n"), check.out());
        Path export = dir.resolve("dev.export");
        Cli.Run exported = Cli.runIn(below, java.util.Map.of(), "store", "export", "--dev", export.toString());
        assertEquals(0, exported.exit(), exported.out() + exported.err());
        assertTrue(Files.size(export) > 0);

        // Nowhere above: a usage error that says where it looked, not a missing store.
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere/deeper"));
        Cli.Run lost = Cli.runIn(elsewhere, java.util.Map.of(), "store", "check", "--dev");
        assertEquals(2, lost.exit(), lost.out() + lost.err());
        assertTrue(lost.err().contains("--dev: no .twofactord-dev folder"), lost.err());
        Cli.Run lostExport = Cli.runIn(elsewhere, java.util.Map.of(), "store", "export", "--dev", "x.export");
        assertEquals(2, lostExport.exit(), lostExport.out() + lostExport.err());
    }
}
