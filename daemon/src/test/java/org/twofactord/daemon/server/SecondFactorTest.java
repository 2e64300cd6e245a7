package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** Enrol, confirm, verify, replay, lockout and backup codes over a real socket with an injected clock. */
class SecondFactorTest {
    @TempDir
    Path dir;
    TestDaemon daemon;
    Client c;

    @BeforeEach
    void start() throws Exception {
        daemon = new TestDaemon(dir).start();
        c = daemon.client();
        c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
    }

    @AfterEach
    void stop() throws Exception {
        c.close();
        daemon.close();
    }

    /** Enrols {@code user} with a code of the previous step, and returns the secret and backup codes. */
    record Enrolled(String secret, List<String> backup) {
    }

    Enrolled enrol(String user) throws Exception {
        JsonNode enrol = Json.of(c.call("ENROLL " + user));
        String secret = enrol.get("secret").asText();
        String reply = c.call("CONFIRM " + user + " " + Totp.code(secret, daemon.clock, -1));
        assertTrue(reply.startsWith("OK {\"backup_codes\":["), reply);
        List<String> backup = new ArrayList<>();
        Json.of(reply).get("backup_codes").forEach(n -> backup.add(n.asText()));
        return new Enrolled(secret, backup);
    }

    @Test
    void enrolConfirmVerifyThenReplayRefused() throws Exception {
        JsonNode enrol = Json.of(c.call("ENROLL alice"));
        String secret = enrol.get("secret").asText();
        assertEquals(32, secret.length(), "160 bits of Base32 without padding");
        assertEquals(600, enrol.get("expires_in").asInt());
        assertEquals(6, enrol.get("digits").asInt());
        c.expect("CHECK alice", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
        List<String> backup = new ArrayList<>();
        Json.of(c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, 0)))
                .get("backup_codes").forEach(n -> backup.add(n.asText()));
        assertEquals(10, backup.size());
        backup.forEach(b -> assertTrue(b.matches("\\d{5}-\\d{5}"), b));
        c.expect("CHECK alice", "OK {\"required\":true}");
        // The confirming code's step is used up too.
        c.expect("VERIFY alice " + Totp.code(secret, daemon.clock, 0), "NO replayed");
        String next = Totp.code(secret, daemon.clock, 1);
        c.expect("VERIFY alice " + next + " service=sshd rhost=10.0.0.1", "OK {\"method\":\"totp\"}");
        c.expect("VERIFY alice " + next, "NO replayed");
    }

    @Test
    void windowEdgesWithAnInjectedClock() throws Exception {
        Enrolled e = enrol("alice"); // used step now-1
        daemon.clock.advanceSeconds(300);
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 2), "NO invalid");
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, -2), "NO invalid");
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, -1), "OK {\"method\":\"totp\"}");
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 1), "OK {\"method\":\"totp\"}");
    }

    @Test
    void anOlderStepAfterANewerOneIsRefused() throws Exception {
        Enrolled e = enrol("alice");
        daemon.clock.advanceSeconds(300);
        String older = Totp.code(e.secret(), daemon.clock, 0);
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 1), "OK {\"method\":\"totp\"}");
        c.expect("VERIFY alice " + older, "NO replayed");
    }

    @Test
    void wrongShapesAreInvalidAndCounted() throws Exception {
        enrol("alice");
        c.expect("VERIFY alice 12345", "NO invalid");
        c.expect("VERIFY alice abcdef", "NO invalid");
        c.expect("VERIFY alice 1234567", "NO invalid");
        assertEquals(3, Json.of(c.call("USER alice")).get("failures").asInt());
    }

    @Test
    void thirtyTwoThreadsWithOneFreshCodeGetExactlyOneOk() throws Exception {
        Enrolled e = enrol("alice");
        String code = Totp.code(e.secret(), daemon.clock, 1);
        int n = 32;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<String>> replies = new ArrayList<>();
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Client client = daemon.client();
            clients.add(client);
            Callable<String> task = () -> {
                go.await();
                return client.call("VERIFY alice " + code);
            };
            replies.add(pool.submit(task));
        }
        go.countDown();
        int ok = 0;
        for (Future<String> f : replies) {
            String r = f.get();
            if (r.startsWith("OK")) {
                ok++;
            } else {
                assertTrue(r.equals("NO replayed") || r.startsWith("NO locked"), r);
            }
        }
        pool.shutdown();
        for (Client client : clients) {
            client.close();
        }
        assertEquals(1, ok, "exactly one of " + n + " requests with the same fresh code is accepted");
    }

    @Test
    void fiveFailuresLockEvenTheRightCodeThenExpiryDoublingAndUnlock() throws Exception {
        Enrolled e = enrol("alice");
        String wrong = Totp.wrongCode(e.secret(), daemon.clock);
        for (int i = 0; i < 5; i++) {
            c.expect("VERIFY alice " + wrong, "NO invalid");
        }
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 0), "NO locked {\"retry_after\":60}");
        JsonNode user = Json.of(c.call("USER alice"));
        assertFalse(user.get("locked_until").isNull());
        daemon.clock.advanceSeconds(59);
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 0), "NO locked {\"retry_after\":1}");
        daemon.clock.advanceSeconds(1);
        // Lock ended; five more failures lock for twice as long.
        wrong = Totp.wrongCode(e.secret(), daemon.clock);
        for (int i = 0; i < 5; i++) {
            c.expect("VERIFY alice " + wrong, "NO invalid");
        }
        c.expect("VERIFY alice " + wrong, "NO locked {\"retry_after\":120}");
        assertTrue(c.call("STATS").contains("\"lockouts\":2"), "two lockouts counted");
        c.expect("UNLOCK alice", "OK");
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 0), "OK {\"method\":\"totp\"}");
        assertTrue(Json.of(c.call("USER alice")).get("locked_until").isNull());
    }

    @Test
    void anAcceptedCodeResetsTheFailureCount() throws Exception {
        Enrolled e = enrol("alice");
        String wrong = Totp.wrongCode(e.secret(), daemon.clock);
        for (int i = 0; i < 4; i++) {
            c.expect("VERIFY alice " + wrong, "NO invalid");
        }
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 0), "OK {\"method\":\"totp\"}");
        for (int i = 0; i < 4; i++) {
            c.expect("VERIFY alice " + wrong, "NO invalid");
        }
        assertEquals(4, Json.of(c.call("USER alice")).get("failures").asInt());
        c.expect("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 1), "OK {\"method\":\"totp\"}");
    }

    @Test
    void lockoutSurvivesARestart() throws Exception {
        Enrolled e = enrol("alice");
        String wrong = Totp.wrongCode(e.secret(), daemon.clock);
        for (int i = 0; i < 5; i++) {
            c.expect("VERIFY alice " + wrong, "NO invalid");
        }
        c.close();
        daemon.restart();
        c = daemon.client();
        assertTrue(c.call("VERIFY alice " + Totp.code(e.secret(), daemon.clock, 0)).startsWith("NO locked"));
    }

    @Test
    void backupCodesWorkOnceWithOrWithoutDashAndCountDown() throws Exception {
        Enrolled e = enrol("alice");
        String first = e.backup().get(0);
        String second = e.backup().get(1).replace("-", "");
        c.expect("VERIFY alice " + first, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
        c.expect("VERIFY alice " + first, "NO invalid");
        c.expect("VERIFY alice " + first.replace("-", ""), "NO invalid");
        c.expect("VERIFY alice " + second, "OK {\"method\":\"backup\",\"backup_codes_left\":8}");
        assertEquals(8, Json.of(c.call("USER alice")).get("backup_codes_left").asInt());
        c.expect("VERIFY alice 00000-00000", "NO invalid");
    }

    @Test
    void backupReplacesAllCodesAndOldOnesStopWorking() throws Exception {
        Enrolled e = enrol("alice");
        List<String> fresh = new ArrayList<>();
        Json.of(c.call("BACKUP alice")).get("backup_codes").forEach(n -> fresh.add(n.asText()));
        assertEquals(10, fresh.size());
        assertNotEquals(e.backup(), fresh);
        c.expect("VERIFY alice " + e.backup().get(2), "NO invalid");
        c.expect("VERIFY alice " + fresh.get(2), "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
        c.expect("BACKUP bob", "NO not-enrolled");
    }

    @Test
    void pendingEnrolmentExpiresAfterTenMinutes() throws Exception {
        String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
        assertTrue(Json.of(c.call("USER alice")).get("pending").asBoolean());
        daemon.clock.advanceSeconds(600);
        c.expect("CONFIRM alice " + Totp.code(secret, daemon.clock, 0), "NO no-pending");
        assertFalse(Json.of(c.call("USER alice")).get("pending").asBoolean());
        c.expect("CONFIRM bob 123456", "NO no-pending");
    }

    @Test
    void theOldSecretKeepsWorkingUntilConfirm() throws Exception {
        Enrolled old = enrol("alice");
        daemon.clock.advanceSeconds(90);
        String fresh = Json.of(c.call("ENROLL alice")).get("secret").asText();
        c.expect("VERIFY alice " + Totp.code(old.secret(), daemon.clock, -1), "OK {\"method\":\"totp\"}");
        c.expect("VERIFY alice " + old.backup().get(0), "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
        assertTrue(c.call("CONFIRM alice " + Totp.code(fresh, daemon.clock, 0)).startsWith("OK {\"backup_codes\""));
        c.expect("VERIFY alice " + Totp.code(old.secret(), daemon.clock, 1), "NO invalid");
        c.expect("VERIFY alice " + old.backup().get(1), "NO invalid");
        c.expect("VERIFY alice " + Totp.code(fresh, daemon.clock, 1), "OK {\"method\":\"totp\"}");
    }

    @Test
    void aConfirmCodeThreeMinutesAheadGetsTheClockSkew() throws Exception {
        String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
        c.expect("CONFIRM alice " + Totp.code(secret, daemon.clock, 6), "NO invalid {\"clock_skew_s\":180}");
        c.expect("CONFIRM alice " + Totp.code(secret, daemon.clock, -4), "NO invalid {\"clock_skew_s\":-120}");
        c.expect("CONFIRM alice " + Totp.wrongCode(secret, daemon.clock).replace('0', '9'), "NO invalid");
        assertTrue(c.call("STATS").contains("\"clock_skew_s\":-120"));
        assertTrue(c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, 0)).startsWith("OK"));
    }

    @Test
    void otpauthUrlForAnIssuerWithSpacesAndAMailUser() throws Exception {
        c.expect("ISSUER SET Acme Hosting", "OK {\"issuer\":\"Acme Hosting\",\"default\":false}");
        JsonNode enrol = Json.of(c.call("ENROLL mail@example.com"));
        String url = enrol.get("otpauth_url").asText();
        String secret = enrol.get("secret").asText();
        assertEquals("otpauth://totp/Acme%20Hosting:mail%40example.com?secret=" + secret
                + "&issuer=Acme%20Hosting&algorithm=SHA1&digits=6&period=30", url);
        assertFalse(url.contains("+"));
        URI uri = URI.create(url);
        assertEquals("otpauth", uri.getScheme());
        assertEquals("totp", uri.getHost());
        assertEquals("/Acme Hosting:mail@example.com", uri.getPath());
        assertTrue(uri.getQuery().contains("issuer=Acme Hosting"));
        assertEquals("Acme Hosting", enrol.get("issuer").asText());
        assertEquals("mail@example.com", enrol.get("account").asText());
    }

    @Test
    void removeUserAndRemoveAllButTheCallersOwn() throws Exception {
        enrol("alice");
        enrol("bob");
        c.expect("REMOVE alice carol", "OK {\"removed\":[\"alice\"],\"not_enrolled\":[\"carol\"]}");
        c.expect("CHECK alice", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
        enrol("carol");
        String reply = c.call("REMOVE *");
        assertEquals("OK {\"removed\":[\"bob\",\"carol\"],\"not_enrolled\":[]}", reply);
        c.expect("USERS", "OK {\"users\":[]}");
        c.expect("REMOVE * alice", "ERR bad-request usage: REMOVE * [except=<user>]");
    }

    @Test
    void usersListsEveryKnownUserSortedWithState() throws Exception {
        enrol("zed");
        enrol("alice");
        c.call("ENROLL mike");
        JsonNode users = Json.of(c.call("USERS")).get("users");
        assertEquals(3, users.size());
        assertEquals("alice", users.get(0).get("user").asText());
        assertEquals("mike", users.get(1).get("user").asText());
        assertFalse(users.get(1).get("enrolled").asBoolean());
        assertTrue(users.get(1).get("pending").asBoolean());
        assertEquals("zed", users.get(2).get("user").asText());
        JsonNode zed = users.get(2);
        assertEquals(10, zed.get("backup_codes_left").asInt());
        assertTrue(zed.get("enrolled_at").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"));
        assertTrue(zed.get("last_used_at").isNull());
        assertEquals(0, zed.get("failures").asInt());
        assertTrue(zed.get("locked_until").isNull());
    }

    @Test
    void badUserNamesAreRefusedBeforeAnythingHappens() throws Exception {
        c.expect("ENROLL .alice", "ERR bad-user a user name is 1-128 characters of A-Z a-z 0-9 . _ @ + -, not starting with . or -");
        c.expect("VERIFY al/ice 123456", "ERR bad-user a user name is 1-128 characters of A-Z a-z 0-9 . _ @ + -, not starting with . or -");
        c.expect("CHECK " + "a".repeat(129), "ERR bad-user a user name is 1-128 characters of A-Z a-z 0-9 . _ @ + -, not starting with . or -");
        c.expect("VERIFY alice", "ERR bad-request usage: VERIFY <user> <code> [service=<name>] [rhost=<addr>]");
        c.expect("VERIFY alice 123456 colour=blue", "ERR bad-request unknown argument colour=");
        c.expect("USERS", "OK {\"users\":[]}");
    }
}
