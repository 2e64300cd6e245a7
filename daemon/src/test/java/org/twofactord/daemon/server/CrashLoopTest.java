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
 * A mixed load (enrolments, fresh and replayed codes, backup codes, lockouts, removals and
 * re-enrolments, policy switches) against a daemon process that is killed with kill -9 at random
 * instants, with checkpoints every 40 changes or 2 seconds so that kills land in them too. After
 * every restart: the store opens, no code or backup code got OK twice over all restarts, no
 * confirmed enrolment is lost and no removed one is back, the policy is the last one answered, and
 * every lockout seen long enough before the kill (failure counts may reach the disk 100 ms after
 * their NO) is still in force. The request in flight at the kill may have been done or not: its
 * user (or the policy) may be either way. 60 cycles here; {@code TWOFACTORD_CRASH_CYCLES=1000}
 * for the long run (docs/security.md).
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
    /** What each OK accepted: the secret (an enrolment's generation) and the code. */
    final Set<String> acceptedKeys = ConcurrentHashMap.newKeySet();
    /** When each accepted key first got OK, to explain a second OK. */
    final Map<String, String> firstOk = new ConcurrentHashMap<>();
    volatile int cycle;
    /**
     * A lockout is checked for a little less than the configured {@code lockout_s = 3600} after it
     * was seen: then it ends, as it should. (The first 1,000-cycle run lasted 82 minutes and
     * reported every lockout older than an hour as lost.)
     */
    static final long LOCKOUT_CHECKED_NS = java.util.concurrent.TimeUnit.SECONDS.toNanos(3600 - 120);
    /** The LSNs of the live checkpoints found at restarts. */
    final Set<String> checkpointsSeen = new java.util.HashSet<>();
    /** The OKs of the cycle before the last kill (VERIFY line -> secret): their steps are still inside the window. */
    final Map<String, String> acceptedLastCycle = new ConcurrentHashMap<>();
    /** Users whose REMOVE got OK and who have not been confirmed again since. */
    final Set<String> removed = ConcurrentHashMap.newKeySet();
    /** The request sent and not yet answered (one load thread): at the kill it may have been done or not. */
    volatile String inFlight = "";
    /** The policy of the last POLICY that got OK. */
    volatile String policy = "optional";
    /** user -> when its lockout was first seen (nanoTime). */
    final Map<String, Long> lockedSeen = new ConcurrentHashMap<>();
    final AtomicLong requests = new AtomicLong();
    final AtomicLong oks = new AtomicLong();
    final AtomicLong removals = new AtomicLong();
    final List<String> violations = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    int next;

    @Test
    void invariantsHoldAcrossRandomKills() throws Exception {
        int cycles = Integer.parseInt(System.getenv().getOrDefault("TWOFACTORD_CRASH_CYCLES", "60"));
        Path state = dir.resolve("state");
        Path conf = dir.resolve("twofactord.conf");
        Files.writeString(conf, "lockout_s = 3600\ncheckpoint_changes = 40\ncheckpoint_interval_s = 2\n");
        for (int cycle = 0; cycle < cycles; cycle++) {
            this.cycle = cycle;
            try (DaemonProcess daemon = DaemonProcess.start(state, "--config", conf.toString())) {
                if (cycle == 0) {
                    try (Client c = daemon.client()) {
                        c.call("POLICY ENABLE");
                    }
                }
                checkInvariants(daemon, cycle);
                checkpointsSeen.add(Files.readString(state.resolve("store/CURRENT")).split(" ")[3]);
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
        System.out.printf("crash loop: %d cycles, %d requests, %d OKs, %d enrolments, %d removals, %d lockouts, "
                + "%d violations%n", cycles, requests.get(), oks.get(), confirmed.size(), removals.get(),
                lockedSeen.size(), violations.size());
        // Checkpoints were written all along, so kills landed in them too.
        System.out.println("checkpoints seen live at a restart: " + checkpointsSeen.size());
        assertTrue(checkpointsSeen.size() > cycles / 3, "checkpoints seen: " + checkpointsSeen.size());
        assertEquals(List.of(), violations);
        assertTrue(oks.get() > cycles, "the load got OKs to check");
    }

    private void checkInvariants(DaemonProcess daemon, int cycle) throws IOException {
        String maybe = inFlight; // the request the kill interrupted
        try (Client c = daemon.client()) {
            for (Map.Entry<String, String> e : confirmed.entrySet()) {
                JsonNode user = Json.of(c.call("USER " + e.getKey()));
                if (!user.get("enrolled").asBoolean() && !maybe.equals("REMOVE " + e.getKey())) {
                    violations.add("cycle " + cycle + ": confirmed enrolment of " + e.getKey() + " lost");
                }
            }
            for (String name : removed) {
                JsonNode user = Json.of(c.call("USER " + name));
                if (user.get("enrolled").asBoolean() && !maybe.startsWith("CONFIRM " + name + " ")) {
                    violations.add("cycle " + cycle + ": removed user " + name + " is enrolled again");
                }
            }
            String mode = Json.of(c.call("POLICY")).get("mode").asText();
            String maybeMode = maybe.equals("POLICY REQUIRE") ? "required" : maybe.equals("POLICY ENABLE") ? "optional" : "";
            if (!mode.equals(policy) && !mode.equals(maybeMode)) {
                violations.add("cycle " + cycle + ": policy " + mode + ", but the last one answered was " + policy);
            }
            if (maybe.startsWith("POLICY ")) {
                policy = mode;
            }
            for (Map.Entry<String, String> okd : new ArrayList<>(acceptedLastCycle.entrySet())) {
                String reply = c.call("VERIFY " + okd.getKey());
                requests.incrementAndGet();
                String user = okd.getKey().split(" ")[0];
                if (reply.startsWith("OK") && !reply.contains("\"method\":\"none\"")
                        && okd.getValue().equals(confirmed.get(user))) {
                    violations.add("cycle " + cycle + ": accepted twice: " + user);
                }
            }
            for (Map.Entry<String, Long> e : lockedSeen.entrySet()) {
                if (e.getValue() == Long.MAX_VALUE || !confirmed.containsKey(e.getKey())
                        || maybe.equals("REMOVE " + e.getKey())) {
                    continue; // not checked, or removed by the request the kill interrupted
                }
                if (System.nanoTime() - e.getValue() > LOCKOUT_CHECKED_NS) {
                    continue; // over: lockout_s is 3600, the longest there is (a 1,000-cycle run lasts longer)
                }
                String reply = c.call("VERIFY " + e.getKey() + " " + Totp.code(confirmed.get(e.getKey()), clock, 0));
                if (!reply.startsWith("NO locked")) {
                    violations.add("cycle " + cycle + ": lockout of " + e.getKey() + " lost: " + reply);
                }
            }
        }
        // The interrupted request is settled now: whatever state it left is the state.
        if (maybe.startsWith("REMOVE ")) {
            String name = maybe.substring(7);
            if (!Json.of(callOnce(daemon, "USER " + name)).get("enrolled").asBoolean()) {
                forget(name);
            }
        } else if (maybe.startsWith("CONFIRM ")) {
            removed.remove(maybe.split(" ")[1]); // enrolled or not, checked no more either way
        }
        inFlight = "";
    }

    private static String callOnce(DaemonProcess daemon, String line) throws IOException {
        try (Client c = daemon.client()) {
            return c.call(line);
        }
    }

    private void forget(String name) {
        confirmed.remove(name);
        unusedBackup.remove(name);
        lockedSeen.remove(name);
        removed.add(name);
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

    /** Sends one request, remembering it as in flight until its reply is read. */
    private String call(Client c, String line) throws IOException {
        inFlight = line;
        String reply = c.call(line);
        if (reply == null) {
            throw new IOException("closed"); // killed under us: the request stays in flight
        }
        inFlight = "";
        return reply;
    }

    private void step(Client c) throws IOException {
        int op = random.nextInt(12);
        List<String> users = new ArrayList<>(confirmed.keySet());
        if (op < 2 || users.size() < 3) {
            // A new user, or now and then one removed before (a re-enrolment).
            List<String> gone = new ArrayList<>(removed);
            String user = !gone.isEmpty() && random.nextBoolean() ? gone.get(random.nextInt(gone.size())) : "u" + (next++);
            String enrolled = call(c, "ENROLL " + user);
            if (!enrolled.startsWith("OK")) {
                errors.add(String.valueOf(enrolled));
                return;
            }
            String secret = Json.of(enrolled).get("secret").asText();
            String reply = call(c, "CONFIRM " + user + " " + Totp.code(secret, clock, -1));
            requests.addAndGet(2);
            if (reply.startsWith("OK")) {
                List<String> backup = new ArrayList<>();
                Json.of(reply).get("backup_codes").forEach(n -> backup.add(n.asText()));
                unusedBackup.put(user, java.util.Collections.synchronizedList(backup));
                confirmed.put(user, secret);
                removed.remove(user);
            }
            return;
        }
        if (op == 10) {
            String user = users.get(random.nextInt(users.size()));
            String reply = call(c, "REMOVE " + user);
            requests.incrementAndGet();
            if (reply.startsWith("OK")) {
                removals.incrementAndGet();
                forget(user);
            } else {
                errors.add(reply);
            }
            return;
        }
        if (op == 11) {
            String mode = policy.equals("required") ? "optional" : "required";
            String reply = call(c, "POLICY " + (mode.equals("required") ? "REQUIRE" : "ENABLE"));
            requests.incrementAndGet();
            if (reply.startsWith("OK")) {
                policy = mode;
            } else {
                errors.add(reply);
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
        String verifying = line.split(" ")[0];
        String generation = confirmed.get(verifying); // null: removed since (a replay of an old line)
        String reply = call(c, "VERIFY " + line);
        requests.incrementAndGet();
        if (reply.startsWith("ERR")) {
            errors.add(reply);
        }
        // With the policy optional, a user removed since gets "OK method none, not-enrolled": no code
        // was accepted (counting it as one made replays of a removed user's old lines look like
        // second OKs, a fault of this test once).
        if (reply.startsWith("OK") && !reply.contains("\"method\":\"none\"")) {
            oks.incrementAndGet();
            accepted.add(line);
            if (generation != null) {
                acceptedLastCycle.put(line, generation);
            }
            String when = "cycle " + cycle + " at " + java.time.Instant.now(clock) + " step "
                    + clock.millis() / 30_000;
            String first = firstOk.putIfAbsent(generation + " " + line, when);
            if (!acceptedKeys.add(generation + " " + line)) {
                violations.add("accepted twice while running: " + verifying + (backup ? " (backup)" : "")
                        + ", first " + first + ", again " + when + " (op " + op + ")");
            }
        } else if (reply.startsWith("NO locked")) {
            lockedSeen.putIfAbsent(verifying, System.nanoTime());
        }
    }
}
