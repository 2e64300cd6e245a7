package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.DaemonProcess;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.Totp;

/**
 * A mixed load (enrolments, fresh and replayed codes, backup codes, lockouts) against a daemon
 * process that is killed with kill -9 at random instants. After every restart: the store opens, no
 * code or backup code got OK twice over all restarts, no confirmed enrolment is lost, and every
 * lockout seen long enough before the kill (failure counts may reach the disk 100 ms after their
 * NO) is still in force. 20 cycles here; {@code TWOFACTORD_CRASH_CYCLES=200} for the long run.
 */
class CrashLoopTest {
    @TempDir
    Path dir;

    final Clock clock = Clock.systemUTC();
    final Random random = new Random(4242);
    /** user -> secret, for users whose CONFIRM got OK. */
    final Map<String, String> confirmed = new ConcurrentHashMap<>();
    final Map<String, List<String>> unusedBackup = new ConcurrentHashMap<>();
    /** "user code" of every OK, and every backup code that got OK. */
    final Set<String> accepted = ConcurrentHashMap.newKeySet();
    /** The OKs of the cycle before the last kill: their steps are still inside the window. */
    final Set<String> acceptedLastCycle = ConcurrentHashMap.newKeySet();
    /** user -> when its lockout was first seen (nanoTime). */
    final Map<String, Long> lockedSeen = new ConcurrentHashMap<>();
    final AtomicLong requests = new AtomicLong();
    final AtomicLong oks = new AtomicLong();
    final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    int next;

    @Test
    void invariantsHoldAcrossRandomKills() throws Exception {
        int cycles = Integer.parseInt(System.getenv().getOrDefault("TWOFACTORD_CRASH_CYCLES", "20"));
        Path state = dir.resolve("state");
        Path conf = dir.resolve("twofactord.conf");
        Files.writeString(conf, "lockout_s = 3600\n");
        for (int cycle = 0; cycle < cycles; cycle++) {
            try (DaemonProcess daemon = DaemonProcess.start(state, "--config", conf.toString())) {
                if (cycle == 0) {
                    try (Client c = daemon.client()) {
                        c.call("POLICY ENABLE");
                    }
                }
                checkInvariants(daemon, cycle);
                acceptedLastCycle.clear();
                AtomicBoolean stop = new AtomicBoolean();
                Thread load = new Thread(() -> load(daemon, stop));
                load.start();
                Thread.sleep(300 + random.nextInt(900));
                long killedAt = System.nanoTime();
                daemon.kill(); // at a random instant of the load
                stop.set(true);
                load.join(10_000);
                if (!errors.isEmpty()) {
                    System.out.println("cycle " + cycle + " errors: " + errors + "\n" + String.join("\n",
                            daemon.output().lines().filter(l -> l.contains("ERROR") || l.contains("WARN")
                                    || l.contains("Exception") || l.contains("\tat ")).limit(40).toList()));
                    violations.add("cycle " + cycle + ": " + errors.size() + " ERR replies: " + errors.get(0));
                    errors.clear();
                }
                // Only lockouts seen well before the kill are sure to be on disk.
                lockedSeen.replaceAll((u, seen) -> killedAt - seen > 150_000_000L ? seen : Long.MAX_VALUE);
            }
        }
        try (DaemonProcess daemon = DaemonProcess.start(state, "--config", conf.toString())) {
            checkInvariants(daemon, cycles);
        }
        // Codes of every cycle were also replayed while the load ran (op "a replay").
        System.out.printf("crash loop: %d cycles, %d requests, %d OKs, %d enrolments, %d lockouts, %d violations%n",
                cycles, requests.get(), oks.get(), confirmed.size(), lockedSeen.size(), violations.size());
        assertEquals(List.of(), violations);
        assertTrue(oks.get() > cycles, "the load got OKs to check");
    }

    private void checkInvariants(DaemonProcess daemon, int cycle) throws IOException {
        try (Client c = daemon.client()) {
            for (Map.Entry<String, String> e : confirmed.entrySet()) {
                JsonNode user = Json.of(c.call("USER " + e.getKey()));
                if (!user.get("enrolled").asBoolean()) {
                    violations.add("cycle " + cycle + ": confirmed enrolment of " + e.getKey() + " lost");
                }
            }
            for (String okd : new ArrayList<>(acceptedLastCycle)) {
                String reply = c.call("VERIFY " + okd);
                requests.incrementAndGet();
                if (reply.startsWith("OK")) {
                    violations.add("cycle " + cycle + ": accepted twice: " + okd.split(" ")[0]);
                }
            }
            for (Map.Entry<String, Long> e : lockedSeen.entrySet()) {
                if (e.getValue() == Long.MAX_VALUE) {
                    continue;
                }
                String reply = c.call("VERIFY " + e.getKey() + " " + Totp.code(confirmed.get(e.getKey()), clock, 0));
                if (!reply.startsWith("NO locked")) {
                    violations.add("cycle " + cycle + ": lockout of " + e.getKey() + " lost: " + reply);
                }
            }
        }
    }

    private void load(DaemonProcess daemon, AtomicBoolean stop) {
        while (!stop.get()) {
            try (Client c = daemon.client()) {
                while (!stop.get()) {
                    step(c);
                }
            } catch (IOException | RuntimeException e) {
                // killed under us: reconnect (or stop), without spinning
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private void step(Client c) throws IOException {
        int op = random.nextInt(10);
        List<String> users = new ArrayList<>(confirmed.keySet());
        if (op < 2 || users.size() < 3) {
            String user = "u" + (next++);
            String enrolled = c.call("ENROLL " + user);
            if (enrolled == null) {
                throw new IOException("closed"); // killed under us
            }
            if (!enrolled.startsWith("OK")) {
                errors.add(String.valueOf(enrolled));
                return;
            }
            String secret = Json.of(enrolled).get("secret").asText();
            String reply = c.call("CONFIRM " + user + " " + Totp.code(secret, clock, -1));
            requests.addAndGet(2);
            if (reply.startsWith("OK")) {
                List<String> backup = new ArrayList<>();
                Json.of(reply).get("backup_codes").forEach(n -> backup.add(n.asText()));
                unusedBackup.put(user, java.util.Collections.synchronizedList(backup));
                confirmed.put(user, secret);
            }
            return;
        }
        String user = users.get(random.nextInt(users.size()));
        String secret = confirmed.get(user);
        if (lockedSeen.containsKey(user)) {
            return;
        }
        String line;
        boolean backup = false;
        if (op < 5) {
            line = user + " " + Totp.code(secret, clock, random.nextInt(2)); // fresh, or already used
        } else if (op < 7 && !accepted.isEmpty()) {
            List<String> old = new ArrayList<>(accepted);
            line = old.get(random.nextInt(old.size())); // a replay
        } else if (op < 9) {
            List<String> codes = unusedBackup.get(user);
            if (codes.isEmpty()) {
                return;
            }
            line = user + " " + codes.remove(0);
            backup = true;
        } else {
            line = user + " " + Totp.wrongCode(secret, clock);
        }
        String reply = c.call("VERIFY " + line);
        requests.incrementAndGet();
        if (reply == null) {
            throw new IOException("closed");
        }
        if (reply.startsWith("ERR")) {
            errors.add(reply);
        }
        if (reply.startsWith("OK")) {
            oks.incrementAndGet();
            acceptedLastCycle.add(line);
            if (!accepted.add(line)) {
                violations.add("accepted twice while running: " + line.split(" ")[0] + (backup ? " (backup)" : ""));
            }
        } else if (reply.startsWith("NO locked")) {
            lockedSeen.putIfAbsent(line.split(" ")[0], System.nanoTime());
        }
    }
}
