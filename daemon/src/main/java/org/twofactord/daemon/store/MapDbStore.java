package org.twofactord.daemon.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBException;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * The store in one MapDB file with transactions ({@code fileDB().transactionEnable()}: a kill -9
 * at any instant leaves the last commit). Every map has explicit serializers: keys are strings,
 * values are byte arrays in formats this project defines, so nothing depends on Java or Elsa
 * serialization.
 *
 * <p>Reads of user records and meta values are served from memory when they can be: a MapDB read
 * costs several {@code pread}s and the decoding of a whole B-tree node, on every VERIFY. The meta
 * map is small and held whole. User records sit in a bounded cache that writes go through; a
 * reader adds what it read from MapDB only if no write happened meanwhile (the {@link #writes}
 * stamp), so a stale record can never shadow a newer one. A rollback empties the cache.
 */
public final class MapDbStore implements Store {
    /** At most this many user records are cached (about 300 bytes each); over it the cache starts again. */
    static final int CACHED_USERS = 65_536;

    /** The layout of the maps; a newer number than this one is refused. */
    public static final int SCHEMA_VERSION = 1;
    static final String META_SCHEMA = "schema_version";
    static final String META_KEY_CHECK = "key_check";

    private final DB db;
    private final ConcurrentMap<String, String> meta;
    private final BTreeMap<String, byte[]> users;
    private final BTreeMap<String, byte[]> pending;
    private final ConcurrentHashMap<String, String> metaCache = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, UserRecord> userCache = new ConcurrentHashMap<>();
    /** Counts writes to users (and rollbacks); a reader caches what it read only if this did not move. */
    private final AtomicLong writes = new AtomicLong();

    private MapDbStore(DB db) {
        this.db = db;
        this.meta = db.hashMap("meta", Serializer.STRING, Serializer.STRING).createOrOpen();
        // Values outside the nodes: a changed record (a failure count, an accepted step) is written
        // alone, not with the ~7 KB leaf around it; per 64-change commit that halved the I/O and
        // made group commit about 35% faster. MapDB keeps the layout in its catalog, so a store
        // made with values inside the nodes (before this) opens and works as it was. The counter
        // makes size() (STATS) a read instead of a walk over every leaf; old stores walk as before.
        this.users = db.treeMap("users", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable()
                .counterEnable().createOrOpen();
        this.pending = db.treeMap("pending", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
        this.metaCache.putAll(meta);
    }

    /**
     * Opens (or creates) the store in {@code stateDir}, checking that {@code key} is the key it was
     * made with.
     */
    public static MapDbStore open(Path file, MasterKey key) throws StoreException {
        boolean existed = Files.exists(file);
        DB db;
        try {
            db = DBMaker.fileDB(file.toFile()).fileChannelEnable().transactionEnable().closeOnJvmShutdown().make();
        } catch (DBException.FileLocked e) {
            throw new StoreException("store " + file + " is in use by another process (is a twofactord already "
                    + "running on this state directory?)", e);
        } catch (DBException | IllegalStateException e) {
            throw new StoreException("store " + file + " cannot be opened: " + e.getMessage()
                    + "; restore it from a backup (docs/operations.md)", e);
        }
        try {
            restrictPermissions(file);
            MapDbStore store = new MapDbStore(db);
            store.checkSchemaAndKey(file, key, existed);
            return store;
        } catch (StoreException | RuntimeException e) {
            db.close();
            throw e;
        }
    }

    private static void restrictPermissions(Path file) throws StoreException {
        try (var siblings = Files.list(file.getParent())) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                if (p.getFileName().toString().startsWith(file.getFileName().toString())) {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot set the mode of " + file + ": " + e.getMessage(), e);
        }
    }

    private void checkSchemaAndKey(Path file, MasterKey key, boolean existed) throws StoreException {
        String check = HexFormat.of().formatHex(key.fingerprint());
        String schema = meta.get(META_SCHEMA);
        if (schema == null) {
            if (existed && !users.isEmpty()) {
                throw new StoreException("store " + file + " has users but no schema version; it is damaged");
            }
            putMeta(META_SCHEMA, Integer.toString(SCHEMA_VERSION));
            putMeta(META_KEY_CHECK, check);
            db.commit();
            return;
        }
        int version;
        try {
            version = Integer.parseInt(schema);
        } catch (NumberFormatException e) {
            throw new StoreException("store " + file + " has a bad schema version '" + schema + "'");
        }
        if (version > SCHEMA_VERSION) {
            throw new StoreException("store " + file + " has schema version " + version
                    + ", newer than this twofactord understands (" + SCHEMA_VERSION + ")");
        }
        if (!check.equals(meta.get(META_KEY_CHECK))) {
            throw new StoreException("the master key does not match store " + file
                    + "; restore the master.key that was backed up with this store");
        }
    }

    @Override
    public Optional<String> meta(String key) {
        return Optional.ofNullable(metaCache.get(key));
    }

    @Override
    public Optional<UserRecord> user(String name) {
        UserRecord cached = userCache.get(name);
        if (cached != null) {
            return Optional.of(cached);
        }
        long stamp = writes.get();
        byte[] bytes = users.get(name);
        if (bytes == null) {
            return Optional.empty();
        }
        UserRecord record = UserRecord.decode(bytes);
        if (writes.get() == stamp) {
            cache(name, record, false);
        }
        return Optional.of(record);
    }

    private void cache(String name, UserRecord record, boolean replace) {
        if (userCache.size() >= CACHED_USERS && !userCache.containsKey(name)) {
            userCache.clear(); // bounded without bookkeeping; the hot users come back at once
        }
        if (replace) {
            userCache.put(name, record);
        } else {
            userCache.putIfAbsent(name, record);
        }
    }

    @Override
    public Optional<PendingEnrollment> pending(String name) {
        byte[] bytes = pending.get(name);
        return bytes == null ? Optional.empty() : Optional.of(PendingEnrollment.decode(bytes));
    }

    @Override
    public List<String> names() {
        TreeSet<String> all = new TreeSet<>(users.keySet());
        all.addAll(pending.keySet());
        return new ArrayList<>(all);
    }

    @Override
    public List<String> pendingNames() {
        return new ArrayList<>(pending.keySet());
    }

    @Override
    public int userCount() {
        return users.size();
    }

    @Override
    public void putMeta(String key, String value) {
        meta.put(key, value);
        metaCache.put(key, value);
    }

    @Override
    public void removeMeta(String key) {
        meta.remove(key);
        metaCache.remove(key);
    }

    @Override
    public void putUser(String name, UserRecord record) {
        writes.incrementAndGet();
        users.put(name, record.encode());
        cache(name, record, true);
    }

    @Override
    public void removeUser(String name) {
        writes.incrementAndGet();
        users.remove(name);
        userCache.remove(name);
    }

    @Override
    public void putPending(String name, PendingEnrollment p) {
        pending.put(name, p.encode());
    }

    @Override
    public void removePending(String name) {
        pending.remove(name);
    }

    @Override
    public void commit() throws StoreException {
        try {
            db.commit();
        } catch (RuntimeException e) {
            throw new StoreException("commit failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void rollback() throws StoreException {
        writes.incrementAndGet();
        userCache.clear();
        try {
            db.rollback();
        } catch (RuntimeException e) {
            throw new StoreException("rollback failed: " + e.getMessage(), e);
        } finally {
            writes.incrementAndGet();
            userCache.clear();
            // Never empty, not even for an instant: an absent policy would read as "disabled".
            metaCache.putAll(meta);
            metaCache.keySet().retainAll(meta.keySet());
        }
    }

    @Override
    public void close() {
        if (!db.isClosed()) {
            db.close();
        }
    }
}
