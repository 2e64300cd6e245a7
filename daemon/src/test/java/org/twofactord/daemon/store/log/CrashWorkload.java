package org.twofactord.daemon.store.log;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.UserRecord;

/**
 * Changes of every kind a daemon makes (enrolments, accepted steps, backup codes, failure counts,
 * lockouts, removals, policy, a bulk enrolment), committed in small batches through a real
 * {@link LogStore}, with forced checkpoints and restarts; each change and each answer told to the
 * {@link CrashOracle}.
 */
final class CrashWorkload {
    private static final int USERS = 10;

    private LogStore store;
    private final RecordingDisk disk;
    private final MasterKey key;
    private final Random random;
    private final CrashOracle oracle;
    private final Map<String, Integer> generations = new HashMap<>();
    private long now = 1_700_000_000L;
    private int checkpoints;

    private CrashWorkload(LogStore store, RecordingDisk disk, MasterKey key, long seed) {
        this.store = store;
        this.disk = disk;
        this.key = key;
        this.random = new Random(seed);
        this.oracle = new CrashOracle(store);
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
                if (once.checkpoints() < 1) { // one per write replayed, with these settings
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

    CrashOracle oracle() {
        return oracle;
    }

    private void batch() throws Exception {
        int changes = 1 + random.nextInt(3);
        for (int i = 0; i < changes; i++) {
            change("user" + random.nextInt(USERS));
        }
        store.commit();
        oracle.answered(disk.opCount());
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
        List<RecordingDisk.Op> all = disk.ops(); // one snapshot: the segment preparer records ops too
        long syncs = all.subList(before, all.size()).stream()
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
                oracle.promised(name, u.generation(), step, -1);
            }
        } else if (pick < 72) {
            int index = random.nextInt(UserRecord.BACKUP_CODES);
            if (store.useBackupCode(name, u.generation(), index, now)) {
                logged(name);
                oracle.promised(name, u.generation(), -1, index);
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
        oracle.logged(table, name, value);
    }

    /** The user record a conditional write ({@code acceptStep}, {@code useBackupCode}) just put. */
    private void logged(String name) {
        oracle.logged(Tables.USERS, name, store.user(name).orElseThrow().encode());
    }
}
