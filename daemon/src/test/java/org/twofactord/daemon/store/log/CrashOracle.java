package org.twofactord.daemon.store.log;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.twofactord.daemon.store.legacy.MapDbStore;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.UserRecord;

/**
 * What the store was told and what it answered: every log entry in order, how many of them were
 * answered (their commit had returned) once a number of disk operations were done, and the steps
 * and backup codes answered OK. A crash image must hold the state after some prefix of the log
 * that includes every answered entry, and accept none of those steps and codes again.
 *
 * <p>State is compared as {@code table:key -> hex of the value}, e.g. {@code u:user3}.
 */
final class CrashOracle {
    private static final HexFormat HEX = HexFormat.of();
    private static final Set<String> META_KEYS = Set.of(MapDbStore.META_SCHEMA, MapDbStore.META_KEY_CHECK,
            Store.META_POLICY, Store.META_ISSUER);

    /** A promise a client was given: this step (or backup code, if {@code step < 0}) of this secret was used. */
    record Promise(String user, int generation, long step, int backupIndex, int answeredAfterEntries) {
        String describe() {
            return (step >= 0 ? "step " + step : "backup code " + backupIndex) + " of " + user + " (generation "
                    + generation + ")";
        }
    }

    private final Map<String, String> initial;
    private final List<String> entryKeys = new ArrayList<>();
    private final List<String> entryValues = new ArrayList<>(); // null: removed
    private final List<int[]> answers = new ArrayList<>(); // {operations done, entries answered}
    private final List<Promise> promises = new ArrayList<>();
    private final List<Promise> unanswered = new ArrayList<>();
    private List<Map<String, String>> states;

    /** Starts from what {@code store} holds now. */
    CrashOracle(Store store) {
        this.initial = stateOf(store);
    }

    /** The store was told to set (or remove, if null) a key: its next log entry. */
    void logged(byte table, String name, byte[] value) {
        entryKeys.add((char) table + ":" + name);
        entryValues.add(value == null ? null : HEX.formatHex(value));
    }

    /** A conditional write logged this: answered with the commit. */
    void promised(String user, int generation, long step, int backupIndex) {
        unanswered.add(new Promise(user, generation, step, backupIndex, -1));
    }

    /** A commit returned once {@code operations} disk operations were done: everything logged is answered. */
    void answered(int operations) {
        answers.add(new int[] {operations, entryKeys.size()});
        unanswered.forEach(p -> promises.add(new Promise(p.user(), p.generation(), p.step(), p.backupIndex(),
                entryKeys.size())));
        unanswered.clear();
    }

    int promisesAnswered() {
        return promises.size();
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

    /** What {@code s} holds, as {@code table:key -> hex}; decodes every record on the way. */
    static Map<String, String> stateOf(Store s) {
        Map<String, String> state = new HashMap<>();
        for (String name : s.names()) {
            s.user(name).ifPresent(u -> state.put("u:" + name, HEX.formatHex(u.encode())));
            s.pending(name).ifPresent(p -> state.put("p:" + name, HEX.formatHex(p.encode())));
        }
        for (String k : META_KEYS) {
            s.meta(k).ifPresent(v -> state.put("m:" + k, HEX.formatHex(v.getBytes(StandardCharsets.UTF_8))));
        }
        return state;
    }

    /** The state after each prefix of the log: {@code states().get(p)} holds the first p entries. */
    private List<Map<String, String>> states() {
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
        Set<String> keys = new TreeSet<>(expected.keySet());
        keys.addAll(found.keySet());
        for (String k : keys) {
            if (!Objects.equals(expected.get(k), found.get(k))) {
                differences.add(k + ": answered " + render(k, expected.get(k)) + ", found " + render(k, found.get(k)));
            }
        }
        return "half-done: the store matches no prefix of the log from the " + answered + " answered entries on; "
                + "differs from the answered state in " + differences.subList(0, Math.min(3, differences.size()));
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
            if (p.answeredAfterEntries() <= answered && (p.step() >= 0
                    ? s.acceptStep(p.user(), p.generation(), p.step(), later)
                    : s.useBackupCode(p.user(), p.generation(), p.backupIndex(), later))) {
                return "accepted again: " + p.describe() + ", answered OK before the crash";
            }
        }
        return null;
    }
}
