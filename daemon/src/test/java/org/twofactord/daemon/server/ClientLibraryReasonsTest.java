package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorClient.UserInfo;
import org.twofactord.protocol.TwoFactorClient.VerifyResult;
import org.twofactord.protocol.TwoFactorException;

/**
 * The typed results a login service relies on beyond the happy path (the web-login example uses
 * each): the NO reasons of CONFIRM and BACKUP with their bodies, VERIFY's "none" answers, and the
 * pending and locked states of a user.
 */
class ClientLibraryReasonsTest {
    @TempDir
    Path dir;

    @Test
    void confirmAndBackupRefusalsCarryTheirReasonAndBody() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start();
             TwoFactorClient client = TwoFactorClient.connect(daemon.socket())) {
            client.setPolicy("ENABLE");
            TwoFactorException noPending = assertThrows(TwoFactorException.class, () -> client.confirm("alice", "123456"));
            assertTrue(noPending.isRefusal());
            assertEquals(Reasons.NO_PENDING, noPending.word());

            TwoFactorClient.Enrollment e = client.enroll("alice", null);
            // Six steps (three minutes) ahead: wrong for the window, right for the skew hint.
            TwoFactorException skewed = assertThrows(TwoFactorException.class,
                    () -> client.confirm("alice", Totp.code(e.secret(), daemon.clock, 6)));
            assertEquals(Reasons.INVALID, skewed.word());
            assertEquals(180, skewed.reply().body().get("clock_skew_s").asInt());
            assertFalse(skewed.getMessage().contains(e.secret()));

            TwoFactorException notEnrolled = assertThrows(TwoFactorException.class, () -> client.backup("bob", null));
            assertTrue(notEnrolled.isRefusal());
            assertEquals(Reasons.NOT_ENROLLED, notEnrolled.word());
        }
    }

    @Test
    void verifySaysNoneWithTheReasonAndWithThePolicyDisabledLooksAtNoCode() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start();
             TwoFactorClient client = TwoFactorClient.connect(daemon.socket())) {
            client.setPolicy("ENABLE");
            TwoFactorClient.Enrollment e = client.enroll("alice", null);
            client.confirm("alice", Totp.code(e.secret(), daemon.clock, 0));

            VerifyResult bob = client.verify("bob", "123456");
            assertEquals(new VerifyResult(true, "none", "not-enrolled", -1, -1), bob);

            client.setPolicy("DISABLE");
            // A wrong code "passes": VERIFY is no proof of a code while the policy is disabled.
            VerifyResult disabled = client.verify("alice", Totp.wrongCode(e.secret(), daemon.clock));
            assertEquals(new VerifyResult(true, "none", "policy-disabled", -1, -1), disabled);
            assertEquals(0, client.userInfo("alice").failures(), "and counts nothing");
        }
    }

    @Test
    void userInfoShowsPendingUsedAndLocked() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start();
             TwoFactorClient client = TwoFactorClient.connect(daemon.socket())) {
            client.setPolicy("ENABLE");
            TwoFactorClient.Enrollment e = client.enroll("alice", null);
            UserInfo pending = client.userInfo("alice");
            assertTrue(pending.pending());
            assertFalse(pending.enrolled());
            assertEquals(List.of("alice"), client.users().stream().map(UserInfo::user).toList(), "USERS lists pending users");

            client.confirm("alice", Totp.code(e.secret(), daemon.clock, 0));
            UserInfo confirmed = client.userInfo("alice");
            assertTrue(confirmed.enrolled());
            assertFalse(confirmed.pending());
            assertNotNull(confirmed.enrolledAt());
            assertEquals(10, confirmed.backupCodesLeft());

            assertTrue(client.verify("alice", Totp.code(e.secret(), daemon.clock, 1)).accepted());
            assertNotNull(client.userInfo("alice").lastUsedAt());
            for (int i = 0; i < 4; i++) {
                client.verify("alice", Totp.wrongCode(e.secret(), daemon.clock));
            }
            assertEquals(4, client.userInfo("alice").failures());
            assertNull(client.userInfo("alice").lockedUntil());
            client.verify("alice", Totp.wrongCode(e.secret(), daemon.clock));
            UserInfo locked = client.userInfo("alice");
            assertNotNull(locked.lockedUntil());
            // Issue 17: while locked, USER shows the count that led to the lock (it said 0 before,
            // next to locked_until, which read as "locked for no reason").
            assertEquals(5, locked.failures(), "the failures that led to the lock");
            client.unlock("alice");
            assertNull(client.userInfo("alice").lockedUntil());

            UserInfo stranger = client.userInfo("nobody");
            assertEquals(new UserInfo("nobody", false, null, null, 0, 0, null, false, false, null, null), stranger);
        }
    }
}
