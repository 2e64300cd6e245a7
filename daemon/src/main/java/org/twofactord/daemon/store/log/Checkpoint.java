package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * A checkpoint: the whole store as of one LSN, in a MapDB file ({@code checkpoint-<lsn, hex>.db})
 * written whole, once, by {@link #write}, and after that only read (MapDB's read-only mode, so any
 * number of threads read it without a lock of MapDB's). MapDB's transactions and write-ahead log
 * are not used at all: what is durable is decided by the {@link Journal} and the {@link Pointer}.
 *
 * <p>Tables: {@code meta}, {@code users}, {@code pending}, {@code required}, each a B-tree from a
 * name to the record's bytes; {@code meta} and {@code required} are small and held in memory.
 * Reads hold a shared lock so that
 * {@link #close} (once a newer checkpoint is live) waits for those in progress.
 */
final class Checkpoint implements AutoCloseable {
    static final String PREFIX = "checkpoint-";
    static final String SUFFIX = ".db";
    /** The order of keys in the B-trees, and so of the sorted input a new checkpoint is built from. */
    static final Comparator<String> ORDER = Serializer.STRING::compare;

    /** Thrown by a read of a checkpoint that has been closed: read the live one instead. */
    static final class Retired extends RuntimeException {
        Retired() {
            super("checkpoint retired", null, false, false);
        }
    }

    private final Path path;
    private final long lsn;
    private final DB db;
    private final BTreeMap<String, byte[]> users;
    private final BTreeMap<String, byte[]> pending;
    /** The small tables (META, REQUIRED), read whole at open. */
    private final Map<Byte, Map<String, byte[]>> small = new HashMap<>();
    private final long userCount;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lock
    /**
     * Users read from this checkpoint, which never changes: no entry can go stale. A B-tree read
     * costs several preads and the decoding of a node; a login reads its user two or three times.
     */
    private final java.util.concurrent.ConcurrentHashMap<String, byte[]> cache = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int CACHED = 65_536;
    private static final byte[] ABSENT = new byte[0];

    private Checkpoint(Path path, long lsn, DB db) {
        this.path = path;
        this.lsn = lsn;
        this.db = db;
        this.users = tree(db, Tables.USERS, false);
        this.pending = tree(db, Tables.PENDING, false);
        for (byte table : Tables.ALL) {
            if (Tables.small(table)) {
                // A checkpoint written before a table existed has none of it.
                small.put(table, db.exists(Tables.mapName(table)) ? new HashMap<>(tree(db, table, false))
                        : new HashMap<>());
            }
        }
        this.userCount = db.atomicLong("user_count").open().get();
    }

    @SuppressWarnings("unchecked")
    private static BTreeMap<String, byte[]> tree(DB db, byte table, boolean create) {
        DB.TreeMapMaker<String, byte[]> maker = db.treeMap(Tables.mapName(table), Serializer.STRING,
                Serializer.BYTE_ARRAY);
        return create ? maker.create() : maker.open();
    }

    static Path path(Path dir, long lsn) {
        return dir.resolve(String.format("%s%016x%s", PREFIX, lsn, SUFFIX));
    }

    /**
     * Opens a published checkpoint; with {@code verify}, after checking it against its pointer
     * (size and CRC), as at start-up. One this process just wrote and checked needs no second read.
     */
    static Checkpoint open(Disk disk, Path dir, Pointer pointer, boolean verify) throws IOException {
        Path file = dir.resolve(pointer.checkpoint());
        if (!Files.exists(file)) {
            throw new IOException("checkpoint " + file + " named by " + dir.resolve(Pointer.NAME) + " is missing");
        }
        long size = Files.size(file);
        int crc = verify ? crc(disk, file) : pointer.crc();
        if (size != pointer.size() || crc != pointer.crc()) {
            throw new IOException("checkpoint " + file + " is damaged (size " + size + ", expected " + pointer.size()
                    + "; or its checksum does not match)");
        }
        DB db;
        try {
            db = DBMaker.fileDB(file.toFile()).readOnly().fileChannelEnable().make();
        } catch (RuntimeException e) {
            throw new IOException("checkpoint " + file + " cannot be opened: " + e, e);
        }
        try {
            return new Checkpoint(file, pointer.lsn(), db);
        } catch (RuntimeException e) {
            db.close();
            throw new IOException("checkpoint " + file + " cannot be read: " + e, e);
        }
    }

    static int crc(Disk disk, Path file) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        try (Disk.File f = disk.open(file)) {
            long size = f.size();
            for (long at = 0; at < size; ) {
                buf.clear();
                int n = f.read(at, buf);
                if (n <= 0) {
                    break;
                }
                buf.flip();
                crc.update(buf);
                at += n;
            }
        }
        return (int) crc.getValue();
    }

    Path path() {
        return path;
    }

    /** The last LSN this checkpoint covers. */
    long lsn() {
        return lsn;
    }

    long userCount() {
        return userCount;
    }

    /** The value of {@code key} in {@code table}, or null. */
    byte[] get(byte table, String key) {
        if (Tables.small(table)) {
            return small.get(table).get(key);
        }
        lock.readLock().lock();
        try {
            if (closed) {
                throw new Retired();
            }
            if (table == Tables.PENDING) {
                return pending.get(key);
            }
            byte[] cached = cache.get(key);
            if (cached != null) {
                return cached == ABSENT ? null : cached;
            }
            byte[] value = users.get(key);
            if (cache.size() >= CACHED) {
                cache.clear(); // bounded without bookkeeping; the hot users come back at once
            }
            cache.put(key, value == null ? ABSENT : value);
            return value;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Every key of {@code table}, in order. */
    List<String> keys(byte table) {
        if (Tables.small(table)) {
            return new ArrayList<>(new java.util.TreeMap<>(small.get(table)).keySet());
        }
        lock.readLock().lock();
        try {
            if (closed) {
                throw new Retired();
            }
            return new ArrayList<>((table == Tables.USERS ? users : pending).keySet());
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Writes a new checkpoint at {@code lsn}: {@code base} (null for none) with {@code changes}
     * applied (per table, sorted by {@link #ORDER}; a null value removes the key), built in one
     * pass by MapDB's sorted bulk loader, then synced, and the directory synced so that its name
     * is durable too. Not yet live: {@link Pointer#publish} makes it so.
     *
     * @return the pointer to publish
     */
    static Pointer write(Disk disk, Path dir, long lsn, Checkpoint base,
                         Map<Byte, NavigableMap<String, byte[]>> changes) throws IOException {
        Path file = path(dir, lsn);
        disk.delete(file); // a leftover of a checkpoint that did not finish
        long users = 0;
        try {
            DB db = DBMaker.fileDB(file.toFile()).fileChannelEnable().make();
            try {
                for (byte table : Tables.ALL) {
                    DB.TreeMapSink<String, byte[]> sink = db.treeMap(Tables.mapName(table), Serializer.STRING,
                            Serializer.BYTE_ARRAY).createFromSink();
                    Iterator<Map.Entry<String, byte[]>> old = base == null ? java.util.Collections.emptyIterator()
                            : base.iterator(table);
                    long n = merge(old, changes.getOrDefault(table, new java.util.TreeMap<>(ORDER)), sink);
                    sink.create();
                    if (table == Tables.USERS) {
                        users = n;
                    }
                }
                db.atomicLong("user_count", users).create();
            } finally {
                db.close();
            }
            disk.writtenElsewhere(file);
            try (Disk.File f = disk.open(file)) {
                f.sync();
            }
            disk.syncDir(dir);
            return new Pointer(file.getFileName().toString(), lsn, Files.size(file), crc(disk, file));
        } catch (IOException | RuntimeException e) {
            try {
                disk.delete(file);
            } catch (IOException ignored) {
                // the next checkpoint or start-up removes it
            }
            throw e instanceof IOException io ? io : new IOException("checkpoint " + file + ": " + e, e);
        }
    }

    /** The entries of a table in order; the caller holds no lock, so this is for the checkpoint thread. */
    private Iterator<Map.Entry<String, byte[]>> iterator(byte table) {
        if (Tables.small(table)) {
            java.util.TreeMap<String, byte[]> sorted = new java.util.TreeMap<>(ORDER);
            sorted.putAll(small.get(table));
            return sorted.entrySet().iterator();
        }
        return (table == Tables.USERS ? users : pending).entryIterator();
    }

    /** Merges two sorted streams into the sink, the changes winning; returns how many were put. */
    private static long merge(Iterator<Map.Entry<String, byte[]>> old, NavigableMap<String, byte[]> changes,
                              DB.TreeMapSink<String, byte[]> sink) {
        Iterator<Map.Entry<String, byte[]>> upd = changes.entrySet().iterator();
        Map.Entry<String, byte[]> a = old.hasNext() ? old.next() : null;
        Map.Entry<String, byte[]> b = upd.hasNext() ? upd.next() : null;
        long n = 0;
        while (a != null || b != null) {
            int c = a == null ? 1 : b == null ? -1 : ORDER.compare(a.getKey(), b.getKey());
            if (c < 0) {
                sink.put(a.getKey(), a.getValue());
                n++;
                a = old.hasNext() ? old.next() : null;
            } else {
                if (b.getValue() != null) {
                    sink.put(b.getKey(), b.getValue());
                    n++;
                }
                if (c == 0) {
                    a = old.hasNext() ? old.next() : null;
                }
                b = upd.hasNext() ? upd.next() : null;
            }
        }
        return n;
    }

    /** Waits for reads in progress, then closes the file; later reads throw {@link Retired}. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                db.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
