package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** Every subcommand in-process against a real daemon on a temp socket: output and exit codes. */
class CliTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Pattern KEY = Pattern.compile("key: +([A-Z2-7 ]+)\n");

    @TempDir
    Path dir;
    TestDaemon daemon;
    Path socket;

    @BeforeEach
    void start() throws Exception {
        daemon = new TestDaemon(dir).start();
        socket = daemon.socket();
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    static String key(String output) {
        Matcher m = KEY.matcher(output);
        assertTrue(m.find(), output);
        return m.group(1).replace(" ", "");
    }

    /** Types, at each prompt, the next of {@code offsets}: the code of that step for the key shown. */
    private Cli.Typist typing(int... offsets) {
        int[] next = {0};
        return out -> next[0] < offsets.length
                ? (offsets[next[0]] == Integer.MIN_VALUE ? wrong(key(out), next) : Totp.code(key(out), daemon.clock, offsets[next[0]++]))
                : null;
    }

    private String wrong(String secret, int[] next) {
        next[0]++;
        return Totp.wrongCode(secret, daemon.clock);
    }

    private List<String> enrol(String user) {
        Cli.Run r = Cli.run(socket, typing(-1), false, "enroll", user, "--no-qr");
        String secret = key(r.out());
        assertEquals(0, r.exit(), r.out() + r.err());
        List<String> backup = new ArrayList<>();
        Matcher m = Pattern.compile("\\d{5}-\\d{5}").matcher(r.out());
        while (m.find()) {
            backup.add(m.group());
        }
        assertEquals(10, backup.size(), r.out());
        return List.of(secret, backup.get(0), backup.get(1));
    }

    @Test
    void statusPolicyAndIssuer() throws Exception {
        Cli.Run status = Cli.run(socket, "status");
        assertEquals(0, status.exit());
        assertTrue(status.out().contains("daemon:   twofactord/test (protocol 1) at " + socket), status.out());
        assertTrue(status.out().contains("policy:   disabled (nobody is asked for a code)"));
        assertTrue(status.out().contains("users:    0 enrolled"));
        assertEquals(new Cli.Run(0, "policy disabled: nobody is asked for a code (mode disabled)\n", ""),
                Cli.run(socket, "policy", "disable"));
        assertEquals(new Cli.Run(0, "policy enabled: enrolled users are asked for a code (mode optional)\n", ""),
                Cli.run(socket, "policy", "enable"));
        assertEquals(new Cli.Run(0, "policy: optional\n", ""), Cli.run(socket, "policy"));
        assertEquals(new Cli.Run(0, "policy set to require: enrolled users are asked for a code, users without 2FA are "
                + "refused (mode required)\n", ""), Cli.run(socket, "policy", "REQUIRE"));
        assertEquals(new Cli.Run(0, "policy: required\n", ""), Cli.run(socket, "policy"));
        assertEquals(2, Cli.run(socket, "policy", "sometimes").exit());
        assertEquals(new Cli.Run(0, "issuer: Acme Hosting\n", ""), Cli.run(socket, "issuer", "set", "Acme", "Hosting"));
        Cli.Run bad = Cli.run(socket, "issuer", "set", "a:b");
        assertEquals(2, bad.exit());
        assertEquals("twofactord: bad-request: an issuer is printable characters without ':'\n", bad.err());
        assertTrue(Cli.run(socket, "issuer", "reset").out().endsWith("(the host name, default)\n"));
        JsonNode all = JSON.readTree(Cli.run(socket, "status", "--json").out());
        assertEquals("required", all.get("policy").get("mode").asText());
        assertEquals(0, all.get("stats").get("users").asInt());
    }

    @Test
    void enrolWithATypedCodeThenVerifyReplayAndBackup() throws Exception {
        Cli.run(socket, "policy", "enable");
        Cli.Run r = Cli.run(socket, typing(0), false, "enroll", "alice");
        assertEquals(32, key(r.out()).length());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Scan this QR code with your authenticator app:"));
        assertTrue(r.out().contains("█"), "the QR code is drawn");
        assertTrue(r.out().contains("account: "), r.out());
        assertTrue(r.out().contains("Two-factor authentication is on for alice."));
        assertTrue(r.out().contains("Keep these backup codes somewhere safe"));
        String newSecret = key(r.out());
        String code = Totp.code(newSecret, daemon.clock, 1);
        assertEquals(new Cli.Run(0, "yes: the code is accepted\n", ""), Cli.run(socket, "verify", "alice", code));
        assertEquals(new Cli.Run(1, "no: that code was already used; wait for the next one\n", ""),
                Cli.run(socket, "verify", "alice", code));
        assertEquals(new Cli.Run(1, "{\"result\":\"no\",\"reason\":\"replayed\"}\n", ""),
                Cli.run(socket, "verify", "alice", code, "--json"));
        assertEquals("{\"method\":\"none\",\"reason\":\"not-enrolled\"}\n", Cli.run(socket, "verify", "bob", "1", "--json").out());
    }

    @Test
    void aWrongCodeExplainsAndAClockSkewSaysHowFar() throws Exception {
        Cli.Run r = Cli.run(socket, typing(Integer.MIN_VALUE, 6), false, "enroll", "alice", "--no-qr");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("The security code is invalid. Type the code the app shows now."), r.err());
        assertTrue(r.err().contains("The security code is invalid. It matches a time 180 seconds ahead of this "
                + "server's clock: check the time on the phone"), r.err());
        assertTrue(r.err().contains("the enrolment stays pending for 10 minutes"), r.err());
    }

    @Test
    void usersUserBackupUnlockRemoveAndStats() throws Exception {
        Cli.run(socket, "policy", "enable");
        List<String> alice = enrol("alice");
        enrol("bob");
        Cli.Run users = Cli.run(socket, "users");
        String[] lines = users.out().split("\n");
        assertTrue(lines[0].matches("USER +ENROLLED AT +LAST USED +BACKUP +FAILURES +LOCKED UNTIL +REQUIRED +OWNER"),
                lines[0]);
        assertTrue(lines[1].matches("alice +\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z +- +10 +0 +- +- +-"), lines[1]);
        assertTrue(lines[2].startsWith("bob "), lines[2]);
        JsonNode json = JSON.readTree(Cli.run(socket, "users", "--json").out());
        assertEquals(2, json.get("users").size());
        assertTrue(Cli.run(socket, "user", "alice").out().contains("backup codes: 10 left"));
        assertEquals("alice", JSON.readTree(Cli.run(socket, "user", "alice", "--json").out()).get("user").asText());

        for (int i = 0; i < 5; i++) {
            assertEquals(1, Cli.run(socket, "verify", "alice", "000000").exit());
        }
        Cli.Run locked = Cli.run(socket, "verify", "alice", Totp.code(alice.get(0), daemon.clock, 0));
        assertEquals(new Cli.Run(1, "no: too many wrong codes; the account is locked for now; try again in 60 s\n", ""), locked);
        assertEquals(new Cli.Run(1, "{\"result\":\"no\",\"reason\":\"locked\",\"retry_after\":60}\n", ""),
                Cli.run(socket, "verify", "alice", "000000", "--json"));
        String lockedRow = Cli.run(socket, "users").out().split("\n")[1];
        assertTrue(lockedRow.matches("alice .* 5 +\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z +- +-"),
                "the failures that led to the lock, next to it: " + lockedRow);
        assertEquals(new Cli.Run(0, "unlocked: alice\n", ""), Cli.run(socket, "unlock", "alice"));
        assertEquals(0, Cli.run(socket, "verify", "alice", alice.get(1)).exit());

        Cli.Run backup = Cli.run(socket, "backup", "alice");
        assertEquals(0, backup.exit());
        assertTrue(backup.out().startsWith("New backup codes for alice"));
        assertEquals(1, Cli.run(socket, "verify", "alice", alice.get(2)).exit(), "old backup codes stop working");

        assertTrue(Cli.run(socket, "stats").out().contains("verify_ok"));
        assertTrue(JSON.readTree(Cli.run(socket, "stats", "--json").out()).get("verify_ok").asInt() >= 1);

        assertEquals(new Cli.Run(0, "removed: alice\nhad no 2FA: carol\n", ""), Cli.run(socket, "remove", "alice", "carol"));
        assertEquals(2, Cli.run(socket, "remove").exit());
        Cli.Run refused = Cli.run(socket, "remove", "--all");
        assertEquals(2, refused.exit());
        assertTrue(refused.err().contains("needs --yes when not run on a terminal"));
        assertEquals(1, Cli.run(socket, "no\n", true, "remove", "--all").exit());
        assertEquals(new Cli.Run(0, "removed: bob\n", ""), Cli.run(socket, "remove", "--all", "--yes"));
    }

    /**
     * In dev mode (and here) this uid counts as root, which needs no code for any change; --as
     * NAME shows the self role: a change to NAME's own account then needs NAME's code.
     */
    @Test
    void asShowsTheSelfRoleInDevMode() throws Exception {
        Cli.run(socket, "policy", "enable");
        List<String> alice = enrol("alice");
        String wrong = Totp.wrongCode(alice.get(0), daemon.clock);
        assertEquals(new Cli.Run(1, "", "twofactord: no: the security code is invalid\n"),
                Cli.run(socket, "backup", "alice", "--as", "alice", "--code", wrong));
        Cli.Run noCode = Cli.run(socket, "backup", "alice", "--as", "alice");
        assertEquals(new Cli.Run(1, "This account has two-factor authentication. Enter a current code or a backup code: \n",
                "twofactord: no: this account has two-factor authentication: a current code is needed\n"), noCode);
        assertEquals(0, Cli.run(socket, "backup", "alice", "--as", "alice", "--code", alice.get(1)).exit(), "her own backup code");
        assertEquals(0, Cli.run(socket, "backup", "alice", "--code", wrong).exit(), "as root no code is asked for");
    }

    /** require/unrequire, users --owner, remove --all --except, and --as (protocol 1.1) through the command line. */
    @Test
    void requireOwnersExceptAndAs() throws Exception {
        daemon.close();
        Path owners = dir.resolve("owners");
        java.nio.file.Files.writeString(owners, "alice: reseller\nbob: reseller\ncarol: other\n");
        daemon = new TestDaemon(dir).users(TestDaemon.fixedUsers(java.util.Map.of(TestDaemon.currentUid(), "root",
                2001L, "reseller", 2002L, "alice"), java.util.Map.of())).set("owners_file", owners.toString()).start();
        socket = daemon.socket();
        Cli.run(socket, "policy", "enable");
        assertEquals(new Cli.Run(0, "required: dora\nrequired: erin\n", ""), Cli.run(socket, "require", "dora", "erin"));
        assertTrue(Cli.run(socket, "user", "dora").out().contains("required:     yes (marked: must enrol"));
        assertEquals(1, Cli.run(socket, "verify", "dora", "123456").exit(), "refused until she enrols");
        assertEquals(new Cli.Run(0, "not required: erin\n", ""), Cli.run(socket, "unrequire", "erin"));
        Cli.Run bad = Cli.run(socket, "require", "bad name");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("'bad name' is not a valid user name"), bad.err());
        for (String name : List.of("alice", "bob", "carol")) {
            enrol(name);
        }
        String[] owned = Cli.run(socket, "users", "--owner", "reseller").out().split("\n");
        assertEquals(3, owned.length, String.join("\n", owned));
        assertTrue(owned[1].startsWith("alice ") && owned[1].endsWith(" reseller"), owned[1]);
        assertEquals(3, Cli.run(socket, "stats", "--as", "reseller").exit(), "as= narrows: a reseller is no admin");
        assertEquals(2, Cli.run(socket, "users", "--as", "bad name").exit());
        assertEquals(new Cli.Run(0, "removed: bob\n", ""),
                Cli.run(socket, "remove", "--all", "--except", "alice", "--yes", "--as", "reseller"));
        assertTrue(JSON.readTree(Cli.run(socket, "user", "carol", "--json").out()).get("enrolled").asBoolean(),
                "another reseller's account is untouched");
        assertEquals(2, Cli.run(socket, "remove", "alice", "--except", "bob").exit());
    }

    @Test
    void exitCodesForUsageAndAnUnreachableDaemon() {
        assertEquals(2, Cli.run(null, "frobnicate").exit());
        assertEquals(2, Cli.run(null, "verify", "only-one-arg").exit());
        Cli.Run gone = Cli.run(dir.resolve("nothing.sock"), "status");
        assertEquals(4, gone.exit());
        assertTrue(gone.err().startsWith("twofactord: cannot connect to the daemon at " + dir.resolve("nothing.sock")
                + ": no such file. Is the daemon running?"), gone.err());
        Cli.Run help = Cli.run(null, "--help");
        assertEquals(0, help.exit());
        assertTrue(help.out().contains("Exit codes: 0 ok (yes), 1 no"));
        for (String sub : List.of("serve", "status", "policy", "users", "enroll", "remove", "verify", "import")) {
            Cli.Run subHelp = Cli.run(null, sub, "--help");
            assertEquals(0, subHelp.exit(), sub + ": " + subHelp.err());
            assertTrue(subHelp.out().startsWith("Usage: twofactord " + sub), subHelp.out());
        }
        Cli.Run importHelp = Cli.run(null, "import", "pam-oath", "--help");
        assertEquals(0, importHelp.exit(), importHelp.err());
    }

    /** oathtool's TOTP code for a time (CI installs oathtool; elsewhere our own generator stands in). */
    private String oathtool(String base32, long epochSecond) throws Exception {
        boolean ci = "true".equals(System.getenv("CI"));
        try {
            Process p = new ProcessBuilder("oathtool", "--totp", "-b", "-N", "@" + epochSecond, base32).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            if (p.waitFor() == 0) {
                return out;
            }
        } catch (java.io.IOException e) {
            if (ci) {
                throw e;
            }
        }
        if (ci) {
            throw new AssertionError("oathtool failed");
        }
        return Totp.code(base32, java.time.Clock.fixed(java.time.Instant.ofEpochSecond(epochSecond), java.time.ZoneOffset.UTC), 0);
    }

    @Test
    void importGoogleAuthenticatorAndPamOathFilesKeepsTheSecretsWorking() throws Exception {
        Cli.run(socket, "policy", "enable");
        String gaSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        Path home = dir.resolve("homes/carol");
        Files.createDirectories(home);
        Files.writeString(home.resolve(".google_authenticator"), gaSecret + "\n\" RATE_LIMIT 3 30 1700000000\n"
                + "\" WINDOW_SIZE 17\n\" DISALLOW_REUSE 57000000\n\" TOTP_AUTH\n11223344\n55667788\n");
        Path hotp = dir.resolve("homes/hank");
        Files.createDirectories(hotp);
        Files.writeString(hotp.resolve(".google_authenticator"), gaSecret + "\n\" HOTP_COUNTER 1\n12345678\n");
        Cli.Run ga = Cli.run(socket, "import", "google-authenticator", "--dir", dir.resolve("homes").toString());
        assertEquals(1, ga.exit(), ga.out());
        assertTrue(ga.out().endsWith("\nimported 1 users, skipped 1\n"), ga.out());
        assertTrue(ga.out().contains("note: carol: \" WINDOW_SIZE is not honoured per user"), ga.out());
        assertTrue(ga.out().contains("note: carol: 2 scratch code(s) imported as backup codes"), ga.out());
        assertTrue(ga.out().contains("skipped hank: counter-based HOTP (\" HOTP_COUNTER) is not supported"), ga.out());
        // The code an authenticator app would show, made by oathtool for the imported secret.
        assertEquals(0, Cli.run(socket, "verify", "carol", oathtool(gaSecret, daemon.clock.instant().getEpochSecond() + 30)).exit());
        assertEquals("yes: backup code accepted, 1 left\n", Cli.run(socket, "verify", "carol", "11223344").out());
        assertEquals(1, Cli.run(socket, "verify", "carol", "11223344").exit());

        Path oath = dir.resolve("users.oath");
        Files.writeString(oath, "# users\nHOTP/T30 dave - 3132333435363738393031323334353637383930\n"
                + "HOTP erin - 3132333435363738393031323334353637383930 0\nHOTP/T30/8 fay - 31323334353637383930\n");
        Cli.Run po = Cli.run(socket, "import", "pam-oath", oath.toString());
        assertTrue(po.out().endsWith("\nimported 1 users, skipped 2\n"), po.out());
        assertTrue(po.out().contains("skipped erin: counter-based HOTP is not supported"), po.out());
        assertTrue(po.out().contains("skipped fay: this daemon uses 6-digit codes"), po.out());
        assertEquals(1, po.exit());
        String daveSecret = org.twofactord.daemon.totp.Base32.encode("12345678901234567890".getBytes());
        assertEquals(0, Cli.run(socket, "verify", "dave", Totp.code(daveSecret, daemon.clock, 1)).exit());
        // The step current at import counts as used: a code the old system just accepted is not replayed here.
        assertEquals(1, Cli.run(socket, "verify", "dave", Totp.code(daveSecret, daemon.clock, 0)).exit());
        assertFalse(Cli.run(socket, "users").out().contains("hank"));
    }
}
