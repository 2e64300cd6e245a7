package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/**
 * Roles from the kernel's peer credentials, with real uids: root (this test), an ordinary user,
 * a member of the admin group and a member of the verifier group, each a real process.
 */
class RealPeerCredentialsTest {
    static final String ADMINS = RealUsers.name("peer-admins");
    static final String VERIFIERS = RealUsers.name("peer-verifiers");
    static final String ALICE = RealUsers.name("peer-alice");
    static final String BOB = RealUsers.name("peer-bob");
    static final String ADMIN = RealUsers.name("peer-admin");
    static final String LOGIN = RealUsers.name("peer-login");

    Path dir;
    TestDaemon daemon;

    @BeforeAll
    static void accounts() throws Exception {
        RealUsers.requireRoot();
        RealUsers.group(ADMINS);
        RealUsers.group(VERIFIERS);
        RealUsers.user(ALICE);
        RealUsers.user(BOB);
        RealUsers.user(ADMIN, ADMINS);
        RealUsers.user(LOGIN, VERIFIERS);
    }

    @AfterAll
    static void removeAccounts() throws Exception {
        if (TestDaemon.currentUid() != 0) {
            return;
        }
        RealUsers.removeAll(List.of(ALICE, BOB, ADMIN, LOGIN), List.of(ADMINS, VERIFIERS));
    }

    @BeforeEach
    void start() throws Exception {
        dir = Files.createTempDirectory("tfd-peer");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        daemon = new TestDaemon(dir).rootUid(0).set("socket_mode", "0666")
                .set("admin_group", ADMINS).set("verifier_group", VERIFIERS)
                .set("max_connections_per_uid", "4").start();
        try (Client root = daemon.client()) {
            root.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
        }
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        RealUsers.sh("rm", "-rf", dir.toString());
    }

    private List<String> as(String user, String... lines) throws Exception {
        return RealUsers.talk(user, daemon.socket(), lines);
    }

    @Test
    void anOrdinaryUserMayReadThePolicyButNotChangeIt() throws Exception {
        assertEquals(List.of("OK {\"mode\":\"optional\",\"enabled\":true}",
                "ERR forbidden POLICY changes are for uid 0 only",
                "ERR forbidden ISSUER changes are for uid 0 only",
                "ERR forbidden STATS is for administrators (uid 0 or the admin group)",
                "ERR forbidden VERIFY is for verifiers (uid 0 or the verifier group)",
                "OK"),
                as("nobody", "POLICY", "POLICY ENABLE", "ISSUER SET Evil", "STATS", "VERIFY root 123456", "PING"));
    }

    @Test
    void aMemberOfTheAdminGroupIsAdminButMayNotChangeThePolicy() throws Exception {
        List<String> replies = as(ADMIN, "STATS", "USERS", "UNLOCK " + ALICE, "POLICY DISABLE", "CHECK " + ALICE);
        assertTrue(replies.get(0).startsWith("OK {\"uptime_s\""), replies.get(0));
        assertEquals("OK {\"users\":[]}", replies.get(1));
        assertEquals("OK", replies.get(2));
        assertEquals("ERR forbidden POLICY changes are for uid 0 only", replies.get(3));
        assertEquals("ERR forbidden CHECK is for verifiers (uid 0 or the verifier group)", replies.get(4));
    }

    @Test
    void aMemberOfTheVerifierGroupMayCheckAndVerifyButNotAdminister() throws Exception {
        assertEquals(List.of("OK {\"required\":false,\"reason\":\"not-enrolled\"}",
                "OK {\"method\":\"none\",\"reason\":\"not-enrolled\"}",
                "ERR forbidden USERS is for administrators, or for an owner of accounts (then on its own accounts only)",
                "ERR forbidden ENROLL is for administrators, or for a user on its own name"),
                as(LOGIN, "CHECK " + ALICE, "VERIFY " + ALICE + " 123456", "USERS", "ENROLL " + ALICE));
    }

    @Test
    void selfEnrolsItsOwnNameOnlyAndMustProveChangesOnceEnrolled() throws Exception {
        List<String> first = as(ALICE, "ENROLL " + ALICE, "ENROLL " + BOB, "USER " + BOB, "REMOVE " + BOB);
        String secret = Json.of(first.get(0)).get("secret").asText();
        assertEquals("ERR forbidden ENROLL is for administrators, or for a user on its own name", first.get(1));
        assertEquals("ERR forbidden USER is for administrators, for a user on its own name, or for an owner on the accounts it owns", first.get(2));
        assertEquals("ERR forbidden REMOVE is for administrators, for a user on its own name, or for an owner on the accounts it owns", first.get(3));

        List<String> confirm = as(ALICE, "CONFIRM " + ALICE + " " + Totp.code(secret, daemon.clock, -1), "USER " + ALICE);
        assertTrue(confirm.get(0).startsWith("OK {\"backup_codes\":["), confirm.get(0));
        assertTrue(confirm.get(1).contains("\"enrolled\":true"), confirm.get(1));

        // Enrolled now: changes need a code.
        assertEquals(List.of("NO code-required", "NO code-required", "NO code-required"),
                as(ALICE, "REMOVE " + ALICE, "BACKUP " + ALICE, "ENROLL " + ALICE));
        String wrong = Totp.wrongCode(secret, daemon.clock);
        assertEquals(List.of("NO invalid"), as(ALICE, "REMOVE " + ALICE + " code=" + wrong));
        assertEquals(1, Json.of(as(ALICE, "USER " + ALICE).get(0)).get("failures").asInt(), "a wrong proof is counted");

        String current = Totp.code(secret, daemon.clock, 0);
        List<String> backup = as(ALICE, "BACKUP " + ALICE + " code=" + current);
        assertTrue(backup.get(0).startsWith("OK {\"backup_codes\":["), backup.get(0));
        // The proof was consumed as VERIFY would: the same code cannot prove a second change.
        assertEquals(List.of("NO replayed"), as(ALICE, "REMOVE " + ALICE + " code=" + current));
        // A backup code proves too, once.
        String backupCode = Json.of(backup.get(0)).get("backup_codes").get(0).asText();
        assertEquals(List.of("OK {\"removed\":[\"" + ALICE + "\"],\"not_enrolled\":[]}"),
                as(ALICE, "REMOVE " + ALICE + " code=" + backupCode));
        // Self may not verify, even for itself.
        assertEquals(List.of("ERR forbidden VERIFY is for verifiers (uid 0 or the verifier group)"),
                as(ALICE, "VERIFY " + ALICE + " 123456"));
    }

    @Test
    void adminActsOnOthersWithoutACode() throws Exception {
        try (Client root = daemon.client()) {
            String secret = Json.of(root.call("ENROLL " + BOB)).get("secret").asText();
            assertTrue(root.call("CONFIRM " + BOB + " " + Totp.code(secret, daemon.clock, 0)).startsWith("OK"));
        }
        List<String> replies = as(ADMIN, "BACKUP " + BOB, "REMOVE " + BOB);
        assertTrue(replies.get(0).startsWith("OK {\"backup_codes\":["), replies.get(0));
        assertEquals("OK {\"removed\":[\"" + BOB + "\"],\"not_enrolled\":[]}", replies.get(1));
        assertEquals(List.of("ERR forbidden REMOVE is for administrators, or for an owner of accounts (then on its own accounts only)"),
                as(ALICE, "REMOVE *"));
    }

    @Test
    void anOrdinaryUidOverItsConnectionLimitIsRefusedWhileRootStillConnects() throws Exception {
        List<Process> held = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                Process p = RealUsers.start("nobody", daemon.socket());
                held.add(p);
                p.getOutputStream().write("PING\n".getBytes(StandardCharsets.US_ASCII));
                p.getOutputStream().flush();
                BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
                assertEquals("OK", r.readLine(), "connection " + i + " of nobody is admitted");
            }
            assertEquals(List.of("ERR busy too many connections"), as("nobody", "PING"));
            assertEquals(List.of("OK"), as(ALICE, "PING"), "another uid has its own limit");
            try (Client root = daemon.client()) {
                root.expect("PING", "OK");
            }
        } finally {
            held.forEach(Process::destroy);
        }
    }
}
