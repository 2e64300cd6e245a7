package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.DaemonProcess;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.store.Writer;

/**
 * The daemon in its own JVM is killed with kill -9 right after it answered OK; after a restart
 * the accepted code, the used backup code and the lockout are all still in force. 20 rounds. The
 * two OKs are made durable by the store's log alone (no checkpoint is written in so few changes),
 * so the restarts replay it; the test checks that they did.
 */
class ReplayAcrossKillTest {
    static final int ROUNDS = 20;

    @TempDir
    Path dir;

    /** What one round left to check after the kill. */
    record Round(String user, String code, String backup, String lockedUser, String lockedSecret) {
    }

    @Test
    void acceptedCodesUsedBackupCodesAndLockoutsSurviveKillNine() throws Exception {
        Path state = dir.resolve("state");
        Clock clock = Clock.systemUTC();
        Round previous = null;
        int checks = 0;
        int replayedRounds = 0;
        for (int round = 0; round <= ROUNDS; round++) {
            try (DaemonProcess daemon = DaemonProcess.start(state); Client c = daemon.client()) {
                if (previous != null) {
                    String replay = c.call("VERIFY " + previous.user() + " " + previous.code());
                    assertTrue(replay.startsWith("NO"), "round " + round + ": a code that got OK before the kill: " + replay);
                    c.expect("VERIFY " + previous.user() + " " + previous.backup(), "NO invalid");
                    String locked = c.call("VERIFY " + previous.lockedUser() + " " + Totp.code(previous.lockedSecret(), clock, 0));
                    assertTrue(locked.startsWith("NO locked"), "round " + round + ": lockout lost: " + locked);
                    checks += 3;
                    if (daemon.output().contains("change(s) from the log after checkpoint")) { // logged at start
                        replayedRounds++;
                    }
                }
                if (round == ROUNDS) {
                    break;
                }
                c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
                // Failure counts may reach the disk up to 100 ms after their NO; the enrolment
                // below is committed before its reply, and that commit carries the lockout.
                String lockedUser = "l" + round;
                Enrolment l = enrol(c, lockedUser, clock);
                String wrong = Totp.wrongCode(l.secret, clock);
                for (int i = 0; i < 5; i++) {
                    c.expect("VERIFY " + lockedUser + " " + wrong, "NO invalid");
                }
                String user = "u" + round;
                Enrolment e = enrol(c, user, clock);
                String code = Totp.code(e.secret, clock, 1);
                c.expect("VERIFY " + user + " " + code, "OK {\"method\":\"totp\"}");
                String backup = e.backup.get(0).asText();
                c.expect("VERIFY " + user + " " + backup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
                daemon.kill(); // right after the last reply was read
                previous = new Round(user, code, backup, lockedUser, l.secret);
            }
        }
        assertEquals(ROUNDS * 3, checks);
        assertTrue(replayedRounds > 0, "no restart replayed the journal: the kill never came before the commit");
        System.out.println("restarts that replayed the journal: " + replayedRounds + " of " + ROUNDS);
    }

    @Test
    void failureCountsReachTheDiskWithinTheDocumentedDelay() throws Exception {
        Path state = dir.resolve("state2");
        Clock clock = Clock.systemUTC();
        String secret;
        try (DaemonProcess daemon = DaemonProcess.start(state); Client c = daemon.client()) {
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            secret = enrol(c, "alice", clock).secret;
            String wrong = Totp.wrongCode(secret, clock);
            for (int i = 0; i < 5; i++) {
                c.expect("VERIFY alice " + wrong, "NO invalid");
            }
            // Nothing durable follows: only the writer's deadline commits the count.
            Thread.sleep(Writer.LAZY_COMMIT_MS * 3);
            daemon.kill();
        }
        try (DaemonProcess daemon = DaemonProcess.start(state); Client c = daemon.client()) {
            String reply = c.call("VERIFY alice " + Totp.code(secret, clock, 0));
            assertTrue(reply.startsWith("NO locked"), reply);
        }
    }

    record Enrolment(String secret, JsonNode backup) {
    }

    /** ENROLL and CONFIRM with the previous step's code, retried once if a step boundary got in the way. */
    static Enrolment enrol(Client c, String user, Clock clock) throws Exception {
        String secret = Json.of(c.call("ENROLL " + user)).get("secret").asText();
        String reply = c.call("CONFIRM " + user + " " + Totp.code(secret, clock, -1));
        if (!reply.startsWith("OK")) {
            reply = c.call("CONFIRM " + user + " " + Totp.code(secret, clock, 0));
        }
        assertTrue(reply.startsWith("OK"), reply);
        return new Enrolment(secret, Json.of(reply).get("backup_codes"));
    }
}
