package org.twofactord.daemon.store.legacy;

import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.StoreUnavailable;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.Writer;
import org.twofactord.daemon.store.key.MasterKey;
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
 * <p>Reads of user records and meta values are served from memory where they can be: a MapDB read
 * costs several {@code pread}s and the decoding of a B-tree node on every VERIFY. The meta map is
 * small and held whole. User records sit in a bounded cache that writes go through; a reader adds
 * what it read from MapDB only if no write happened meanwhile (checked under {@link #cacheLock},
 * which every write holds), so a stale record can never shadow a newer one or a removal. Nothing
 * needs undoing on a failed write: the store is then broken for good (see {@link Writer}).
 */
public final class MapDbStore implements Store {
    /** At most this many user records are cached (about 300 bytes each); over it the cache starts again. */
    static final int CACHED_USERS = 65_536;

    /** The layout of the maps; a newer number than this one is refused. */
    public static final int SCHEMA_VERSION = 1;
    public static final String META_SCHEMA = "schema_version";
    public static final String META_KEY_CHECK = "key_check";
    /** The number of the last commit; journal entries made after it carry it. */
    public static final String META_COMMIT = "commit_number";

    /** The open database and its maps. */
    private record Maps(DB db, ConcurrentMap<String, String> meta, BTreeMap<String, byte[]> users,
                        BTreeMap<String, byte[]> pending) {
        static Maps of(DB db) {
            return new Maps(db, db.hashMap("meta", Serializer.STRING, Serializer.STRING).createOrOpen(),
                    // Values outside the nodes: a changed record (an accepted step, a failure
                    // count) is written alone, not with the ~7 KB leaf around it (a 64-change
                    // commit: 4.2-4.7 ms instead of 6.9-8.5). The counter makes size() a read, not
                    // a walk of every leaf. MapDB keeps both choices in its catalog, so a store
                    // made before them opens and works as it was made.
                    db.treeMap("users", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable()
                            .counterEnable().createOrOpen(),
                    db.treeMap("pending", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen());
        }
    }

    private final Path file;
    private final Maps maps;
    private final ConcurrentHashMap<String, String> metaCache = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, UserRecord> userCache = new ConcurrentHashMap<>();
    /** Held by every write to users; a reader fills the cache under it, and only if {@link #writes} did not move. */
    private final Object cacheLock = new Object();
    private long writes; // guarded by cacheLock
    private LegacyJournal journal; // opened after the schema and key are checked
    private long commitNumber;

    private MapDbStore(Path file, DB db) {
        this.file = file;
        this.maps = Maps.of(db);
        this.metaCache.putAll(maps.meta());
    }

    /** The journal beside the store file. */
    static Path journalPath(Path file) {
        return file.resolveSibling(file.getFileName() + ".journal");
    }

    /**
     * The file channel reads with positional reads and no lock of its own (the default
     * RandomAccessFile volume serialises every read behind one monitor); the file format is the same.
     */
    private static DB make(Path file) {
        return DBMaker.fileDB(file.toFile()).fileChannelEnable().transactionEnable().closeOnJvmShutdown().make();
    }

    /** Runs a read or write, turning MapDB's failures into {@link StoreUnavailable}. */
    private <T> T guarded(java.util.function.Function<Maps, T> op) {
        try {
            return op.apply(maps);
        } catch (RuntimeException e) {
            throw new StoreUnavailable(new StoreException("store " + file + ": " + describe(e), e));
        }
    }

    private static String describe(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        return root.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    /**
     * Opens (or creates) the store in {@code stateDir}, checking that {@code key} is the key it was
     * made with.
     */
    public static MapDbStore open(Path file, MasterKey key) throws StoreException {
        boolean existed = Files.exists(file);
        DB db;
        try {
            db = make(file);
        } catch (DBException.FileLocked e) {
            throw new StoreException("store " + file + " is in use by another process (is a twofactord already "
                    + "running on this state directory?)", e);
        } catch (DBException | IllegalStateException e) {
            throw new StoreException("store " + file + " cannot be opened (" + describe(e)
                    + "); restore it and its master.key from a backup (docs/operations.md)", e);
        }
        try {
            restrictPermissions(file);
            MapDbStore store = new MapDbStore(file, db);
            store.checkSchemaAndKey(file, key, existed);
            store.replayJournal();
            restrictPermissions(file); // the journal too, if it was just made
            return store;
        } catch (StoreException | RuntimeException e) {
            db.close();
            throw e;
        }
    }

    /**
     * Mode 0600 for the store's files, and the state directory's owner: a file that root made
     * through an offline command ({@code store check}, {@code store import}) must stay readable by
     * the service user the directory belongs to, or the daemon could not start on it.
     */
    private static void restrictPermissions(Path file) throws StoreException {
        try (var siblings = Files.list(file.getParent())) {
            java.nio.file.attribute.UserPrincipal dirOwner = Files.getOwner(file.getParent());
            for (Path p : (Iterable<Path>) siblings::iterator) {
                if (p.getFileName().toString().startsWith(file.getFileName().toString())) {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
                    if (!Files.getOwner(p).equals(dirOwner)) {
                        Files.setOwner(p, dirOwner); // only root can, and only root made it so
                    }
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot set the mode of " + file + ": " + e.getMessage(), e);
        }
    }

    private void checkSchemaAndKey(Path file, MasterKey key, boolean existed) throws StoreException {
        ConcurrentMap<String, String> meta = maps.meta();
        String check = HexFormat.of().formatHex(key.fingerprint());
        String schema = meta.get(META_SCHEMA);
        if (schema == null) {
            if (existed && !maps.users().isEmpty()) {
                throw new StoreException("store " + file + " has users but no schema version; it is damaged");
            }
            putMeta(META_SCHEMA, Integer.toString(SCHEMA_VERSION));
            putMeta(META_KEY_CHECK, check);
            maps.db().commit();
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

    /**
     * Applies the journal's entries made after the store's last commit (in order: each is a whole
     * record), commits them, and empties the journal.
     */
    private void replayJournal() throws StoreException {
        commitNumber = metaCache.containsKey(META_COMMIT) ? Long.parseLong(metaCache.get(META_COMMIT)) : 0;
        try {
            journal = LegacyJournal.open(journalPath(file));
            int replayed = 0;
            for (LegacyJournal.Entry entry : journal.read()) {
                if (entry.commit() < commitNumber) {
                    continue; // covered by a later commit
                }
                // Tagged with the store's last commit, or (if MapDB came back without a commit it
                // had reported done) a later one: newer than the store either way.
                if (entry.record() == null) {
                    removeUser(entry.name());
                } else {
                    putUser(entry.name(), UserRecord.decode(entry.record()));
                }
                replayed++;
            }
            if (replayed > 0) {
                org.slf4j.LoggerFactory.getLogger(MapDbStore.class).info(
                        "replayed {} change(s) from {} made after the last commit", replayed, journal.path());
            }
            commit();
        } catch (IOException e) {
            throw new StoreException("journal " + journalPath(file) + " cannot be read: " + e.getMessage()
                    + "; restore the store from a backup (docs/operations.md)", e);
        } catch (RuntimeException e) {
            throw new StoreException("journal " + journalPath(file) + " is damaged (" + describe(e)
                    + "); restore the store from a backup (docs/operations.md)", e);
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
        long stamp;
        synchronized (cacheLock) {
            stamp = writes;
        }
        byte[] bytes = guarded(m -> m.users().get(name));
        if (bytes == null) {
            return Optional.empty();
        }
        UserRecord record = UserRecord.decode(bytes);
        synchronized (cacheLock) {
            if (writes == stamp) {
                cache(name, record);
            }
        }
        return Optional.of(record);
    }

    /** Under cacheLock. */
    private void cache(String name, UserRecord record) {
        if (userCache.size() >= CACHED_USERS && !userCache.containsKey(name)) {
            userCache.clear(); // bounded without bookkeeping; the hot users come back at once
        }
        userCache.put(name, record);
    }

    /** Every meta value, the store's own bookkeeping included (to convert the store). */
    public java.util.Map<String, String> allMeta() {
        return new java.util.TreeMap<>(metaCache);
    }

    @Override
    public Optional<PendingEnrollment> pending(String name) {
        byte[] bytes = guarded(m -> m.pending().get(name));
        return bytes == null ? Optional.empty() : Optional.of(PendingEnrollment.decode(bytes));
    }

    @Override
    public List<String> names() {
        return guarded(m -> {
            TreeSet<String> all = new TreeSet<>(m.users().keySet());
            all.addAll(m.pending().keySet());
            return new ArrayList<>(all);
        });
    }

    @Override
    public List<String> pendingNames() {
        return guarded(m -> new ArrayList<>(m.pending().keySet()));
    }

    @Override
    public int userCount() {
        return guarded(m -> m.users().size());
    }

    /** The MapDB store predates required marks: it has none, and is only read, to be converted. */
    @Override
    public boolean required(String name) {
        return false;
    }

    @Override
    public List<String> requiredNames() {
        return List.of();
    }

    @Override
    public void setRequired(String name, boolean required) {
        throw new UnsupportedOperationException("the MapDB store is only converted; it keeps no required marks");
    }

    @Override
    public void putMeta(String key, String value) {
        guarded(m -> m.meta().put(key, value));
        metaCache.put(key, value);
    }

    @Override
    public void removeMeta(String key) {
        guarded(m -> m.meta().remove(key));
        metaCache.remove(key);
    }

    @Override
    public void putUser(String name, UserRecord record) {
        synchronized (cacheLock) {
            writes++;
            userCache.remove(name); // if the write fails, no stale copy stays behind
            guarded(m -> m.users().put(name, record.encode()));
            cache(name, record);
        }
    }

    @Override
    public void removeUser(String name) {
        synchronized (cacheLock) {
            writes++;
            userCache.remove(name);
            guarded(m -> m.users().remove(name));
        }
    }

    @Override
    public void putPending(String name, PendingEnrollment p) {
        guarded(m -> m.pending().put(name, p.encode()));
    }

    @Override
    public void removePending(String name) {
        guarded(m -> m.pending().remove(name));
    }

    @Override
    public void commit() throws StoreException {
        try {
            putMeta(META_COMMIT, Long.toString(commitNumber + 1));
            maps.db().commit();
        } catch (RuntimeException e) {
            throw new StoreException("commit failed: " + describe(e), e);
        }
        commitNumber++;
        if (journal != null) {
            try {
                journal.clear(); // every entry is older than this commit now: only space to reclaim
            } catch (IOException e) {
                throw new StoreException("journal " + journal.path() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Makes the users' current records durable with one append to the journal and one fdatasync,
     * instead of a commit; the next commit covers them too, and a restart before it replays them.
     */
    @Override
    public void sync(java.util.Collection<String> names) throws StoreException {
        List<LegacyJournal.Entry> entries = new ArrayList<>(names.size());
        for (String name : names) {
            entries.add(new LegacyJournal.Entry(commitNumber, name, user(name).map(UserRecord::encode).orElse(null)));
        }
        try {
            journal.appendAndSync(entries);
        } catch (IOException e) {
            throw new StoreException("journal " + journal.path() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void snapshot(Path dir) throws StoreException {
        commit();
        try {
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            try (var siblings = Files.list(file.getParent())) {
                for (Path p : (Iterable<Path>) siblings::iterator) {
                    if (p.getFileName().toString().startsWith(file.getFileName().toString()) && Files.isRegularFile(p)) {
                        Files.copy(p, dir.resolve(p.getFileName()), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
            }
        } catch (IOException e) {
            throw new StoreException("snapshot into " + dir + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (journal != null) {
                journal.close();
            }
        } catch (IOException e) {
            // closing a file we only append to: nothing to lose
        }
        try {
            if (!maps.db().isClosed()) {
                maps.db().close();
            }
        } catch (RuntimeException e) {
            // closing a broken store: nothing more to save
        }
    }
}
