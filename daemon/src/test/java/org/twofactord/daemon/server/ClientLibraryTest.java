package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorException;

/** TwoFactorClient against the real daemon: every typed result, and its failure modes. */
class ClientLibraryTest {
    @TempDir
    Path dir;

    @Test
    void typedResultsForEveryCommand() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start();
             TwoFactorClient client = TwoFactorClient.connect(daemon.socket())) {
            assertEquals(new TwoFactorClient.Hello(1, "twofactord/test"), client.hello());
            client.ping();
            assertEquals(new TwoFactorClient.PolicyState("disabled", false), client.policy());
            assertEquals(new TwoFactorClient.PolicyState("optional", true), client.setPolicy("ENABLE"));
            assertEquals(new TwoFactorClient.IssuerState("Acme Hosting", false), client.setIssuer("Acme Hosting"));
            assertEquals("Acme Hosting", client.issuer().issuer());
            assertTrue(client.resetIssuer().isDefault());

            TwoFactorClient.Enrollment e = client.enroll("alice", null);
            assertEquals("alice", e.user());
            assertEquals(6, e.digits());
            assertFalse(e.toString().contains(e.secret()), "toString hides the secret");
            TwoFactorException wrong = assertThrows(TwoFactorException.class,
                    () -> client.confirm("alice", Totp.wrongCode(e.secret(), daemon.clock)));
            assertTrue(wrong.isRefusal());
            assertEquals(Reasons.INVALID, wrong.word());
            List<String> backup = client.confirm("alice", Totp.code(e.secret(), daemon.clock, -1));
            assertEquals(10, backup.size());

            assertTrue(client.check("alice").codeRequired());
            assertEquals(TwoFactorClient.CheckResult.Outcome.NOT_REQUIRED, client.check("bob").outcome());
            assertEquals("not-enrolled", client.check("bob").reason());

            TwoFactorClient.VerifyResult ok = client.verify("alice", Totp.code(e.secret(), daemon.clock, 0), "sshd", "::1");
            assertTrue(ok.accepted());
            assertEquals("totp", ok.method());
            TwoFactorClient.VerifyResult replay = client.verify("alice", Totp.code(e.secret(), daemon.clock, 0));
            assertFalse(replay.accepted());
            assertEquals(Reasons.REPLAYED, replay.reason());
            TwoFactorClient.VerifyResult b = client.verify("alice", backup.get(0));
            assertEquals(9, b.backupLeft());
            assertEquals("backup", b.method());

            assertFalse(client.verify("alice", "000000").accepted());
            TwoFactorClient.UserInfo info = client.userInfo("alice");
            assertTrue(info.enrolled());
            assertEquals(9, info.backupCodesLeft());
            assertEquals(1, info.failures());
            assertNull(info.lockedUntil());
            assertEquals(List.of("alice"), client.users().stream().map(TwoFactorClient.UserInfo::user).toList());
            assertEquals(10, client.backup("alice", null).size());
            client.unlock("alice");
            assertEquals(0, client.userInfo("alice").failures());
            assertTrue(client.stats().get("verify_ok").asInt() >= 2);

            client.setPolicy("REQUIRE");
            assertEquals(TwoFactorClient.CheckResult.Outcome.ENROLL_REQUIRED, client.check("bob").outcome());
            assertEquals("enroll-required", client.verify("bob", "123456").reason());

            assertEquals("[\"alice\"]", client.remove(List.of("alice"), null).get("removed").toString());
            assertEquals("[]", client.removeAll().get("removed").toString());
            TwoFactorException err = assertThrows(TwoFactorException.class, () -> client.setPolicy("SOMETIMES"));
            assertFalse(err.isRefusal());
            assertEquals("bad-request", err.word());
            assertThrows(IllegalArgumentException.class, () -> client.check("bad name"));
            assertThrows(IllegalArgumentException.class, () -> client.verify("alice", "12 34"));
        }
    }

    @Test
    void aLockedVerifyCarriesRetryAfter() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start();
             TwoFactorClient client = TwoFactorClient.connect(daemon.socket())) {
            client.setPolicy("ENABLE");
            TwoFactorClient.Enrollment e = client.enroll("alice", null);
            client.confirm("alice", Totp.code(e.secret(), daemon.clock, 0));
            for (int i = 0; i < 5; i++) {
                client.verify("alice", "000000");
            }
            TwoFactorClient.VerifyResult locked = client.verify("alice", Totp.code(e.secret(), daemon.clock, 1));
            assertFalse(locked.accepted());
            assertEquals(Reasons.LOCKED, locked.reason());
            assertEquals(60, locked.retryAfterS());
        }
    }

    @Test
    void aDaemonThatNeverAnswersTimesOutAndOneThatHangsUpIsAnEof() throws Exception {
        Path path = dir.resolve("silent.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path))) {
            Thread t = new Thread(() -> {
                try {
                    AFUNIXSocket silent = server.accept(); // reads nothing, says nothing
                    AFUNIXSocket hangUp = server.accept();
                    hangUp.close();
                    Thread.sleep(3000);
                    silent.close();
                } catch (IOException | InterruptedException ignored) {
                    // test ends
                }
            });
            t.start();
            assertThrows(SocketTimeoutException.class, () -> TwoFactorClient.connect(path, Duration.ofMillis(300)));
            // Hung up before HELLO: EOF or a broken pipe, depending on who is first; never a reply.
            IOException hungUp = assertThrows(IOException.class, () -> TwoFactorClient.connect(path, Duration.ofSeconds(2)));
            assertFalse(hungUp instanceof SocketTimeoutException, hungUp.toString());
            t.join();
        }
    }

    @Test
    void noDaemonIsAnIoException() {
        assertThrows(IOException.class, () -> TwoFactorClient.connect(dir.resolve("nothing.sock"), Duration.ofSeconds(1)));
    }
}
