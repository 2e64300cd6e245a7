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
 *
 * <p>Accepting is leader/follower: a few pool threads wait in {@code accept} at once, and the
 * thread that accepts a connection serves it itself (no hand-off to another thread), then goes
 * back to accepting if fewer than {@link #ACCEPTORS} are waiting there, else returns to the pool.
 * When the last waiting thread leaves accept to serve, it first starts another one, so that long
 * connections never leave nobody accepting.
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
    /**
     * How many threads wait in accept at once: one per core (at least two), so that a burst of
     * short connections (a login is two) is accepted and served on every core without a hand-off.
     */
    static final int ACCEPTORS = Math.max(2, Runtime.getRuntime().availableProcessors());

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
            return (file, key) -> PostgresStore.openToServe(config.postgres().get(), key);
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
    /** Set when accepting gave up (see {@link #ACCEPT_GIVE_UP_MS}). */
    private volatile boolean acceptGaveUp;
    /** Threads in {@link #acceptAndServe}'s accept loop (waiting in accept, or about to). */
    private final AtomicInteger waitingInAccept = new AtomicInteger();
    /** Accept failures since the last success, shared by the accepting threads; under its lock. */
    private final AcceptFailures acceptFailures = new AcceptFailures();
    private final ThreadPoolExecutor pool;
    private final ScheduledExecutorService timer;
    private final ExecutorService refusals;
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
        // Threads are made on demand and die after a minute idle; each one is accepting or serving
        // one session, and at most max_connections sessions are admitted: the slack covers the
        // accepting threads and one that has not yet returned to the pool.
        this.pool = new ThreadPoolExecutor(0, config.maxConnections() + ACCEPTORS + 16, 60, TimeUnit.SECONDS,
                new SynchronousQueue<>(), named("twofactord-session"));
        this.timer = Executors.newSingleThreadScheduledExecutor(named("twofactord-timer"));
        this.refusals = new ThreadPoolExecutor(0, 4, 10, TimeUnit.SECONDS, new SynchronousQueue<>(),
                named("twofactord-refuse"));
        long tickMs = Math.max(100, Math.min(1000, config.idleTimeoutS() * 250L));
        timer.scheduleWithFixedDelay(this::reap, tickMs, tickMs, TimeUnit.MILLISECONDS);
        timer.scheduleWithFixedDelay(this::expirePending, 60, 60, TimeUnit.SECONDS);
        for (int i = 0; i < ACCEPTORS; i++) {
            startAcceptor();
        }
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

    /** Starts one more thread in {@link #acceptAndServe}; false if the pool has no room (or is shut down). */
    private boolean startAcceptor() {
        waitingInAccept.incrementAndGet();
        try {
            pool.execute(this::acceptAndServe);
            return true;
        } catch (RejectedExecutionException e) {
            waitingInAccept.decrementAndGet();
            return false;
        }
    }

    /**
     * Accepts a connection and serves it on this thread, then accepts again while fewer than
     * {@link #ACCEPTORS} threads are waiting in accept. The caller has counted this thread in
     * {@link #waitingInAccept}.
     */
    private void acceptAndServe() {
        while (true) {
            AFUNIXSocket socket = acceptOne();
            if (socket == null) {
                if (stopping || acceptGaveUp || serverSocket.isClosed()) {
                    waitingInAccept.decrementAndGet();
                    return;
                }
                continue;
            }
            // Leaving accept to serve: if nobody else is waiting there, start someone who will.
            if (waitingInAccept.decrementAndGet() == 0 && !stopping) {
                startAcceptor();
            }
            Session session = admit(socket);
            if (session != null) {
                session.run(); // catches and logs whatever the connection throws
            }
            if (!rejoinAccept()) {
                return; // enough threads are accepting: back to the pool
            }
        }
    }

    /** Counts this thread back in among those waiting in accept, unless enough already are. */
    private boolean rejoinAccept() {
        while (true) {
            int waiting = waitingInAccept.get();
            if (waiting >= ACCEPTORS || stopping) {
                return false;
            }
            if (waitingInAccept.compareAndSet(waiting, waiting + 1)) {
                return true;
            }
        }
    }

    /**
     * One accept: the connection, or null after a poll timeout (an inherited socket), a closed
     * socket, a stop, or a failure (counted, and paused after, so that e.g. running out of file
     * descriptors does not spin).
     */
    private AFUNIXSocket acceptOne() {
        if (stopping || acceptGaveUp) {
            return null;
        }
        AFUNIXSocket socket;
        try {
            socket = serverSocket.accept();
        } catch (java.net.SocketTimeoutException e) {
            return null; // an inherited socket's poll interval: look at `stopping` again
        } catch (IOException | RuntimeException e) {
            // RuntimeException: junixsocket wraps some failures of accept in IllegalStateException.
            if (stopping || acceptGaveUp) {
                return null;
            }
            if (serverSocket.isClosed()) {
                acceptFailures.closed(e);
                return null;
            }
            if (acceptFailures.failed(e)) {
                // A listening socket that was shut down gives EINVAL forever: a daemon that
                // goes on trying refuses every login and looks healthy. Give up, loudly.
                acceptGaveUp = true; // before the listener: whoever it wakes sees accepting() false
                Runnable listener = onAcceptFailed;
                if (listener != null) {
                    listener.run();
                }
                return null;
            }
            pause();
            return null;
        }
        acceptFailures.succeeded();
        return socket;
    }

    /**
     * Counts an accepted connection in: its session, or null when it was refused (over
     * max_connections, or stopping).
     */
    private Session admit(AFUNIXSocket socket) {
        services.stats.connections.incrementAndGet();
        if (open.incrementAndGet() > config.maxConnections() || stopping) {
            open.decrementAndGet();
            refuse(socket);
            return null;
        }
        Session session = new Session(socket, this, config.idleTimeoutS() * 1_000_000_000L);
        sessions.add(session);
        return session;
    }

    /** Accept failures since the last success, and when to say so or give up. */
    private static final class AcceptFailures {
        private volatile boolean failing;
        private long count;
        private long since;
        private long lastReport;
        private boolean closedReported;
        private boolean gaveUp;

        void succeeded() {
            if (failing) {
                synchronized (this) {
                    count = 0;
                    failing = false;
                }
            }
        }

        synchronized void closed(Exception e) {
            if (!closedReported) {
                closedReported = true;
                log.error("the listening socket was closed ({}); no new connections are accepted", e.getMessage());
            }
        }

        /** Counts a failure and logs it (not every one); true once it is time to give up. */
        synchronized boolean failed(Exception e) {
            long now = System.nanoTime();
            if (count++ == 0) {
                failing = true;
                since = now;
                lastReport = now;
                log.error("accept failed: {}", e.getMessage());
            } else if (now - since >= TimeUnit.MILLISECONDS.toNanos(ACCEPT_GIVE_UP_MS)) {
                if (gaveUp) {
                    return false; // another accepting thread gives up (once)
                }
                gaveUp = true;
                log.error("accept has failed {} times in {} s ({}); no longer accepting connections, so that the "
                        + "service manager restarts twofactord", count, ACCEPT_GIVE_UP_MS / 1000, e.getMessage());
                return true;
            } else if (now - lastReport >= TimeUnit.SECONDS.toNanos(2)) {
                lastReport = now;
                log.error("accept still failing ({} times): {}", count, e.getMessage());
            }
            return false;
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
     * Whether new connections are still being accepted: false once stopping, once accepting gave
     * up, or if the listening socket was closed under the server. The systemd watchdog asks.
     */
    public boolean accepting() {
        return !stopping && !acceptGaveUp && !serverSocket.isClosed();
    }

    /**
     * Runs {@code listener} once, on an accepting thread, when accept has failed for
     * {@link #ACCEPT_GIVE_UP_MS} without a success and accepting has ended.
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
            // close() it (that would shut it down, see SocketActivation#adopt); the accepting
            // threads see `stopping` within their poll interval (the pool's drain below waits
            // for them), and this process's exit closes the fd.
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
