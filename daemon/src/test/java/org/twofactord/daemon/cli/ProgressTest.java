package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.log.LogStore;

/**
 * Long work shows how far it has got on a terminal (a count rewritten with \r, at most every half
 * second) and prints only its summary line off one: store export and import of 20,000 users,
 * import google-authenticator --dir over many home directories.
 */
class ProgressTest {
    @TempDir
    Path dir;

    private static final int USERS = 20_000;

    @Test
    void aTerminalSeesTheCountEveryHalfSecondAndNothingElse() {
        StringWriter err = new StringWriter();
        Io io = new Io(new BufferedReader(new StringReader("")), new PrintWriter(new StringWriter()),
                new PrintWriter(err), true);
        AtomicLong now = new AtomicLong();
        try (Progress p = new Progress(io, "users imported", 10, now::get)) {
            for (int i = 0; i < 10; i++) {
                now.addAndGet(200_000_000L); // 0.2 s a step: shown after the 3rd, 6th and 9th
                p.step();
            }
        }
        assertEquals("\r0/10 users imported\r3/10 users imported\r6/10 users imported\r9/10 users imported"
                + "\r10/10 users imported\n", err.toString());

        StringWriter quiet = new StringWriter();
        Io log = new Io(new BufferedReader(new StringReader("")), new PrintWriter(new StringWriter()),
                new PrintWriter(quiet), false);
        try (Progress p = new Progress(log, "users imported", 10, now::get)) {
            for (int i = 0; i < 10; i++) {
                now.addAndGet(600_000_000L);
                p.step();
            }
        }
        assertEquals("", quiet.toString());
    }

    @Test
    void storeExportAndImportOfTwentyThousandUsers() throws Exception {
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        MasterKey key = MasterKey.loadOrCreate(state.resolve("master.key"), true, new SecureRandom());
        try (LogStore store = LogStore.open(state.resolve("store"), key)) {
            Store tx = store.inTransaction();
            for (int i = 0; i < USERS; i++) {
                String name = "user" + i;
                tx.putUser(name, new UserRecord(key.seal(name, new byte[20]), 1, 0, 0, 0, 0, 0, 0, new byte[0], 0));
            }
            store.commit();
        }
        Path config = dir.resolve("mapdb.conf");
        Files.writeString(config, "store = mapdb\n");

        Path quietFile = dir.resolve("quiet.json");
        Cli.Run quiet = Cli.run(null, "", false, "store", "export", quietFile.toString(), "--config", config.toString(),
                "--state-dir", state.toString());
        assertEquals(0, quiet.exit(), quiet.err());
        assertEquals("exported " + USERS + " users and 0 pending enrolments to " + quietFile + "\n", quiet.out());
        assertEquals("", quiet.err(), "off a terminal: the summary only");

        Path shownFile = dir.resolve("shown.json");
        Cli.Run shown = Cli.run(null, "", true, "store", "export", shownFile.toString(), "--config", config.toString(),
                "--state-dir", state.toString());
        assertEquals(0, shown.exit(), shown.err());
        assertEquals("exported " + USERS + " users and 0 pending enrolments to " + shownFile + "\n", shown.out());
        assertTrue(shown.err().startsWith("\r0 names exported"), shown.err());
        assertTrue(shown.err().endsWith("\r" + USERS + " names exported\n"), shown.err());
        assertFalse(shown.err().contains("\n\r"), "one line, rewritten in place");

        for (boolean terminal : new boolean[] {false, true}) {
            Path target = dir.resolve("imported-" + terminal);
            Files.createDirectories(target);
            Files.copy(state.resolve("master.key"), target.resolve("master.key"));
            Cli.Run imported = Cli.run(null, "", terminal, "store", "import", quietFile.toString(), "--config",
                    config.toString(), "--state-dir", target.toString());
            assertEquals(0, imported.exit(), imported.err());
            assertEquals("imported " + USERS + " users and 0 pending enrolments from " + quietFile + "\n",
                    imported.out());
            if (terminal) {
                assertTrue(imported.err().startsWith("\r0 records checked"), imported.err());
                assertTrue(imported.err().endsWith("\r" + USERS + " records checked\n"), imported.err());
            } else {
                assertEquals("", imported.err());
            }
        }
    }

    @Test
    void importOverManyHomeDirectories() throws Exception {
        int homes = 1_000;
        Path home = dir.resolve("home");
        for (int i = 0; i < homes; i++) {
            Path user = Files.createDirectories(home.resolve("user" + i));
            Files.writeString(user.resolve(".google_authenticator"), "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n");
        }
        try (TestDaemon daemon = new TestDaemon(dir.resolve("daemon")).start()) {
            Cli.Run quiet = Cli.run(daemon.socket(), "", false, "import", "google-authenticator", "--dir",
                    home.toString());
            assertEquals(0, quiet.exit(), quiet.out() + quiet.err());
            assertEquals("imported " + homes + " users\n", quiet.out(), "off a terminal: the summary line only");
            assertEquals("", quiet.err());

            // IMPORT replaces what an account had, so the same directories import again.
            Cli.Run shown = Cli.run(daemon.socket(), "", true, "import", "google-authenticator", "--dir",
                    home.toString());
            assertEquals(0, shown.exit(), shown.out() + shown.err());
            assertEquals("imported " + homes + " users\n", shown.out());
            assertTrue(shown.err().startsWith("\r0/" + homes + " users imported"), shown.err());
            assertTrue(shown.err().endsWith("\r" + homes + "/" + homes + " users imported\n"), shown.err());
        }
    }
}
