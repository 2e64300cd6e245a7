package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/**
 * How many guesses an attacker gets per user per day with the default settings, computed from the
 * lockout rule and checked against the daemon under a parallel flood over a simulated day.
 */
class BruteForceBoundTest {
    static final int MAX_FAILURES = 5;
    static final int LOCKOUT_S = 60;
    static final int MAX_LOCKOUT_S = 3600;
    static final long DAY_S = 86_400;

    /**
     * The most wrong codes that can be counted in one day: bursts of 5, each followed by a lockout
     * of 60 s doubling to at most an hour. (An attacker never gets a right code to reset it.)
     */
    static long guessesPerDay() {
        long t = 0;
        long guesses = 0;
        int level = 0;
        while (t < DAY_S) {
            guesses += MAX_FAILURES;
            t += Math.min((long) LOCKOUT_S << Math.min(level, 16), MAX_LOCKOUT_S);
            level++;
        }
        return guesses;
    }

    @Test
    void theDocumentedBoundFollowsFromTheDefaults() {
        long guesses = guessesPerDay();
        // 60+120+240+480+960+1920 s, then 23 lockouts of an hour: 29 bursts of 5 start within the day.
        assertEquals(145, guesses);
        // Each guess matches any of 3 codes (window ±1): chance of success in a day.
        double chance = 1 - Math.pow(1 - 3e-6, guesses);
        assertTrue(chance < 5e-4, "chance per day " + chance);
    }

    @Test
    void aParallelFloodOverASimulatedDayGetsNoMoreThanTheBound() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client admin = daemon.client()) {
            admin.call("POLICY ENABLE");
            String secret = Json.of(admin.call("ENROLL victim")).get("secret").asText();
            admin.call("CONFIRM victim " + Totp.code(secret, daemon.clock, -1));
            int connections = 16;
            List<Client> clients = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                clients.add(daemon.client());
            }
            ExecutorService pool = Executors.newFixedThreadPool(connections);
            long counted = 0;
            long refusedLocked = 0;
            long start = daemon.clock.instant().getEpochSecond();
            while (daemon.clock.instant().getEpochSecond() - start < DAY_S) {
                String wrong = Totp.wrongCode(secret, daemon.clock);
                List<Future<String>> replies = new ArrayList<>();
                for (Client c : clients) {
                    replies.add(pool.submit(() -> c.call("VERIFY victim " + wrong)));
                }
                for (Future<String> f : replies) {
                    String r = f.get();
                    if (r.equals("NO invalid")) {
                        counted++;
                    } else {
                        assertTrue(r.startsWith("NO locked"), r);
                        refusedLocked++;
                    }
                }
                daemon.clock.advanceSeconds(20); // the flood goes on all day, 16 guesses every 20 s
            }
            pool.shutdown();
            for (Client c : clients) {
                c.close();
            }
            assertTrue(counted <= guessesPerDay(), counted + " guesses were looked at in a day");
            assertTrue(counted >= guessesPerDay() - MAX_FAILURES * 2, "the flood used what it could: " + counted);
            assertTrue(refusedLocked > 10 * counted, "the rest were refused unseen");
        }
    }

    @TempDir
    Path dir;
}
