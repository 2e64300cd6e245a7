package org.twofactord.daemon.store;

import java.util.List;
import java.util.Optional;

/**
 * The durable state. Reads may come from any thread; writes and {@link #commit()} only from the
 * {@link Writer}'s thread, which owns the one transaction. A method without a checked exception
 * reports a failed store with {@link StoreUnavailable}.
 */
public interface Store extends AutoCloseable {
    String META_POLICY = "policy";
    String META_ISSUER = "issuer";

    Optional<String> meta(String key);

    Optional<UserRecord> user(String name);

    Optional<PendingEnrollment> pending(String name);

    /** Every name with a record or a pending enrolment, sorted. */
    List<String> names();

    /** The names with a pending enrolment (few: a pending enrolment lives ten minutes). */
    List<String> pendingNames();

    /** How many users are enrolled. */
    int userCount();

    void putMeta(String key, String value);

    void removeMeta(String key);

    void putUser(String name, UserRecord record);

    void removeUser(String name);

    void putPending(String name, PendingEnrollment pending);

    void removePending(String name);

    /** Makes every write since the last commit durable. */
    void commit() throws StoreException;

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
