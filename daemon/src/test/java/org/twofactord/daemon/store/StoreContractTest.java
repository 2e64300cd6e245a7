package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every store must do, whatever keeps it: run against MapDB ({@link MapDbStoreContractTest})
 * and PostgreSQL ({@link PostgresStoreContractTest}). Writes go through a real {@link Writer};
 * reads come from the store as session threads see it.
 */
abstract class StoreContractTest {
    static final SecureRandom RANDOM = new SecureRandom();
    MasterKey key;
    Store store;
    Writer writer;

    /** A new, empty store made with {@code key}. */
    abstract Store create(MasterKey key) throws Exception;

    /** The store {@link #create} made, opened again (after {@link Store#close()}) with {@code key}. */
    abstract Store reopen(MasterKey key) throws Exception;

    @BeforeEach
    void open() throws Exception {
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        RANDOM.nextBytes(raw);
        key = MasterKey.of(raw, RANDOM);
        store = create(key);
        writer = new Writer(store);
    }

    @AfterEach
    void closeAll() {
        writer.close();
        store.close();
    }

    <T> T write(Writer.Change<T> change) throws Exception {
        return writer.submit(change).get(10, TimeUnit.SECONDS);
    }

    boolean yes(Writer.Change<Boolean> change) throws Exception {
        return write(change);
    }

    UserRecord record(String name, int generation, long lastStep) {
        byte[] hashes = new byte[UserRecord.BACKUP_CODES * MasterKey.BACKUP_HASH_BYTES];
        RANDOM.nextBytes(hashes);
        return new UserRecord(key.seal(name, new byte[20]), generation, lastStep, 0, 0, 0, 1000, 0, hashes, 0);
    }

    void reopenStore() throws Exception {
        writer.close();
        store.close();
        store = reopen(key);
        writer = new Writer(store);
    }

    @Test
    void recordsMetaAndPendingEnrolmentsComeBackAsWrittenAndSurviveAReopen() throws Exception {
        UserRecord alice = record("alice", 1, 57);
        PendingEnrollment bob = new PendingEnrollment(key.seal("bob", new byte[20]), 100, 700);
        write(s -> {
            s.putUser("alice", alice);
            s.putPending("bob", bob);
            s.putMeta(Store.META_POLICY, "optional");
            s.putMeta(Store.META_ISSUER, "Example & Co");
            return null;
        });
        reopenStore();
        assertEquals(Optional.of(alice), store.user("alice"));
        assertEquals(Optional.of(bob), store.pending("bob"));
        assertEquals(Optional.empty(), store.user("bob"));
        assertEquals(Optional.of("optional"), store.meta(Store.META_POLICY));
        assertEquals(Optional.of("Example & Co"), store.meta(Store.META_ISSUER));
        assertEquals(List.of("alice", "bob"), store.names());
        assertEquals(1, store.userCount());
        assertEquals(20, key.open("alice", store.user("alice").get().sealedSecret()).length);
    }

    @Test
    void requiredMarksAreSetClearedAndSurviveAReopenIndependentlyOfEnrolment() throws Exception {
        write(s -> {
            s.setRequired("dora", true);
            s.setRequired("erin", true);
            s.putUser("erin", record("erin", 1, 0));
            s.setRequired("fred", true);
            return null;
        });
        assertEquals(true, store.required("dora"), "a mark on an account without 2FA");
        write(s -> {
            s.setRequired("fred", false);
            s.setRequired("dora", true); // twice is once
            s.removeUser("erin"); // the mark is the account's, not its enrolment's
            return null;
        });
        reopenStore();
        assertEquals(List.of("dora", "erin"), store.requiredNames());
        assertEquals(true, store.required("erin"));
        assertEquals(false, store.required("fred"));
        assertEquals(false, store.required("nobody"));
        assertEquals(List.of(), store.names(), "a mark alone is not a user or a pending enrolment");
        assertEquals(true, write(s -> s.required("dora")), "the writer's view sees the mark");
    }

    @Test
    void removalsAndOverwritesAreSeenAfterTheCommit() throws Exception {
        write(s -> {
            s.putUser("zed", record("zed", 1, 0));
            s.putUser("amy", record("amy", 1, 0));
            s.putMeta(Store.META_ISSUER, "one");
            return null;
        });
        UserRecord newer = record("zed", 2, 99);
        write(s -> {
            s.putUser("zed", newer);
            s.removeUser("amy");
            s.removeMeta(Store.META_ISSUER);
            return null;
        });
        assertEquals(Optional.of(newer), store.user("zed"));
        assertEquals(List.of("zed"), store.names());
        assertEquals(Optional.empty(), store.meta(Store.META_ISSUER));
    }

    @Test
    void aChangeReadsItsOwnBatchesWrites() throws Exception {
        String seen = write(s -> {
            s.putUser("carol", record("carol", 3, 5));
            return s.user("carol").map(r -> r.generation() + "/" + r.lastStep()).orElse("none");
        });
        assertEquals("3/5", seen);
    }

    @Test
    void aStepIsAcceptedOnlyOnceOnlyForItsGenerationAndNotWhileLocked() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 2, 100).withFailures(3, 1, 0));
            s.putUser("bob", record("bob", 1, 100).withFailures(0, 1, 5000));
            return null;
        });
        assertFalse(yes(s -> s.acceptStep("alice", 1, 101, 2000)), "an older generation");
        assertFalse(yes(s -> s.acceptStep("alice", 2, 100, 2000)), "not after the last step");
        assertFalse(yes(s -> s.acceptStep("nobody", 1, 101, 2000)), "no such user");
        assertFalse(yes(s -> s.acceptStep("bob", 1, 101, 2000)), "locked until 5000");
        assertTrue(yes(s -> s.acceptStep("alice", 2, 102, 2000)));
        UserRecord after = store.user("alice").get();
        assertEquals(102, after.lastStep());
        assertEquals(0, after.failures());
        assertEquals(0, after.lockoutLevel());
        assertEquals(2000, after.lastUsedAt());
        assertFalse(yes(s -> s.acceptStep("alice", 2, 102, 2000)), "the same step again");
        assertFalse(yes(s -> s.acceptStep("alice", 2, 101, 2000)), "an earlier step");
        assertTrue(yes(s -> s.acceptStep("bob", 1, 101, 5000)), "the lockout is over");
    }

    @Test
    void aBackupCodeIsUsedOnce() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 1, 0).withFailures(2, 0, 0));
            return null;
        });
        assertTrue(yes(s -> s.useBackupCode("alice", 1, 3, 2000)));
        assertFalse(yes(s -> s.useBackupCode("alice", 1, 3, 2000)), "used already");
        assertFalse(yes(s -> s.useBackupCode("alice", 2, 4, 2000)), "another generation");
        assertTrue(yes(s -> s.useBackupCode("alice", 1, 9, 2000)));
        UserRecord after = store.user("alice").get();
        assertEquals((1 << 3) | (1 << 9), after.backupUsed());
        assertEquals(UserRecord.BACKUP_CODES - 2, after.backupCodesLeft());
        assertEquals(0, after.failures());
    }

    @Test
    void manyRacingChangesWithOneStepGetOneYes() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 1, 10));
            return null;
        });
        List<CompletableFuture<Boolean>> all = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            all.add(writer.submit(s -> s.acceptStep("alice", 1, 11, 2000)));
        }
        int yes = 0;
        for (CompletableFuture<Boolean> f : all) {
            yes += f.get(10, TimeUnit.SECONDS) ? 1 : 0;
        }
        assertEquals(1, yes);
    }

    @Test
    void anAcceptedStepAnsweredAsSyncedIsKeptAcrossAReopen() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 1, 10));
            return null;
        });
        assertTrue(writer.submitSynced("alice", s -> s.acceptStep("alice", 1, 11, 2000)).get(10, TimeUnit.SECONDS));
        writer.close();
        store.close();
        store = reopen(key);
        writer = new Writer(store);
        assertEquals(11, store.user("alice").get().lastStep());
    }

    @Test
    void failureCountsAddUpThroughReadModifyWrite() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 1, 10));
            return null;
        });
        List<CompletableFuture<Object>> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            all.add(writer.submitLazy(s -> {
                UserRecord r = s.user("alice").orElseThrow();
                s.putUser("alice", r.withFailures(r.failures() + 1, 0, 0));
                return null;
            }));
        }
        for (CompletableFuture<Object> f : all) {
            f.get(10, TimeUnit.SECONDS);
        }
        write(s -> null); // a durable change: the lazy ones are committed with it at the latest
        reopenStore();
        assertEquals(40, store.user("alice").get().failures());
    }

    @Test
    void aStoreMadeWithAnotherKeyIsRefused() throws Exception {
        write(s -> {
            s.putUser("alice", record("alice", 1, 10));
            return null;
        });
        writer.close();
        store.close();
        byte[] other = new byte[MasterKey.KEY_BYTES];
        RANDOM.nextBytes(other);
        StoreException e = assertThrows(StoreException.class, () -> reopen(MasterKey.of(other, RANDOM)));
        assertTrue(e.getMessage().contains("master key"), e.getMessage());
        store = reopen(key);
        writer = new Writer(store);
        assertTrue(store.user("alice").isPresent());
    }

    @Test
    void toStringNeverShowsASecret() throws Exception {
        UserRecord alice = record("alice", 1, 10);
        write(s -> {
            s.putUser("alice", alice);
            return null;
        });
        String shown = store.user("alice").get().toString() + store;
        assertFalse(shown.contains(java.util.HexFormat.of().formatHex(alice.sealedSecret())));
        assertTrue(shown.contains("secret=***"));
    }
}
