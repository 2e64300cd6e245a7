package org.twofactord.daemon.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.Owners;
import org.twofactord.daemon.auth.Roles;
import org.twofactord.daemon.auth.UserDatabase;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.postgres.PostgresStore;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.Writer;
import org.twofactord.daemon.store.log.Disk;
import org.twofactord.daemon.store.log.LogStore;

/**
 * The daemon: opens the store, binds the socket (or takes the one systemd passed), accepts
 * connections and runs one {@link Session} per connection on a bounded pool of threads;
 * {@link #stop()} shuts it all down in order.
 */
public final class Server implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Server.class);
    /** How long shutdown waits for requests in flight. */
    private static final long DRAIN_MS = 5000;
    /**
     * How long an accept on a socket inherited from systemd blocks before the loop looks at
     * {@link #stopping} again: such a socket is never closed (see {@link #stop}), so nothing else
     * would wake the accept thread.
     */
    private static final int INHERITED_ACCEPT_POLL_MS = 200;
    /**
     * After accept has failed for this long without one success, the daemon gives up: it stops
     * pinging the systemd watchdog and {@link #onAcceptFailed} runs, so that its service manager
     * restarts it, instead of refusing every login while looking healthy.
     */
    static final long ACCEPT_GIVE_UP_MS = 10_000;

    /** What a server needs from outside; tests swap the clock, the user database or the store. */
    public record Options(Clock clock, SecureRandom random, UserDatabase users, long rootUid,
                          StoreFactory storeFactory, String version) {
    }

    /** Opens the store (tests wrap it to inject faults). */
    @FunctionalInterface
    public interface StoreFactory {
        Store open(Path file, MasterKey key) throws StoreException;
    }

    /** The store the configuration names: the log store in the state directory, or PostgreSQL. */
    public static StoreFactory configured(Config config) {
        if (config.postgres().isPresent()) {
            return (file, key) -> PostgresStore.open(config.postgres().get(), key);
        }
        Config.Checkpoints c = config.checkpoints();
        LogStore.Settings settings = new LogStore.Settings(LogStore.Settings.defaults().segmentBytes(), c.changes(),
                (long) c.logMb() << 20, TimeUnit.SECONDS.toMillis(c.intervalS()));
        return (file, key) -> LogStore.open(file, key, Disk.REAL, settings);
    }

    private final Config config;
    private final Store store;
    private final Writer writer;
    private final Services services;
    private final Roles roles;
    private final Dispatcher dispatcher;
    private final AFUNIXServerSocket serverSocket;
    /** Where it listens: the configured path, or the path of the socket systemd passed. */
    private final Path listeningOn;
    /** The socket file's key if this server made the file (and so removes it), else null. */
    private final Object socketFileKey;
    /** Whether the listening socket was handed in (by systemd): never closed, never removed. */
    private final boolean inheritedSocket;
    private volatile Runnable onAcceptFailed;
    /** Set when the accept loop gave up (see {@link #ACCEPT_GIVE_UP_MS}). */
    private volatile boolean acceptGaveUp;
    private final ThreadPoolExecutor pool;
    private final ScheduledExecutorService timer;
    private final ExecutorService refusals;
    private final Thread acceptThread;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<Long, AtomicInteger> perUid = new ConcurrentHashMap<>();
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final Admission admission = new Admission(Admission.defaultPermits());
    private volatile boolean stopping;

    private Server(Config config, Options options, AFUNIXServerSocket inherited) throws StoreException, IOException {
        this.config = config;
        prepareStateDir(config.stateDir());
        // A database is made by the first daemon of a fleet; the others get a copy of its key.
        boolean shared = config.postgres().isPresent();
        boolean storeExists = shared || Files.exists(config.storeFile()) || Files.exists(config.legacyStoreFile());
        if (!storeExists && Files.exists(config.masterKeyFile())) {
            // A new empty store would mean policy "disabled" and nobody enrolled: fail closed.
            throw new StoreException("store " + config.storeFile() + " is missing but its master key "
                    + config.masterKeyFile() + " is there; restore the store from the backup taken with the key "
                    + "(docs/operations.md), or remove the key to start with an empty store on purpose");
        }
        // A shared database may be new (this is the fleet's first server) or not: its key is
        // written only if the database takes it (PostgresStore), never beside an existing one.
        MasterKey key = shared && !Files.exists(config.masterKeyFile())
                ? MasterKey.unsaved(config.masterKeyFile(), options.random())
                : MasterKey.loadOrCreate(config.masterKeyFile(), !storeExists, options.random());
        this.store = options.storeFactory().open(config.storeFile(), key);
        Writer startedWriter = null;
        try {
            startedWriter = new Writer(store, config.groupCommit());
            this.roles = new Roles(options.users(), config.adminGroup(), config.verifierGroup(), options.rootUid(),
                    config.ownersFile().map(f -> new Owners(f, options.rootUid())).orElse(Owners.NONE));
            this.services = new Services(config, store, startedWriter, key, options.clock(), options.random(),
                    defaultIssuer(), options.version(), roles);
            config.requireGroup().filter(g -> options.users().group(g).isEmpty()).ifPresent(g -> log.warn(
                    "require_group {} does not exist (yet): nobody is required by it", g));
            this.dispatcher = new Dispatcher(services);
            if (inherited != null) {
                // systemd made this socket with the unit's mode and group, and keeps it after we
                // exit: never chmod, chgrp or delete it.
                this.serverSocket = inherited;
                this.listeningOn = localPath(inherited);
                this.socketFileKey = null;
                inherited.setSoTimeout(INHERITED_ACCEPT_POLL_MS);
            } else {
                this.serverSocket = bind(config);
                this.listeningOn = config.socket();
                this.socketFileKey = Files.readAttributes(config.socket(),
                        java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            }
        } catch (IOException | RuntimeException e) {
            if (startedWriter != null) {
                startedWriter.close();
            }
            store.close();
            throw e;
        }
        this.writer = startedWriter;
        this.inheritedSocket = inherited != null;
        // Threads are made on demand and die after a minute idle; the accept loop admits at most
        // max_connections sessions, the slack covers a thread that has not yet returned to the pool.
        this.pool = new ThreadPoolExecutor(0, config.maxConnections() + 16, 60, TimeUnit.SECONDS,
                new SynchronousQueue<>(), named("twofactord-session"));
        this.timer = Executors.newSingleThreadScheduledExecutor(named("twofactord-timer"));
        this.refusals = new ThreadPoolExecutor(0, 4, 10, TimeUnit.SECONDS, new SynchronousQueue<>(),
                named("twofactord-refuse"));
        long tickMs = Math.max(100, Math.min(1000, config.idleTimeoutS() * 250L));
        timer.scheduleWithFixedDelay(this::reap, tickMs, tickMs, TimeUnit.MILLISECONDS);
        timer.scheduleWithFixedDelay(this::expirePending, 60, 60, TimeUnit.SECONDS);
        this.acceptThread = new Thread(this::acceptLoop, "twofactord-accept");
        acceptThread.start();
    }

    /** Opens the store, binds the socket and starts serving. */
    public static Server start(Config config, Options options) throws StoreException, IOException {
        return new Server(config, options, null);
    }

    /**
     * Opens the store and serves {@code listening}, a socket already bound and listening (the one
     * systemd passed), instead of binding {@code config.socket()}. Its mode, group and file are
     * left as they are, also at {@link #stop()}. If start-up fails, the socket is left open.
     */
    public static Server start(Config config, Options options, AFUNIXServerSocket listening)
            throws StoreException, IOException {
        return new Server(config, options, java.util.Objects.requireNonNull(listening, "listening"));
    }

    private static java.util.concurrent.ThreadFactory named(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private static void prepareStateDir(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
        }
        Files.setPosixFilePermissions(dir, EnumSet.of(PosixFilePermission.OWNER_READ,
                PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
    }

    /** The host name, the default issuer (as in cPanel & WHM). */
    static String defaultIssuer() {
        try {
            String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            if (!name.isEmpty()) {
                return name;
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "twofactord";
    }

    /**
     * Binds the socket without ever taking over a live one: a path that answers is refused, a
     * stale socket file is removed, and the bind itself refuses an existing path
     * ({@code setReuseAddress(false)}), so a daemon that won a race keeps its socket. The mode is
     * set right after bind; until then the socket has the process umask's mode, which is never
     * wider than 0666 under the usual umasks (022, and 077 under the systemd unit).
     */
    private static AFUNIXServerSocket bind(Config config) throws IOException {
        Path path = config.socket();
        Files.createDirectories(path.getParent());
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (answers(path)) {
                throw new IOException("another twofactord is already listening on " + path + "; not starting");
            }
            if (!Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).isOther()) {
                throw new IOException(path + " exists and is not a socket; not replacing it");
            }
            log.info("replacing stale socket {}", path);
            Files.delete(path);
        }
        AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
        try {
            server.setReuseAddress(false);
            // junixsocket would delete whatever file is at the path on close, even another
            // daemon's socket that replaced ours; stop() removes it only if it is still ours.
            server.setDeleteOnClose(false);
            server.bind(AFUNIXSocketAddress.of(path), 128);
            Files.setPosixFilePermissions(path, permissions(config.socketMode()));
            if (config.socketGroup().isPresent()) {
                setGroup(path, config.socketGroup().get(), config.socketGroupExplicit());
            }
            return server;
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** The path a listening socket is bound to ({@code @name} for one in the abstract namespace). */
    private static Path localPath(AFUNIXServerSocket socket) throws IOException {
        AFUNIXSocketAddress address = socket.getLocalSocketAddress();
        if (address == null) {
            throw new IOException("the socket passed in is not bound to an address");
        }
        if (address.isInAbstractNamespace()) {
            byte[] name = address.getPathAsBytes();
            return Path.of("@" + new String(name, 1, name.length - 1, java.nio.charset.StandardCharsets.UTF_8));
        }
        return Path.of(address.getPath());
    }

    private static boolean answers(Path path) {
        try (AFUNIXSocket probe = AFUNIXSocket.newInstance()) {
            probe.connect(AFUNIXSocketAddress.of(path), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void setGroup(Path socket, String group, boolean explicit) throws IOException {
        try {
            GroupPrincipal principal = socket.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(group);
            Files.getFileAttributeView(socket, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setGroup(principal);
        } catch (UserPrincipalNotFoundException e) {
            if (explicit) {
                throw new IOException("socket_group '" + group + "' does not exist", e);
            }
            log.warn("socket group '{}' does not exist; the socket keeps the daemon's group", group);
        }
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                set.add(bits[i]);
            }
        }
        return set;
    }

    private void acceptLoop() {
        long failures = 0; // since the last success
        long failingSince = 0;
        long lastReport = 0;
        while (!stopping) {
            AFUNIXSocket socket;
            try {
                socket = serverSocket.accept();
            } catch (java.net.SocketTimeoutException e) {
                continue; // an inherited socket's poll interval: look at `stopping` again
            } catch (IOException e) {
                if (stopping) {
                    return;
                }
                if (serverSocket.isClosed()) {
                    log.error("the listening socket was closed ({}); no new connections are accepted", e.getMessage());
                    return;
                }
                long now = System.nanoTime();
                if (failures++ == 0) {
                    failingSince = now;
                    lastReport = now;
                    log.error("accept failed: {}", e.getMessage());
                } else if (now - failingSince >= TimeUnit.MILLISECONDS.toNanos(ACCEPT_GIVE_UP_MS)) {
                    // A listening socket that was shut down gives EINVAL forever: a daemon that
                    // goes on trying refuses every login and looks healthy. Give up, loudly.
                    log.error("accept has failed {} times in {} s ({}); no longer accepting connections, so that the "
                            + "service manager restarts twofactord", failures, ACCEPT_GIVE_UP_MS / 1000, e.getMessage());
                    acceptGaveUp = true; // before the listener: whoever it wakes sees accepting() false
                    Runnable listener = onAcceptFailed;
                    if (listener != null) {
                        listener.run();
                    }
                    return;
                } else if (now - lastReport >= TimeUnit.SECONDS.toNanos(2)) {
                    lastReport = now;
                    log.error("accept still failing ({} times): {}", failures, e.getMessage());
                }
                pause(); // e.g. out of file descriptors: do not spin
                continue;
            }
            failures = 0;
            services.stats.connections.incrementAndGet();
            if (open.incrementAndGet() > config.maxConnections() || stopping) {
                open.decrementAndGet();
                refuse(socket);
                continue;
            }
            Session session = new Session(socket, this, config.idleTimeoutS() * 1_000_000_000L);
            sessions.add(session);
            try {
                pool.execute(session);
            } catch (RejectedExecutionException e) {
                sessions.remove(session);
                open.decrementAndGet();
                refuse(socket);
            }
        }
    }

    /**
     * Refuses a connection without making the caller (the accept thread, or a session thread whose
     * slot must be freed) wait: the linger that keeps the reply from being lost (see
     * {@link Session#refuseBusy}) runs on one of four threads of its own; when they are all busy
     * (a connection flood, a thousand silent connections from one uid), it is refused at once.
     */
    void refuse(AFUNIXSocket socket) {
        try {
            refusals.execute(() -> Session.refuseBusy(socket, Session.BUSY_LINGER_MS));
        } catch (RejectedExecutionException e) {
            Session.refuseBusy(socket, 0);
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    Roles roles() {
        return roles;
    }

    Dispatcher dispatcher() {
        return dispatcher;
    }

    Admission admission() {
        return admission;
    }

    /** Counts a connection of an ordinary uid; false if that uid is at its limit. */
    boolean admitUid(long uid) {
        AtomicInteger count = perUid.computeIfAbsent(uid, u -> new AtomicInteger());
        if (count.incrementAndGet() > config.maxConnectionsPerUid()) {
            releaseUid(uid);
            return false;
        }
        return true;
    }

    void releaseUid(long uid) {
        perUid.computeIfPresent(uid, (u, count) -> count.decrementAndGet() <= 0 ? null : count);
    }

    void sessionEnded(Session session) {
        sessions.remove(session);
        open.decrementAndGet();
    }

    private void reap() {
        long now = System.nanoTime();
        for (Session session : sessions) {
            session.reapIfExpired(now);
        }
    }

    private void expirePending() {
        long now = services.nowS();
        // Only the pending names: every name would be a 100 MB sweep a minute at a million users.
        for (String name : store.pendingNames()) {
            if (store.pending(name).filter(p -> p.expiredAt(now)).isPresent()) {
                writer.submit(s -> {
                    s.pending(name).filter(p -> p.expiredAt(now)).ifPresent(p -> s.removePending(name));
                    return null;
                });
            }
        }
    }

    /**
     * Runs {@code listener} once when a failed write leaves the store unusable; the daemon then
     * answers only ERR unavailable until it is restarted.
     */
    public void onStoreBroken(Runnable listener) {
        writer.onBroken(listener);
    }

    /** The socket path this server listens on. */
    public Path socketPath() {
        return listeningOn;
    }

    /**
     * Whether new connections are still being accepted: false once stopping, or if the listening
     * socket was closed under the server (the accept loop then ends). The systemd watchdog asks.
     */
    public boolean accepting() {
        return !stopping && !acceptGaveUp && acceptThread.isAlive() && !serverSocket.isClosed();
    }

    /**
     * Runs {@code listener} once, on the accept thread, when accept has failed for
     * {@link #ACCEPT_GIVE_UP_MS} without a success and the accept loop has ended.
     */
    public void onAcceptFailed(Runnable listener) {
        this.onAcceptFailed = listener;
    }

    /**
     * Stops accepting, lets requests in flight finish (bounded), commits and closes the store and
     * removes the socket file if it is still this server's.
     */
    public void stop() {
        if (stopping) {
            return;
        }
        stopping = true;
        if (inheritedSocket) {
            // systemd's socket stays open and listening for the next service process: never
            // close() it (that would shut it down, see SocketActivation#adopt); the accept loop
            // sees `stopping` within its poll interval, and this process's exit closes the fd.
            try {
                acceptThread.join(INHERITED_ACCEPT_POLL_MS * 5L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            try {
                serverSocket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        sessions.forEach(Session::stop);
        pool.shutdown();
        try {
            if (!pool.awaitTermination(DRAIN_MS, TimeUnit.MILLISECONDS)) {
                log.warn("requests still running after {} ms; closing their connections", DRAIN_MS);
                sessions.forEach(Session::close);
                pool.awaitTermination(1000, TimeUnit.MILLISECONDS);
            }
            acceptThread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        timer.shutdownNow();
        refusals.shutdownNow();
        writer.close();
        store.close();
        removeSocketFile();
    }

    private void removeSocketFile() {
        if (socketFileKey == null) {
            return; // systemd's socket, not ours to remove
        }
        try {
            Object key = Files.readAttributes(config.socket(), java.nio.file.attribute.BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).fileKey();
            // A deleted socket's inode number can be reused by a new socket at the same path, so
            // a matching key alone does not prove the file is ours; ours is closed by now, so a
            // socket there that still answers belongs to another daemon.
            if (key != null && key.equals(socketFileKey) && !answers(config.socket())) {
                Files.delete(config.socket());
            }
        } catch (IOException ignored) {
            // gone already, or another daemon's now
        }
    }

    @Override
    public void close() {
        stop();
    }
}
