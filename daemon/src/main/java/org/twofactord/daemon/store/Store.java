package org.twofactord.daemon.store;

import java.util.List;
import java.util.Optional;

/**
 * The durable state. Reads may come from any thread; writes and {@link #commit()} only from the
 * {@link Writer}'s thread, which owns the one transaction. A method without a checked exception
 * reports a failed store with {@link StoreUnavailable}. Two implementations: {@link org.twofactord.daemon.store.log.LogStore}
 * (one server, one file) and {@link org.twofactord.daemon.store.postgres.PostgresStore} (a fleet sharing one database).
 */
public interface Store extends AutoCloseable {
    String META_POLICY = "policy";
    String META_ISSUER = "issuer";

    Optional<String> meta(String key);

    Optional<UserRecord> user(String name);

    Optional<PendingEnrollment> pending(String name);

    /** Every name with a record or a pending enrolment, sorted. */
    List<String> names();

    /**
     * Every enrolled user with its record, read as they are iterated ({@code twofactord store
     * export}), in the store's order of names: one by one after {@link #names()}; PostgreSQL
     * reads them a page at a time instead, without listing every name first.
     */
    default Iterable<java.util.Map.Entry<String, UserRecord>> users() {
        return () -> names().stream()
                .flatMap(name -> user(name).stream().map(r -> java.util.Map.entry(name, r)))
                .iterator();
    }

    /** The names with a pending enrolment (few: a pending enrolment lives ten minutes). */
    List<String> pendingNames();

    /** How many users are enrolled. */
    int userCount();

    /**
     * Whether an administrator marked this account required (REQUIRE): it must enrol before it
     * may log in, whatever the policy's mode, unless the policy is disabled. The mark is the
     * account's and outlives its enrolments: REMOVE leaves it.
     */
    boolean required(String name);

    /** The names marked required, sorted. */
    List<String> requiredNames();

    /** Marks an account required, or clears the mark. */
    void setRequired(String name, boolean required);

    void putMeta(String key, String value);

    void removeMeta(String key);

    void putUser(String name, UserRecord record);

    /**
     * Puts many new users at once, in the transaction in progress, as {@link #putUser} would one
     * by one: {@code twofactord store import} into an empty store. {@code users} may be read only
     * once. PostgreSQL sends them with {@code COPY}, not a statement and a round trip each.
     */
    default void putUsers(Iterable<java.util.Map.Entry<String, UserRecord>> users) {
        for (java.util.Map.Entry<String, UserRecord> u : users) {
            putUser(u.getKey(), u.getValue());
        }
    }

    void removeUser(String name);

    void putPending(String name, PendingEnrollment pending);

    void removePending(String name);

    /**
     * The view a {@link Writer.Change} works on, on the writer thread: its reads see the writes of
     * the transaction in progress and, in PostgreSQL, lock the row they read until the commit
     * ({@code SELECT ... FOR UPDATE}), so a read-modify-write loses no update made by another
     * daemon. MapDB has one writer and one transaction: the store itself.
     */
    default Store inTransaction() {
        return this;
    }

    /**
     * Called on the writer thread, on the {@link #inTransaction()} view, before a batch in which
     * two or more changes name the user they touch, with those users: a store that pays a
     * round trip per statement may read (and lock) them all at once here, and hold back the
     * batch's writes until {@link #commit()}. A store shared by several daemons locks them in one
     * order (name), which keeps two daemons' batches from locking each other's rows crosswise.
     * The default does nothing.
     */
    default void prepare(java.util.Set<String> users) {
    }

    /**
     * Records an accepted TOTP step in one conditional write: only if the user still has this
     * {@code generation}, is not locked at {@code nowS}, and has accepted no step from
     * {@code step} on. True if it was written, and only then may the caller answer OK. Failures
     * and lockout are reset, as {@link UserRecord#accepted} does.
     */
    default boolean acceptStep(String name, int generation, long step, long nowS) {
        UserRecord current = user(name).orElse(null);
        if (current == null || current.generation() != generation || current.lockedAt(nowS)
                || step <= current.lastStep()) {
            return false;
        }
        putUser(name, current.accepted(step, nowS));
        return true;
    }

    /**
     * Marks backup code {@code index} used in one conditional write: only if the user still has
     * this {@code generation}, is not locked at {@code nowS} and the code is unused. True if it
     * was written, as {@link UserRecord#backupUsed} does.
     */
    default boolean useBackupCode(String name, int generation, int index, long nowS) {
        UserRecord current = user(name).orElse(null);
        if (current == null || current.generation() != generation || current.lockedAt(nowS)
                || (current.backupUsed() & (1 << index)) != 0) {
            return false;
        }
        putUser(name, current.backupUsed(index, nowS));
        return true;
    }

    /**
     * Whether a change may be answered before its commit: a failure count
     * ({@link Writer#submitLazy}), or a record made durable by {@link #sync} alone
     * ({@link Writer#submitSynced}). A database shared by several daemons says no: it commits
     * every batch at once rather than hold row locks, which other daemons wait for, until a later
     * commit; and its commit is already a single WAL flush.
     */
    default boolean lazyCommits() {
        return true;
    }

    /**
     * What STATS tells of the store beyond its user count, in order (name to a number, a string or
     * null); empty for a store with nothing to tell.
     */
    default java.util.Map<String, Object> health() {
        return java.util.Map.of();
    }

    /** Makes every write since the last commit durable. */
    void commit() throws StoreException;

    /**
     * Forgets every write since the last commit, after a {@link StoreTransient} failure, so that
     * what is read afterwards is what is durable. PostgreSQL has rolled its transaction back by
     * then; the log store drops what it had not yet logged.
     */
    default void rollback() {
    }

    /**
     * Makes the current records of these users durable, possibly more cheaply than a commit (the
     * MapDB store appends them to a journal); other writes wait for the next commit. The default
     * commits.
     */
    default void sync(java.util.Collection<String> names) throws StoreException {
        commit();
    }

    /**
     * Commits, then copies the store's files into {@code dir} (which must not exist): a
     * consistent copy, since nothing else writes while the writer runs this.
     */
    void snapshot(java.nio.file.Path dir) throws StoreException;

    @Override
    void close();
}
