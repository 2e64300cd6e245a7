package org.twofactord.daemon.store.log;

/**
 * One change in the log: a key of one of the store's tables set to a value, or removed
 * ({@code value == null}). Values are the records' own encodings, secrets sealed.
 *
 * @param lsn   its place in the log (log sequence number), from 1; 0 before it is appended
 * @param table {@link Tables#META}, {@link Tables#USERS} or {@link Tables#PENDING}
 */
public record LogEntry(long lsn, byte table, String key, byte[] value) {
    LogEntry withLsn(long n) {
        return new LogEntry(n, table, key, value);
    }

    @Override
    public String toString() {
        return "LogEntry[lsn=" + lsn + ", table=" + (char) table + ", key=" + key + (value == null ? ", removed]" : "]");
    }
}
