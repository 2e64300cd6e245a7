package org.twofactord.daemon.store.log;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.twofactord.daemon.store.MapDbStore;
import org.twofactord.daemon.store.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.UserRecord;

/**
 * Changes of every kind a daemon makes (enrolments, accepted steps, backup codes, failure counts,
 * lockouts, removals, policy), committed in small batches through a real {@link LogStore}, with
 * forced checkpoints; and the oracle: every log entry in order, and which of them had been
 * answered (their commit had returned) after how many disk operations.
 *
 * <p>State is compared as {@code table:key -> hex of the value}, e.g. {@code u:user3}.
 */
final class CrashWorkload {
    private static final int USERS = 10;
    private static final HexFormat HEX = HexFormat.of();

    /** A promise a client was given: this step (or backup code) of this user's secret was used. */
    record Promise(String user, int generation, long step, int backupIndex, int answeredAfterEntries) {
        String describe() {
            return (backupIndex < 0 ? "step " + step : "backup code " + backupIndex) + " of " + user + " (generation "
                    + generation + ")";
        }
    }

    private LogStore store;
    private final RecordingDisk disk;
    private final MasterKey key;
    private final Random random;
    private final Map<String, String> initial;
    private final List<String> entryKeys = new ArrayList<>();
    private final List<String> entryValues = new ArrayList<>(); // null: removed
    private final List<int[]> answers = new ArrayList<>(); // {operations done, entries answered}
    private final List<Promise> promises = new ArrayList<>();
    private final List<Promise> unanswered = new ArrayList<>();
    private final Set<String> metaKeys = new TreeSet<>(Set.of(MapDbStore.META_SCHEMA, MapDbStore.META_KEY_CHECK,
            Store.META_POLICY, Store.META_ISSUER));
    private final Map<String, Integer> generations = new HashMap<>();
    private List<Map<String, String>> states;
    private long now = 1_700_000_000L;
    private int checkpoints;

    private CrashWorkload(LogStore store, RecordingDisk disk, MasterKey key, long seed) {
        this.store = store;
        this.disk = disk;
        this.key = key;
        this.random = new Random(seed);
        this.initial = stateOf(store);
    }

    /** Opens the store being recorded. */
    interface Opener {
        LogStore open(LogStore.Settings settings) throws StoreException;
    }

    /**
     * Runs {@code commits} batches of one to three changes, forcing a checkpoint every
     * {@code commits / 6}; with {@code pausedCheckpoints}, every other checkpoint is held before its
     * pointer is renamed while three more batches are committed. Halfway, the store is closed and
     * opened again; at three quarters, opened once with a checkpoint at start-up.
     */
    static CrashWorkload run(Opener opener, RecordingDisk disk, MasterKey key, int commits, boolean pausedCheckpoints,
                             long seed) throws Exception {
        CrashWorkload w = new CrashWorkload(opener.open(CrashHarness.SETTINGS), disk, key, seed);
        try {
            int every = Math.max(commits / 6, 2);
            for (int c = 1; c <= commits; c++) {
                if (c == commits / 2) {
                    w.reopen(opener, null);
                } else if (c == commits * 3 / 4) {
                    w.reopen(opener, new LogStore.Settings(CrashHarness.SETTINGS.segmentBytes(), 1, Long.MAX_VALUE,
                            Long.MAX_VALUE));
                }
                if (c == commits / 3) {
                    w.bulkEnrolment();
                } else if (c % every == 0) {
                    w.checkpoint(pausedCheckpoints && w.checkpoints % 2 == 1);
                } else {
                    w.batch();
                }
            }
        } finally {
            w.store.close();
        }
        return w;
    }

    /** Closes the store and opens it again; first once with {@code startUp} settings, if given, and closes that. */
    private void reopen(Opener opener, LogStore.Settings startUp) throws StoreException {
        store.close();
        if (startUp != null) {
            try (LogStore once = opener.open(startUp)) {
                if (once.checkpoints() != 1) {
                    throw new IllegalStateException("no checkpoint at start-up: " + once.checkpointFailure());
                }
                checkpoints++;
            }
        }
        store = opener.open(CrashHarness.SETTINGS);
    }

    int checkpointsPublished() {
        return checkpoints;
    }

    int entries() {
        return entryKeys.size();
    }

    private void batch() throws Exception {
        int changes = 1 + random.nextInt(3);
        for (int i = 0; i < changes; i++) {
            change("user" + random.nextInt(USERS));
        }
        store.commit();
        answers.add(new int[] {disk.opCount(), entryKeys.size()});
        for (Promise p : unanswered) {
            promises.add(new Promise(p.user(), p.generation(), p.step(), p.backupIndex(), entryKeys.size()));
        }
        unanswered.clear();
        now += 10;
    }

    /** Every user enrolled afresh, twice, in one commit larger than a log segment: logged in parts. */
    private void bulkEnrolment() throws Exception {
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < USERS; i++) {
                String name = "user" + i;
                if (store.pending(name).isEmpty()) {
                    enrol(name);
                }
                enrol(name);
            }
        }
        int before = disk.opCount();
        batch();
        long syncs = disk.ops().subList(before, disk.opCount()).stream()
                .filter(op -> op.kind() == RecordingDisk.Kind.SYNC).count();
        if (syncs < 3) { // two parts, each synced, and a new segment between them
            throw new IllegalStateException("the bulk enrolment was not logged in parts");
        }
    }

    private void checkpoint(boolean holdBeforePublishing) throws Exception {
        long before = store.checkpoints();
        RecordingDisk.Pause pause = holdBeforePublishing ? disk.pauseBeforeRenameTo(Pointer.NAME) : null;
        store.requestCheckpoint();
        // A checkpoint starts at a commit that logs something: this batch always does.
        put(Tables.META, Store.META_POLICY, bytes("require"));
        batch();
        if (pause != null) {
            pause.awaitReached();
            for (int i = 0; i < 3; i++) {
                batch(); // logged in the new segment while the checkpoint waits to be published
            }
            pause.release();
        }
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (store.checkpoints() == before) {
            if (store.checkpointFailure() != null || System.nanoTime() > deadline) {
                throw new IllegalStateException("checkpoint not published: " + store.checkpointFailure());
            }
            Thread.yield();
        }
        checkpoints++;
    }

    private void change(String name) {
        Optional<UserRecord> user = store.user(name);
        int pick = random.nextInt(100);
        if (user.isEmpty() || pick < 5) {
            enrol(name);
            return;
        }
        UserRecord u = user.get();
        if (pick < 12) {
            put(Tables.META, Store.META_POLICY, bytes(List.of("optional", "require", "off").get(random.nextInt(3))));
        } else if (pick < 15) {
            put(Tables.META, Store.META_ISSUER, random.nextBoolean() ? null : bytes("Example " + random.nextInt(100)));
        } else if (pick < 18) {
            put(Tables.USERS, name, null);
        } else if (pick < 60) {
            long step = u.lastStep() + (random.nextInt(8) == 0 ? 0 : 1 + random.nextInt(3)); // sometimes a replay
            if (store.acceptStep(name, u.generation(), step, now)) {
                logged(name);
                unanswered.add(new Promise(name, u.generation(), step, -1, -1));
            }
        } else if (pick < 72) {
            int index = random.nextInt(UserRecord.BACKUP_CODES);
            if (store.useBackupCode(name, u.generation(), index, now)) {
                logged(name);
                unanswered.add(new Promise(name, u.generation(), -1, index, -1));
            }
        } else if (pick < 94) {
            int failures = u.failures() + 1;
            put(Tables.USERS, name, u.withFailures(failures, u.lockoutLevel() + (failures >= 3 ? 1 : 0),
                    failures >= 3 ? now + 60 : 0).encode());
        } else {
            put(Tables.USERS, name, u.unlocked().encode());
        }
    }

    /** Starts an enrolment, or confirms the one pending: a new secret, a new generation. */
    private void enrol(String name) {
        if (store.pending(name).isEmpty()) {
            put(Tables.PENDING, name, new PendingEnrollment(key.seal(name, new byte[20]), now, now + 600).encode());
        } else {
            byte[] hashes = new byte[UserRecord.BACKUP_CODES * MasterKey.BACKUP_HASH_BYTES];
            random.nextBytes(hashes);
            // Also after a removal: what was used under the old secret stays void.
            int generation = generations.merge(name, 1, Integer::sum);
            put(Tables.USERS, name, new UserRecord(key.seal(name, new byte[20]), generation, 0, 0, 0, 0, now, 0,
                    hashes, 0).encode());
            put(Tables.PENDING, name, null);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void put(byte table, String name, byte[] value) {
        switch (table) {
            case Tables.META -> {
                if (value == null) {
                    store.removeMeta(name);
                } else {
                    store.putMeta(name, new String(value, StandardCharsets.UTF_8));
                }
            }
            case Tables.USERS -> {
                if (value == null) {
                    store.removeUser(name);
                } else {
                    store.putUser(name, UserRecord.decode(value));
                }
            }
            default -> {
                if (value == null) {
                    store.removePending(name);
                } else {
                    store.putPending(name, PendingEnrollment.decode(value));
                }
            }
        }
        entryKeys.add((char) table + ":" + name);
        entryValues.add(value == null ? null : HEX.formatHex(value));
    }

    /** The user record a conditional write ({@code acceptStep}, {@code useBackupCode}) just put. */
    private void logged(String name) {
        entryKeys.add("u:" + name);
        entryValues.add(HEX.formatHex(store.user(name).orElseThrow().encode()));
    }

    /** What {@code s} holds, as {@code table:key -> hex}; decodes every record on the way. */
    Map<String, String> stateOf(Store s) {
        Map<String, String> state = new HashMap<>();
        for (String name : s.names()) {
            s.user(name).ifPresent(u -> state.put("u:" + name, HEX.formatHex(u.encode())));
            s.pending(name).ifPresent(p -> state.put("p:" + name, HEX.formatHex(p.encode())));
        }
        for (String k : metaKeys) {
            s.meta(k).ifPresent(v -> state.put("m:" + k, HEX.formatHex(bytes(v))));
        }
        return state;
    }

    /** How many entries had been answered when the first {@code operations} disk operations were done. */
    int answeredAt(int operations) {
        int answered = 0;
        for (int[] a : answers) {
            if (a[0] <= operations) {
                answered = a[1];
            }
        }
        return answered;
    }

    /** The state after each prefix of the log: {@code states().get(p)} holds the first p entries. */
    List<Map<String, String>> states() {
        if (states == null) {
            states = new ArrayList<>();
            Map<String, String> state = new HashMap<>(initial);
            states.add(Map.copyOf(state));
            for (int i = 0; i < entryKeys.size(); i++) {
                if (entryValues.get(i) == null) {
                    state.remove(entryKeys.get(i));
                } else {
                    state.put(entryKeys.get(i), entryValues.get(i));
                }
                states.add(Map.copyOf(state));
            }
        }
        return states;
    }

    /**
     * Null if {@code found} is the state after some prefix of the log holding at least the
     * {@code answered} first entries; else what is wrong with it.
     */
    String whatIsWrong(Map<String, String> found, int answered) {
        List<Map<String, String>> all = states();
        for (int p = answered; p < all.size(); p++) {
            if (all.get(p).equals(found)) {
                return null;
            }
        }
        for (int p = answered - 1; p >= 0; p--) {
            if (all.get(p).equals(found)) {
                return "answered changes lost: the store holds the first " + p + " log entries of " + answered
                        + " answered; lost: " + entryKeys.subList(p, answered);
            }
        }
        List<String> differences = new ArrayList<>();
        Map<String, String> expected = all.get(answered);
        for (String k : new TreeSet<>(union(expected.keySet(), found.keySet()))) {
            if (!java.util.Objects.equals(expected.get(k), found.get(k))) {
                differences.add(k + ": answered " + render(k, expected.get(k)) + ", found " + render(k, found.get(k)));
            }
        }
        return "half-done: the store matches no prefix of the log from the " + answered + " answered entries on; "
                + "differs from the answered state in " + differences.subList(0, Math.min(3, differences.size()));
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> all = new TreeSet<>(a);
        all.addAll(b);
        return all;
    }

    private static String render(String k, String hex) {
        if (hex == null) {
            return "nothing";
        }
        return k.startsWith("u:") ? UserRecord.decode(HEX.parseHex(hex)).toString()
                : k.startsWith("m:") ? "'" + new String(HEX.parseHex(hex), StandardCharsets.UTF_8) + "'" : "a record";
    }

    /**
     * The top promise, asked of the store itself: no answered step or backup code is accepted
     * again. Null if kept. May write to {@code s} (if it breaks the promise): check the state first.
     */
    String brokenPromise(Store s, int answered) {
        long later = Long.MAX_VALUE / 2; // no lockout is still running then
        for (Promise p : promises) {
            if (p.answeredAfterEntries() <= answered && (p.backupIndex() < 0
                    ? s.acceptStep(p.user(), p.generation(), p.step(), later)
                    : s.useBackupCode(p.user(), p.generation(), p.backupIndex(), later))) {
                return "accepted again: " + p.describe() + ", answered OK before the crash";
            }
        }
        return null;
    }

    int promisesAnswered() {
        return promises.size();
    }
}
