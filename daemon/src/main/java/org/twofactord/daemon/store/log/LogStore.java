package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.store.legacy.MapDbStore;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.StoreTransient;
import org.twofactord.daemon.store.StoreUnavailable;
import org.twofactord.daemon.store.UserRecord;

/**
 * The store of one server: a write-ahead log ({@link Journal}) of every change, and checkpoints
 * ({@link Checkpoint}) written whole and never changed, the live one named by {@link Pointer}
 * ({@code CURRENT}). What makes an answer durable is one thing: the {@code fdatasync} of the log
 * entry that holds the change ({@link #commit}). Nothing of MapDB's own write-ahead log is used.
 *
 * <p>What a read sees, newest first: the changes applied but not yet logged (the writer's batch,
 * and failure counts that wait up to 100 ms), the changes logged since the last freeze, the changes
 * frozen for the checkpoint being written, and the live checkpoint. A failed log write drops the
 * first layer ({@link #rollback}), so that reads then answer from what is on the disk, and the
 * next write tries again: a full disk refuses changes and heals by itself when space returns.
 *
 * <p>A checkpoint is written on a thread of its own when the logged changes grow past
 * {@link Settings}: the writer freezes them (and starts a new log segment), the checkpoint thread
 * merges the live checkpoint with them into a new file, syncs it, publishes it by renaming the
 * pointer, and only then deletes the log segments and the checkpoint it replaced. A crash at any
 * point leaves a pointer to a whole checkpoint and every log entry after it
 * (docs/design.md, "The store").
 */
public final class LogStore implements Store {
    private static final Logger log = LoggerFactory.getLogger(LogStore.class);

    /**
     * When a checkpoint is written, and how large log segments are.
     *
     * @param segmentBytes     size of a log segment file
     * @param changes          distinct keys changed since the last checkpoint that start a new one
     * @param logBytes         bytes logged since the last checkpoint that start a new one
     * @param intervalMs       the longest a change waits for a checkpoint
     * @param replayFold       changes read from the log at start that are folded into a
     *                         checkpoint before more are read (memory at start stays bounded)
     */
    public record Settings(long segmentBytes, int changes, long logBytes, long intervalMs, int replayFold) {
        /** At most this many changes are held in memory while the log is replayed. */
        static final int REPLAY_FOLD = 50_000;

        /**
         * The settings with the usual replay fold: at least {@link #REPLAY_FOLD}, so that a small
         * {@code checkpoint_changes} does not make a start write a checkpoint per change it reads.
         */
        public Settings(long segmentBytes, int changes, long logBytes, long intervalMs) {
            this(segmentBytes, changes, logBytes, intervalMs, Math.max(changes, REPLAY_FOLD));
        }

        public static Settings defaults() {
            return new Settings(4L << 20, 50_000, 64L << 20, TimeUnit.MINUTES.toMillis(10));
        }
    }

    /** A key of one table. */
    /** The value of a required mark: its presence is what counts. */
    private static final byte[] MARK = new byte[0];

    private record Key(byte table, String name) {
    }

    /** The layers below the writer's: changes frozen for a checkpoint in progress, and the live checkpoint. */
    private record Below(Map<Key, byte[]> frozen, Checkpoint checkpoint) {
    }

    /** Marks a removed key in a layer (compared by identity). */
    private static final byte[] REMOVED = new byte[0];
    static final String LOCK = "LOCK";

    private final Path dir;
    private final Disk disk;
    private final Settings settings;
    private final FileChannel lockFile;
    private final FileLock lock;
    private Journal journal;
    /** Applied, not yet logged; changed only by the writer thread. */
    private volatile ConcurrentHashMap<Key, byte[]> unlogged = new ConcurrentHashMap<>();
    private final List<LogEntry> unloggedEntries = new ArrayList<>();
    /** Logged since the last freeze. */
    private volatile ConcurrentHashMap<Key, byte[]> logged = new ConcurrentHashMap<>();
    private volatile Below below;
    private volatile int userCount;
    private int loggedUserCount;
    private final ExecutorService checkpointer;
    private volatile boolean checkpointRunning;
    private volatile boolean checkpointRequested;
    private long lastCheckpointNanos = System.nanoTime();
    private long logBytesAtFreeze;
    /** A pointer written but not known to be published (its rename or directory sync failed). */
    private Pointer unpublished;
    /** Held while a checkpoint is published and the files it replaced are deleted, and while a snapshot copies. */
    private final Object files = new Object();
    private volatile String checkpointFailure;
    private volatile long checkpoints;

    private LogStore(Path dir, Disk disk, Settings settings, FileChannel lockFile, FileLock lock) {
        this.dir = dir;
        this.disk = disk;
        this.settings = settings;
        this.lockFile = lockFile;
        this.lock = lock;
        this.checkpointer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "twofactord-checkpoint");
            t.setDaemon(true);
            return t;
        });
    }

    /** Another process (a running daemon) holds the store's {@code LOCK}. */
    public static final class InUse extends StoreException {
        InUse(String message) {
            super(message);
        }
    }

    /** Opens (or creates) the store in directory {@code dir}, checking that {@code key} is its key. */
    public static LogStore open(Path dir, MasterKey key) throws StoreException {
        return open(dir, key, Disk.REAL, Settings.defaults());
    }

    /**
     * Opens the store in {@code dir}; if there is none, converts the MapDB store of earlier versions
     * at {@code dir}'s sibling {@code twofactord.db} if there is one, else makes an empty store.
     */
    public static LogStore open(Path dir, MasterKey key, Disk disk, Settings settings) throws StoreException {
        try {
            if (!Files.exists(dir)) {
                create(dir, key, disk);
            }
        } catch (IOException e) {
            throw new StoreException("cannot make the store in " + dir + ": " + e.getMessage(), e);
        }
        FileChannel lockFile = null;
        try {
            lockFile = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockFile.tryLock();
            } catch (java.nio.channels.OverlappingFileLockException inThisProcess) {
                lock = null;
            }
            if (lock == null) {
                lockFile.close();
                throw new InUse("store " + dir + " is in use by another process (is a twofactord already "
                        + "running on this state directory?)");
            }
            Disk.matchDirectory(dir.resolve(LOCK));
            LogStore store = new LogStore(dir, disk, settings, lockFile, lock);
            try {
                store.recover(key);
            } catch (StoreException | RuntimeException e) {
                store.close();
                throw e;
            }
            return store;
        } catch (IOException e) {
            closeQuietly(lockFile);
            throw new StoreException("store " + dir + " cannot be opened: " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing to save
            }
        }
    }

    /** The MapDB store of versions before the log, beside the store's directory. */
    public static Path legacyFile(Path dir) {
        return dir.resolveSibling("twofactord.db");
    }

    /**
     * Makes a new store, or converts the MapDB store of an earlier version, in a temporary
     * directory that is renamed into place when whole: a crash leaves no store (and the old one
     * untouched) or the whole new one.
     */
    private static void create(Path dir, MasterKey key, Disk disk) throws IOException, StoreException {
        Path building = dir.resolveSibling(dir.getFileName() + ".new");
        if (Files.exists(building)) {
            try (var stale = Files.list(building)) {
                for (Path p : (Iterable<Path>) stale::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(building);
        }
        Files.createDirectory(building, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Disk.matchDirectory(building);
        Map<Byte, NavigableMap<String, byte[]>> tables = new HashMap<>();
        for (byte t : Tables.ALL) {
            tables.put(t, new TreeMap<>(Checkpoint.ORDER));
        }
        Path legacy = legacyFile(dir);
        boolean converting = Files.isRegularFile(legacy);
        if (converting) {
            try (MapDbStore old = MapDbStore.open(legacy, key)) {
                old.allMeta().forEach((k, v) -> {
                    if (!k.equals(MapDbStore.META_COMMIT)) {
                        tables.get(Tables.META).put(k, v.getBytes(StandardCharsets.UTF_8));
                    }
                });
                for (String name : old.names()) {
                    old.user(name).ifPresent(u -> tables.get(Tables.USERS).put(name, u.encode()));
                    old.pending(name).ifPresent(p -> tables.get(Tables.PENDING).put(name, p.encode()));
                }
            }
        } else {
            tables.get(Tables.META).put(MapDbStore.META_SCHEMA,
                    Integer.toString(MapDbStore.SCHEMA_VERSION).getBytes(StandardCharsets.UTF_8));
            tables.get(Tables.META).put(MapDbStore.META_KEY_CHECK,
                    HexFormat.of().formatHex(key.fingerprint()).getBytes(StandardCharsets.UTF_8));
        }
        Pointer pointer = Checkpoint.write(disk, building, 0, null, tables);
        pointer.publish(disk, building);
        disk.rename(building, dir);
        disk.syncDir(dir.getParent());
        if (converting) {
            log.info("converted the MapDB store {} into {} ({} users, {} pending enrolments)", legacy, dir,
                    tables.get(Tables.USERS).size(), tables.get(Tables.PENDING).size());
            retireLegacy(legacy);
        }
    }

    /** Moves the files of the converted MapDB store aside, into {@code twofactord.db.converted/}. */
    private static void retireLegacy(Path legacy) {
        Path aside = legacy.resolveSibling(legacy.getFileName() + ".converted");
        try {
            Files.createDirectories(aside);
            try (var siblings = Files.list(legacy.getParent())) {
                for (Path p : (Iterable<Path>) siblings::iterator) {
                    String name = p.getFileName().toString();
                    if (name.startsWith(legacy.getFileName().toString()) && Files.isRegularFile(p)) {
                        Files.move(p, aside.resolve(name));
                    }
                }
            }
            log.info("the files of the old store are in {}; remove them once the new store has served well", aside);
        } catch (IOException e) {
            log.warn("could not move the old store's files aside ({}); they are no longer used", e.getMessage());
        }
    }

    /** Opens the live checkpoint, replays the log after it, and starts a new log segment. */
    private void recover(MasterKey key) throws StoreException {
        Pointer pointer;
        Checkpoint checkpoint;
        try {
            pointer = Pointer.read(dir).orElseThrow(() -> new IOException(dir.resolve(Pointer.NAME) + " is missing"));
            checkpoint = Checkpoint.open(disk, dir, pointer, true);
        } catch (IOException e) {
            throw damaged(e.getMessage(), e);
        }
        below = new Below(Map.of(), checkpoint);
        userCount = (int) checkpoint.userCount();
        removeLeftovers(pointer);
        String check = HexFormat.of().formatHex(key.fingerprint());
        String schema = meta(MapDbStore.META_SCHEMA).orElse("");
        if (!schema.equals(Integer.toString(MapDbStore.SCHEMA_VERSION))) {
            throw new StoreException("store " + dir + " has schema version '" + schema + "'; this twofactord understands "
                    + MapDbStore.SCHEMA_VERSION);
        }
        if (!check.equals(meta(MapDbStore.META_KEY_CHECK).orElse(null))) {
            throw new StoreException("the master key does not match store " + dir
                    + "; restore the master.key that was backed up with this store");
        }
        int[] replayed = {0};
        try {
            Journal.Replayed done = Journal.replay(disk, dir, checkpoint.lsn(), write -> {
                for (LogEntry entry : write) {
                    if (!Tables.known(entry.table())) {
                        // Written by a newer twofactord: what it means cannot be guessed.
                        throw new IllegalStateException("the log holds an entry of table '" + (char) entry.table()
                                + "', which this twofactord does not know; run the version that wrote it");
                    }
                    apply(entry.table(), entry.key(), entry.value(), logged);
                }
                replayed[0] += write.size();
                if (logged.size() >= settings.replayFold()) {
                    // A long log (checkpoints failed or were held off for a while): fold what was
                    // read so far into a checkpoint, so that memory stays bounded whatever its length.
                    foldWhileReplaying(write.get(write.size() - 1).lsn());
                }
            });
            if (logged.size() >= settings.changes()) {
                foldWhileReplaying(done.lastLsn()); // due anyway: written now, once
            }
            loggedUserCount = userCount;
            journal = Journal.openForAppend(disk, dir, settings.segmentBytes(), done);
            journal.deleteThrough(below.checkpoint().lsn());
        } catch (IOException | RuntimeException e) {
            throw damaged("its log cannot be read: " + e.getMessage(), e);
        }
        if (replayed[0] > 0) {
            log.info("replayed {} change(s) from the log after checkpoint {} ({} checkpoint(s) written meanwhile)",
                    replayed[0], pointer.checkpoint(), checkpoints);
        }
    }

    /** At start, before the log is open for appending: a checkpoint of all read so far, at {@code lsn}. */
    private void foldWhileReplaying(long lsn) {
        frozenLsn = lsn;
        freezeLogged();
        runCheckpoint();
    }

    /**
     * Moves the logged changes into the frozen layer, over those of a checkpoint that failed
     * before (they are not in any checkpoint yet). The frozen layer is set first, then the logged
     * one emptied: a reader that sees the new (empty) logged layer sees the frozen one too.
     */
    private void freezeLogged() {
        Below b = below;
        Map<Key, byte[]> frozen = logged;
        if (!b.frozen().isEmpty()) {
            Map<Key, byte[]> merged = new HashMap<>(b.frozen());
            merged.putAll(logged);
            frozen = merged;
        }
        below = new Below(frozen, b.checkpoint());
        logged = new ConcurrentHashMap<>();
    }

    private StoreException damaged(String why, Exception cause) {
        return new StoreException("store " + dir + " is damaged: " + why + "; restore the store and its master.key "
                + "from a backup (docs/operations.md)", cause);
    }

    /** Deletes what a crash left half-done: temporary files and checkpoints that are not live. */
    private void removeLeftovers(Pointer live) throws StoreException {
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                boolean oldCheckpoint = name.startsWith(Checkpoint.PREFIX) && !name.equals(live.checkpoint());
                if (oldCheckpoint || name.endsWith(".tmp")) {
                    disk.delete(p);
                }
            }
        } catch (IOException e) {
            throw new StoreException("store " + dir + ": cannot remove a leftover file: " + e.getMessage(), e);
        }
    }

    // ---- reads (any thread) ----

    private byte[] get(byte table, String name) {
        Key key = new Key(table, name);
        byte[] v = unlogged.get(key);
        if (v == null) {
            v = logged.get(key);
        }
        while (v == null) {
            Below b = below;
            v = b.frozen().get(key);
            if (v != null) {
                break;
            }
            try {
                return b.checkpoint().get(table, name);
            } catch (Checkpoint.Retired retired) {
                continue; // a newer checkpoint went live meanwhile: read that one
            } catch (RuntimeException e) {
                throw new StoreUnavailable(new StoreTransient("store " + dir + ": a read failed: " + e, false, e));
            }
        }
        return v == REMOVED ? null : v;
    }

    @Override
    public Optional<String> meta(String key) {
        byte[] v = get(Tables.META, key);
        return v == null ? Optional.empty() : Optional.of(new String(v, StandardCharsets.UTF_8));
    }

    @Override
    public Optional<UserRecord> user(String name) {
        byte[] v = get(Tables.USERS, name);
        return v == null ? Optional.empty() : Optional.of(UserRecord.decode(v));
    }

    @Override
    public Optional<PendingEnrollment> pending(String name) {
        byte[] v = get(Tables.PENDING, name);
        return v == null ? Optional.empty() : Optional.of(PendingEnrollment.decode(v));
    }

    /** The keys of {@code table}: the checkpoint's with every layer's changes over them. */
    private TreeSet<String> keys(byte table) {
        while (true) {
            // Newest layer last, read in the order the writer replaces them (see get).
            ConcurrentHashMap<Key, byte[]> top = unlogged;
            ConcurrentHashMap<Key, byte[]> middle = logged;
            Below b = below;
            TreeSet<String> names;
            try {
                names = new TreeSet<>(b.checkpoint().keys(table));
            } catch (Checkpoint.Retired retired) {
                continue;
            }
            for (Map<Key, byte[]> layer : List.of(b.frozen(), middle, top)) {
                layer.forEach((k, v) -> {
                    if (k.table() == table) {
                        if (v == REMOVED) {
                            names.remove(k.name());
                        } else {
                            names.add(k.name());
                        }
                    }
                });
            }
            return names;
        }
    }

    @Override
    public List<String> names() {
        TreeSet<String> all = keys(Tables.USERS);
        all.addAll(keys(Tables.PENDING));
        return new ArrayList<>(all);
    }

    @Override
    public List<String> pendingNames() {
        return new ArrayList<>(keys(Tables.PENDING));
    }

    @Override
    public boolean required(String name) {
        return get(Tables.REQUIRED, name) != null;
    }

    @Override
    public List<String> requiredNames() {
        return new ArrayList<>(keys(Tables.REQUIRED));
    }

    @Override
    public int userCount() {
        return userCount;
    }

    // ---- writes (the writer thread) ----

    /** Applies a change to {@code layer}, keeping the user count. */
    private void apply(byte table, String name, byte[] value, Map<Key, byte[]> layer) {
        if (table == Tables.USERS) {
            boolean existed = get(table, name) != null;
            if (value != null && !existed) {
                userCount++;
            } else if (value == null && existed) {
                userCount--;
            }
        }
        layer.put(new Key(table, name), value == null ? REMOVED : value);
    }

    private void write(byte table, String name, byte[] value) {
        apply(table, name, value, unlogged);
        unloggedEntries.add(new LogEntry(0, table, name, value));
    }

    @Override
    public void putMeta(String key, String value) {
        write(Tables.META, key, value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void removeMeta(String key) {
        write(Tables.META, key, null);
    }

    @Override
    public void putUser(String name, UserRecord record) {
        write(Tables.USERS, name, record.encode());
    }

    @Override
    public void removeUser(String name) {
        write(Tables.USERS, name, null);
    }

    @Override
    public void putPending(String name, PendingEnrollment pending) {
        write(Tables.PENDING, name, pending.encode());
    }

    @Override
    public void removePending(String name) {
        write(Tables.PENDING, name, null);
    }

    @Override
    public void setRequired(String name, boolean required) {
        write(Tables.REQUIRED, name, required ? MARK : null);
    }

    /**
     * Logs every change applied since the last commit with one write and one {@code fdatasync};
     * then they are durable. If the log cannot be written (a full disk, an I/O error), they are
     * dropped ({@link #rollback}: reads answer from what is durable) and a {@link StoreTransient}
     * says so; the next commit tries again.
     */
    @Override
    public void commit() throws StoreException {
        if (unloggedEntries.isEmpty()) {
            return;
        }
        try {
            journal.append(unloggedEntries);
        } catch (IOException | RuntimeException e) {
            rollback();
            throw new StoreTransient("the store's log " + dir + " cannot be written (" + e.getMessage()
                    + "); the changes were not made", false, e);
        }
        ConcurrentHashMap<Key, byte[]> done = unlogged;
        logged.putAll(done);
        unlogged = new ConcurrentHashMap<>();
        unloggedEntries.clear();
        loggedUserCount = userCount;
        maybeCheckpoint();
    }

    /** Everything is logged at once: a sync is a commit. */
    @Override
    public void sync(java.util.Collection<String> names) throws StoreException {
        commit();
    }

    @Override
    public void rollback() {
        unlogged = new ConcurrentHashMap<>();
        unloggedEntries.clear();
        userCount = loggedUserCount;
    }

    // ---- checkpoints ----

    /** Asks for a checkpoint at the next commit, whatever the settings say (tests, and the crash loop). */
    public void requestCheckpoint() {
        checkpointRequested = true;
        retryAfterNanos = System.nanoTime(); // asked for: not held off by an earlier failure
    }

    /** How many checkpoints were published since the store was opened. */
    public long checkpoints() {
        return checkpoints;
    }

    /** Checkpoints published since start, and why the last one failed (null: it did not). */
    @Override
    public Map<String, Object> health() {
        Map<String, Object> h = new java.util.LinkedHashMap<>();
        h.put(org.twofactord.protocol.Keys.CHECKPOINTS, checkpoints);
        h.put(org.twofactord.protocol.Keys.CHECKPOINT_FAILURE, checkpointFailure);
        return h;
    }

    /** Why the last checkpoint failed, or null if it did not. */
    public String checkpointFailure() {
        return checkpointFailure;
    }

    private void maybeCheckpoint() {
        if (checkpointRunning && logged.size() >= 4L * settings.changes()) {
            // Changes come faster than checkpoints are written (a bulk import): wait for the one
            // being written rather than let memory grow without bound.
            awaitCheckpoint();
        }
        if (checkpointRunning || System.nanoTime() - retryAfterNanos < 0) {
            return;
        }
        boolean due = checkpointRequested || logged.size() >= settings.changes()
                || journal.bytesAppended() - logBytesAtFreeze >= settings.logBytes()
                || (!logged.isEmpty() && System.nanoTime() - lastCheckpointNanos
                        >= TimeUnit.MILLISECONDS.toNanos(settings.intervalMs()));
        if (!due || (logged.isEmpty() && below.frozen().isEmpty() && unpublished == null)) {
            return;
        }
        if (!freeze()) {
            return;
        }
        checkpointRunning = true;
        running = checkpointer.submit(() -> {
            try {
                runCheckpoint();
            } finally {
                checkpointRunning = false;
            }
        });
    }

    private volatile java.util.concurrent.Future<?> running;

    private void awaitCheckpoint() {
        java.util.concurrent.Future<?> f = running;
        if (f == null) {
            return;
        }
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // runCheckpoint reports its own failures
        }
    }

    /**
     * On the writer thread, with nothing unlogged: moves the logged changes into the frozen layer
     * (with those of a checkpoint that failed before), and starts a new log segment, so that the
     * segments before it hold only what the checkpoint will cover.
     */
    private boolean freeze() {
        try {
            journal.roll();
        } catch (IOException e) {
            checkpointFailure = "a new log segment cannot be made: " + e.getMessage();
            log.warn("checkpoint postponed for {} s: {}", RETRY_S, checkpointFailure);
            retryAfterNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(RETRY_S);
            return false;
        }
        freezeLogged();
        frozenLsn = journal.durableLsn();
        logBytesAtFreeze = journal.bytesAppended();
        checkpointRequested = false;
        return true;
    }

    private volatile long frozenLsn;
    /** After a failed checkpoint (a full disk), the next is not tried before this nanoTime. */
    private volatile long retryAfterNanos = System.nanoTime();
    static final int RETRY_S = 10;

    /** Writes and publishes a checkpoint of the frozen layer; on the checkpoint thread. */
    private void runCheckpoint() {
        Below b = below;
        long lsn = frozenLsn;
        try {
            Pointer pointer = unpublished;
            if (pointer == null || pointer.lsn() != lsn) {
                Map<Byte, NavigableMap<String, byte[]>> changes = new HashMap<>();
                b.frozen().forEach((k, v) -> changes.computeIfAbsent(k.table(), t -> new TreeMap<>(Checkpoint.ORDER))
                        .put(k.name(), v == REMOVED ? null : v));
                pointer = lsn == b.checkpoint().lsn() && changes.isEmpty() ? null
                        : Checkpoint.write(disk, dir, lsn, b.checkpoint(), changes);
            }
            if (pointer == null) {
                return;
            }
            Checkpoint fresh;
            synchronized (files) {
                unpublished = pointer;
                pointer.publish(disk, dir);
                unpublished = null;
                fresh = Checkpoint.open(disk, dir, pointer, false);
                below = new Below(Map.of(), fresh);
                Checkpoint old = b.checkpoint();
                old.close();
                disk.delete(old.path());
                if (journal != null) { // null while replaying at start: deleted once it is open
                    journal.deleteThrough(lsn);
                }
            }
            checkpoints++;
            if (checkpointFailure != null) {
                log.info("checkpoint written again after failures: {}", pointer.checkpoint());
            }
            checkpointFailure = null;
        } catch (IOException | RuntimeException e) {
            checkpointFailure = e.getMessage();
            retryAfterNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(RETRY_S);
            log.warn("checkpoint failed ({}); the previous one and the log stay, and it is tried again in {} s",
                    e.getMessage(), RETRY_S);
        } finally {
            lastCheckpointNanos = System.nanoTime();
        }
    }

    // ---- the rest ----

    /**
     * Copies the store, consistent, into {@code target/store/} (the layout of a state directory):
     * the pointer, the live checkpoint and the log segments. Runs on the writer thread, so nothing
     * is appended meanwhile, and holds off a checkpoint's publication. The copies are plain files of
     * mode 0600 owned by this process (no {@code fchown}: the unit's system-call filter forbids it,
     * and a copy made by the daemon is the daemon's).
     */
    @Override
    public void snapshot(Path target) throws StoreException {
        commit();
        Path into = target.resolve("store");
        try {
            Files.createDirectory(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.createDirectory(into, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            synchronized (files) {
                Pointer live = Pointer.read(dir).orElseThrow(() -> new IOException("no " + Pointer.NAME));
                List<Path> copy = new ArrayList<>(journal.paths());
                copy.add(dir.resolve(live.checkpoint()));
                copy.add(dir.resolve(Pointer.NAME));
                for (Path p : copy) {
                    Path to = into.resolve(p.getFileName());
                    Files.copy(p, to);
                    Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rw-------"));
                }
            }
        } catch (IOException e) {
            throw new StoreException("snapshot into " + target + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        checkpointer.shutdown();
        try {
            if (!checkpointer.awaitTermination(15, TimeUnit.SECONDS)) {
                log.warn("a checkpoint is still being written; stopping without it (the log holds every change)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (journal != null) {
            journal.close();
        }
        Below b = below;
        if (b != null) {
            b.checkpoint().close();
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockFile);
    }

    @Override
    public String toString() {
        return "LogStore[" + dir + "]";
    }
}
