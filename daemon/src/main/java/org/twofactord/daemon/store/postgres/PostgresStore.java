package org.twofactord.daemon.store.postgres;

import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.StoreTransient;
import org.twofactord.daemon.store.StoreUnavailable;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.key.MasterKey;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.config.PostgresConfig;

/**
 * The store in a PostgreSQL database that several daemons share. Every decision that must hold
 * across daemons is made by the database: an accepted step and a used backup code are one
 * conditional {@code UPDATE} whose row count says yes or no; a read the writer does before it
 * writes locks the row ({@code SELECT ... FOR UPDATE}), so failure counts lose no update. The
 * writer's changes share one transaction per batch, committed at once (no lazy commits: they would
 * hold row locks other daemons wait for). A batch of several changes locks its users in one
 * statement and sends their writes in one round trip (see {@link Transaction}). Any SQL failure rolls the transaction back and is a
 * {@link StoreTransient}: the batch is answered {@code ERR unavailable}, or applied again after a
 * deadlock, and the store carries on, reconnecting with a backoff.
 *
 * <p>Session threads read through a few pooled connections of their own; policy and issuer are
 * cached for at most {@link #META_CACHE_MS}, the bound on how late a change made through another
 * daemon is seen here.
 */
public final class PostgresStore implements Store {
    /** The newest schema this code knows; the database's {@code schema_version} may not be newer. */
    public static final int SCHEMA_VERSION = 2;
    /** The migrations, applied in order; file i + 1 brings the schema to version i + 1. */
    private static final List<String> MIGRATIONS = List.of("V1__schema.sql", "V2__required.sql");
    /** Serializes the start-up migration of daemons starting at once ({@code pg_advisory_xact_lock}). */
    private static final long MIGRATION_LOCK = 0x7466_6400_0000_0001L;
    /** How stale a policy or issuer read on a session thread may be. */
    public static final long META_CACHE_MS = 1000;
    /** Connections for the session threads' reads. */
    private static final int READ_CONNECTIONS = 4;
    /** How long a read waits for a free connection. */
    private static final long READ_WAIT_MS = 1000;
    /**
     * How long a commit may wait for a synchronous standby before it is cancelled. statement_timeout
     * does not cover that wait, and a connection the daemon gives up on (socketTimeout) leaves its
     * server process waiting, holding a connection slot, until a standby answers; a cancel ends
     * the wait, the commit returns with a warning, and the connection serves again.
     */
    static final long COMMIT_WAIT_MS = 1500;
    private static final java.util.concurrent.ScheduledExecutorService COMMIT_WATCH =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "twofactord-commit-watch");
                t.setDaemon(true);
                return t;
            });
    /** How long a statement's read waits for the server (the {@code socketTimeout}), once logged in. */
    private static final int READ_TIMEOUT_MS = 2000;
    private static final long FIRST_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 2000;

    private static final Logger log = LoggerFactory.getLogger(PostgresStore.class);

    private static final String USER_COLUMNS = "sealed_secret, generation, last_step, failures, lockout_level, "
            + "locked_until, enrolled_at, last_used_at, backup_hashes, backup_used";

    /** A JDBC step that may fail. */
    @FunctionalInterface
    private interface Sql<T> {
        T run(Connection c) throws SQLException;
    }

    private record CachedMeta(Map<String, String> values, long readAtNanos) {
    }

    private final String url;
    private final Properties properties;
    private final Semaphore readPermits = new Semaphore(READ_CONNECTIONS, true);
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
    private final Transaction transaction = new Transaction();
    private volatile CachedMeta metaCache;
    /** Moves when this daemon commits a meta change, so that a read begun before it is not cached. */
    private final java.util.concurrent.atomic.AtomicLong metaVersion = new java.util.concurrent.atomic.AtomicLong();

    // Reachability, for the backoff and for one log line on loss and one on recovery.
    private final Object health = new Object();
    private boolean down;
    private long retryAtNanos;
    private long backoffMs;
    /** How many times the database was found gone: the writer's connection must be newer than the last. */
    private long losses;

    private PostgresStore(String url, Properties properties) {
        this.url = url;
        this.properties = properties;
    }

    /**
     * Connects to the configured database, applies the migrations it lacks and checks that
     * {@code key} is the fleet's master key.
     */
    public static PostgresStore open(PostgresConfig config, MasterKey key) throws StoreException {
        Properties p = new Properties();
        p.setProperty("user", config.user());
        if (config.passwordFile().isPresent()) {
            p.setProperty("password", readPassword(config.passwordFile().get()));
        }
        return open(config.url(), p, key);
    }

    /** As {@link #open(PostgresConfig, MasterKey)}, with the connection properties given. */
    public static PostgresStore open(String url, Properties credentials, MasterKey key) throws StoreException {
        Properties p = new Properties();
        p.putAll(credentials);
        // No request may wait on the database longer than a client waits for its reply (5 s in
        // the PAM module), even when a request first waits for the writer's batch before it:
        // connect and read timeouts here, and statement and lock timeouts on the server that
        // fire before the read timeout, so that a slow statement is cancelled, not abandoned.
        p.setProperty("connectTimeout", "1");
        int hosts = hostCount(url);
        if (hosts == 1) {
            p.setProperty("loginTimeout", "1");
            p.setProperty("socketTimeout", "2");
        } else {
            // pgjdbc tries the hosts one after the other within one loginTimeout, and a host that
            // hangs (a stopped server, a machine powered off behind a network that drops packets)
            // costs the TCP connect timeout or, if the kernel still accepts, the read timeout of the
            // login's first read. Each host gets 1 s for either, and the login as many seconds as
            // there are hosts, plus a margin: a hung old primary listed first no longer uses up the
            // attempt before the new primary is tried. connect() sets the 2 s read timeout of
            // statements once logged in.
            p.setProperty("socketTimeout", "1");
            p.setProperty("loginTimeout", hosts + ".5");
        }
        // A CommitWatch's cancel to a server that hangs gives up after 1 s, not pgjdbc's 10: one
        // thread sends every cancel, and the next commit's must not wait behind it.
        p.setProperty("cancelSignalTimeout", "1");
        p.setProperty("tcpKeepAlive", "true");
        p.setProperty("ApplicationName", "twofactord");
        // lock_timeout stays above the server's deadlock_timeout (1 s by default), so that a
        // deadlock is reported as one (and its batch applied again), not as a lock timeout.
        // synchronous_commit = on whatever the role or database says: a commit is acknowledged
        // once it is on disk, and on a synchronous standby's disk when there is one (Replication);
        // 'off' or 'local' could lose an accepted code to a crash or a failover.
        p.setProperty("options", "-c statement_timeout=1800 -c lock_timeout=1500 "
                + "-c idle_in_transaction_session_timeout=10000 -c synchronous_commit=on");
        PostgresStore store = new PostgresStore(url, p);
        try {
            store.migrate(key);
        } catch (StoreException | RuntimeException e) {
            store.close();
            throw e;
        }
        return store;
    }

    /** How many hosts a URL names: {@code jdbc:postgresql://HOST1:P1,HOST2:P2/db} names two. */
    static int hostCount(String url) {
        Properties parsed = org.postgresql.Driver.parseURL(url, null);
        String hosts = parsed == null ? null : parsed.getProperty("PGHOST");
        return hosts == null ? 1 : hosts.split(",", -1).length;
    }

    /**
     * As {@link #open(PostgresConfig, MasterKey)}, for a daemon about to serve: also looks at the
     * database's replication and says in the log what a failover would cost; with
     * {@code postgres_synchronous = require} anything but synchronous replication refuses the start.
     */
    public static PostgresStore openToServe(PostgresConfig config, MasterKey key) throws StoreException {
        PostgresStore store = open(config, key);
        try {
            store.checkReplication(config.requireSynchronous());
        } catch (StoreException | RuntimeException e) {
            store.close();
            throw e;
        }
        return store;
    }

    private void checkReplication(boolean require) throws StoreException {
        Replication r;
        try (Connection c = connect()) {
            r = Replication.inspect(c);
        } catch (SQLException e) {
            throw new StoreException("the database " + url + " cannot be asked about its replication: " + describe(e), e);
        }
        String names = "synchronous_standby_names = '" + r.standbyNames() + "'";
        if (!r.commitsWaitForTheStandby()) {
            // The connection's options set it: something between (a pooler) dropped them.
            String why = "the database " + url + " runs the daemon's transactions with synchronous_commit = "
                    + r.commitLevel() + ", not on: an accepted code could be lost to a crash or a failover "
                    + "(a connection pooler dropping the connection's options?)";
            if (require) {
                throw new StoreException(why);
            }
            log.warn(why);
        }
        switch (r.kind()) {
            case NONE -> {
                if (require) {
                    throw new StoreException("postgres_synchronous = require, but the database " + url
                            + " replicates to no standby (" + names + ")");
                }
                log.info("database {}: no standby replicates from it; while it is down, logins are answered "
                        + "'unavailable' (docs/operations.md, \"Failover\")", url);
            }
            case ASYNCHRONOUS -> {
                String risk = r.standbys() + " standby(s) replicate asynchronously from the database " + url
                        + " (synchronous_standby_names is empty): if one is promoted after the primary fails, "
                        + "codes accepted in the last moments before the failure (within the replication lag) can "
                        + "be accepted again and enrolments made then are lost";
                if (require) {
                    throw new StoreException("postgres_synchronous = require, but " + risk);
                }
                log.warn("{}; set synchronous_standby_names on the primary (docs/operations.md, \"Failover\"), "
                        + "or postgres_synchronous = require to refuse to start so", risk);
            }
            case WAITING -> log.warn("database {}: {}, but no standby it names is attached: every commit waits "
                    + "for one, and requests that write are answered 'unavailable' until one attaches", url, names);
            case SYNCHRONOUS -> log.info("database {}: commits wait for a synchronous standby ({}; {} attached): "
                    + "a failover to it forgets no accepted code", url, names, r.standbys());
        }
    }

    /** What STATS tells: the replication as seen now (none, asynchronous, synchronous, waiting), or null. */
    @Override
    public Map<String, Object> health() {
        Map<String, Object> h = new java.util.LinkedHashMap<>();
        String replication = null;
        try {
            replication = read(c -> Replication.inspect(c).kind().label());
        } catch (StoreUnavailable e) {
            // the database is not reachable: STATS says so with null
        }
        h.put(org.twofactord.protocol.Keys.REPLICATION, replication);
        return h;
    }

    /** The password, from a file nobody but its owner may read (refused otherwise). */
    static String readPassword(Path file) throws StoreException {
        try {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            for (PosixFilePermission bit : mode) {
                if (bit.name().startsWith("GROUP_") || bit.name().startsWith("OTHERS_")) {
                    throw new StoreException("postgres_password_file " + file + " may be read by group or others; "
                            + "make it mode 0600 (or 0400), owned by the service user");
                }
            }
            String password = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (password.isEmpty() || password.contains("\n")) {
                throw new StoreException("postgres_password_file " + file + " must hold the password on one line");
            }
            return password;
        } catch (IOException e) {
            throw new StoreException("postgres_password_file " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    // ---- connections, and what is logged when the database goes and comes back

    private Connection connect() throws StoreTransient {
        synchronized (health) {
            if (down && System.nanoTime() - retryAtNanos < 0) {
                throw new StoreTransient("the database is unreachable (retrying)", false, null);
            }
        }
        try {
            Connection c = DriverManager.getConnection(url, properties);
            try {
                c.setNetworkTimeout(null, READ_TIMEOUT_MS); // what socketTimeout said, or more (open())
            } catch (SQLException e) {
                closeQuietly(c);
                throw e;
            }
            synchronized (health) {
                if (down) {
                    down = false;
                    log.info("the database {} is reachable again; serving requests", url);
                }
            }
            return c;
        } catch (SQLException e) {
            lost(e);
            throw new StoreTransient("the database is unreachable: " + describe(e), false, e);
        }
    }

    /** A new connection failed: the database is gone. Logged once, until it is back. */
    private void lost(SQLException e) {
        synchronized (health) {
            losses++;
            if (!down) {
                down = true;
                backoffMs = FIRST_BACKOFF_MS;
                log.error("lost the database {} ({}); answering 'unavailable' and reconnecting until it is back",
                        url, describe(e));
            } else {
                backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
            }
            retryAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoffMs);
        }
        dropIdle();
    }

    private long losses() {
        synchronized (health) {
            return losses;
        }
    }

    /** An open connection broke: the idle ones went with the same server (restarted, say). */
    private void dropIdle() {
        Connection c;
        while ((c = idle.pollFirst()) != null) {
            closeQuietly(c);
        }
    }

    /** A failure of the connection itself (class 08, or the server shutting down), not of a statement. */
    private static boolean connectionLost(SQLException e) {
        String state = e.getSQLState();
        return state == null || state.startsWith("08") || state.startsWith("57P");
    }

    /**
     * A connection that broke at once (reset, closed: a server restarted since it was made) is
     * worth one more try on a new connection; one that timed out is not: the time is spent.
     */
    private static boolean brokeAtOnce(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.SocketTimeoutException) {
                return false;
            }
        }
        return connectionLost(e);
    }

    private static boolean retryNow(SQLException e) {
        return "40P01".equals(e.getSQLState()) || "40001".equals(e.getSQLState());
    }

    private static String describe(SQLException e) {
        String state = e.getSQLState();
        return (state == null ? "" : "SQLSTATE " + state + ": ") + e.getMessage();
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // it is being thrown away
        }
    }

    /** Cancels a commit still waiting after {@link #COMMIT_WAIT_MS} (for a synchronous standby). */
    private static final class CommitWatch {
        private final Connection connection;
        private final java.util.concurrent.ScheduledFuture<?> timer;
        private boolean finished;
        private boolean fired;

        CommitWatch(Connection connection) {
            this.connection = connection;
            this.timer = COMMIT_WATCH.schedule(this::fire, COMMIT_WAIT_MS, TimeUnit.MILLISECONDS);
        }

        private void fire() {
            synchronized (this) {
                if (finished) {
                    return;
                }
                fired = true;
            }
            // Sent outside the lock: a cancel to a server that hangs waits for it (up to
            // cancelSignalTimeout), and the writer's finish() must not wait with it. finish() says
            // true from here on, so the connection is dropped and a late cancel finds nothing.
            try {
                connection.unwrap(org.postgresql.PGConnection.class).cancelQuery();
            } catch (SQLException e) {
                log.debug("cancelling a commit failed: {}", e.getMessage());
            }
        }

        /** The commit returned: true if a cancel was sent (or is being sent). */
        synchronized boolean finish() {
            finished = true;
            timer.cancel(false);
            return fired;
        }
    }

    /** A read on a pooled connection, outside the writer's transaction. */
    private <T> T read(Sql<T> op) {
        try {
            if (!readPermits.tryAcquire(READ_WAIT_MS, TimeUnit.MILLISECONDS)) {
                throw new StoreUnavailable(new StoreTransient("no database connection free within "
                        + READ_WAIT_MS + " ms", false, null));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailable(new StoreTransient("interrupted", false, e));
        }
        try {
            for (int attempt = 1; ; attempt++) {
                Connection c = idle.pollFirst();
                boolean reused = c != null;
                if (c == null) {
                    c = connect();
                }
                try {
                    T result = op.run(c);
                    idle.addFirst(c);
                    return result;
                } catch (SQLException e) {
                    closeQuietly(c);
                    if (connectionLost(e)) {
                        dropIdle();
                        if (reused && attempt == 1 && brokeAtOnce(e)) {
                            continue; // a connection left from before a restart: try a new one
                        }
                        lost(e);
                    }
                    throw new StoreUnavailable(new StoreTransient("database read failed: " + describe(e), false, e));
                }
            }
        } catch (StoreTransient e) {
            throw new StoreUnavailable(e);
        } finally {
            readPermits.release();
        }
    }

    // ---- schema

    private void migrate(MasterKey key) throws StoreException {
        String check = HexFormat.of().formatHex(key.fingerprint());
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
                st.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                        + "applied_at timestamptz NOT NULL DEFAULT now())");
                int current;
                try (ResultSet rs = st.executeQuery("SELECT coalesce(max(version), 0) FROM schema_version")) {
                    rs.next();
                    current = rs.getInt(1);
                }
                if (current > SCHEMA_VERSION) {
                    throw new StoreException("the database " + url + " has schema version " + current
                            + ", newer than this twofactord understands (" + SCHEMA_VERSION + "); upgrade twofactord");
                }
                for (int v = current + 1; v <= SCHEMA_VERSION; v++) {
                    String file = MIGRATIONS.get(v - 1);
                    st.execute(resource(file));
                    st.execute("INSERT INTO schema_version (version) VALUES (" + v + ")");
                    log.info("database {}: applied {}", url, file);
                }
                String stored = null;
                try (ResultSet rs = st.executeQuery("SELECT value FROM meta WHERE key = 'key_check'")) {
                    if (rs.next()) {
                        stored = rs.getString(1);
                    }
                }
                if (stored == null) {
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM users")) {
                        rs.next();
                        if (rs.getLong(1) > 0) {
                            throw new StoreException("the database " + url + " has users but no key check; it is damaged");
                        }
                    }
                    try (PreparedStatement ps = c.prepareStatement("INSERT INTO meta (key, value) VALUES ('key_check', ?)")) {
                        ps.setString(1, check);
                        ps.executeUpdate();
                    }
                    // This server claims the new database for its key: the file is written before
                    // the commit, so a key check never stands in the database without its key.
                    key.save();
                } else if (!key.saved()) {
                    throw new StoreException("master key " + key.unsavedFile() + " is missing and the database "
                            + url + " already has one: copy master.key from a server of the fleet (the one that made "
                            + "the database has it) before starting this one");
                } else if (!stored.equals(check)) {
                    throw new StoreException("the master key does not match the database " + url + "; every daemon "
                            + "of the fleet needs the same master.key (copy it from the server that made the database)");
                }
            }
            c.commit();
        } catch (SQLException e) {
            throw new StoreException("the database " + url + " cannot be prepared: " + describe(e), e);
        }
    }

    private static String resource(String file) throws StoreException {
        try (InputStream in = PostgresStore.class.getResourceAsStream("/db/postgresql/" + file)) {
            if (in == null) {
                throw new StoreException("migration " + file + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StoreException("migration " + file + " cannot be read", e);
        }
    }

    // ---- reads on session threads

    @Override
    public Optional<String> meta(String key) {
        CachedMeta cached = metaCache;
        if (cached == null || System.nanoTime() - cached.readAtNanos() >= TimeUnit.MILLISECONDS.toNanos(META_CACHE_MS)) {
            long now = System.nanoTime();
            long version = metaVersion.get();
            cached = new CachedMeta(read(c -> {
                Map<String, String> all = new HashMap<>();
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT key, value FROM meta")) {
                    while (rs.next()) {
                        all.put(rs.getString(1), rs.getString(2));
                    }
                }
                return all;
            }), now);
            synchronized (metaVersion) {
                if (metaVersion.get() == version) {
                    metaCache = cached; // unless this daemon changed policy or issuer meanwhile
                }
            }
        }
        return Optional.ofNullable(cached.values().get(key));
    }

    @Override
    public Optional<UserRecord> user(String name) {
        return read(c -> selectUser(c, name, false));
    }

    @Override
    public Optional<PendingEnrollment> pending(String name) {
        return read(c -> selectPending(c, name, false));
    }

    @Override
    public List<String> names() {
        return read(PostgresStore::selectNames);
    }

    @Override
    public List<String> pendingNames() {
        return read(PostgresStore::selectPendingNames);
    }

    /**
     * The users {@link #USER_PAGE_ROWS} at a time, in the database's order of names, each page
     * one statement on a read connection: a million names in one statement would pass the
     * statement timeout (the {@code UNION} of {@link #names()} took longer than 1.8 s), and in
     * one list most of the command line's heap. A user added or removed while the pages are
     * read may be in the export or not, as when each was read on its own.
     */
    @Override
    public Iterable<Map.Entry<String, UserRecord>> users() {
        return () -> new java.util.Iterator<>() {
            private final java.util.ArrayDeque<Map.Entry<String, UserRecord>> page = new java.util.ArrayDeque<>();
            private String after; // the last name read; null before the first page
            private boolean last;

            @Override
            public boolean hasNext() {
                if (page.isEmpty() && !last) {
                    String from = after;
                    List<Map.Entry<String, UserRecord>> rows = read(c -> selectUserPage(c, from));
                    page.addAll(rows);
                    last = rows.size() < USER_PAGE_ROWS;
                    if (!rows.isEmpty()) {
                        after = rows.get(rows.size() - 1).getKey();
                    }
                }
                return !page.isEmpty();
            }

            @Override
            public Map.Entry<String, UserRecord> next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                return page.poll();
            }
        };
    }

    /** Rows per page of {@link #users()}. */
    private static final int USER_PAGE_ROWS = 5000;

    private static List<Map.Entry<String, UserRecord>> selectUserPage(Connection c, String after) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT name, " + USER_COLUMNS + " FROM users"
                + (after == null ? "" : " WHERE name > ?") + " ORDER BY name LIMIT " + USER_PAGE_ROWS)) {
            if (after != null) {
                ps.setString(1, after);
            }
            try (ResultSet rs = ps.executeQuery()) {
                List<Map.Entry<String, UserRecord>> rows = new ArrayList<>();
                while (rs.next()) {
                    rows.add(Map.entry(rs.getString(1), new UserRecord(rs.getBytes(2), rs.getInt(3), rs.getLong(4),
                            rs.getInt(5), rs.getInt(6), rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getBytes(10),
                            rs.getInt(11))));
                }
                return rows;
            }
        }
    }

    /**
     * STATS' user count. Counting is a scan of the primary key: 0.3-0.5 s at a million users on
     * two cores, with parallel workers, on one of the four read connections the logins need. From
     * {@link #USER_COUNT_CACHE_FROM} users on, a count is therefore reused for
     * {@link #USER_COUNT_CACHE_MS}; a smaller store is counted at every call, exactly.
     */
    @Override
    public int userCount() {
        CachedCount cached = userCountCache;
        if (cached != null && System.nanoTime() - cached.readAtNanos() < TimeUnit.MILLISECONDS.toNanos(USER_COUNT_CACHE_MS)) {
            return cached.users();
        }
        long now = System.nanoTime();
        int users = read(c -> {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM users")) {
                rs.next();
                return rs.getInt(1);
            }
        });
        userCountCache = users >= USER_COUNT_CACHE_FROM ? new CachedCount(users, now) : null;
        return users;
    }

    /** From how many users on {@link #userCount()} reuses a count. */
    static final int USER_COUNT_CACHE_FROM = 100_000;
    /** How long {@link #userCount()} reuses the count of a large store. */
    public static final long USER_COUNT_CACHE_MS = 30_000;

    private record CachedCount(int users, long readAtNanos) {
    }

    private volatile CachedCount userCountCache;

    @Override
    public boolean required(String name) {
        return read(c -> selectRequired(c, name, false));
    }

    @Override
    public List<String> requiredNames() {
        return read(PostgresStore::selectRequiredNames);
    }

    private static boolean selectRequired(Connection c, String name, boolean lock) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM required WHERE name = ?"
                + (lock ? " FOR UPDATE" : ""))) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private static List<String> selectRequiredNames(Connection c) throws SQLException {
        TreeSet<String> all = new TreeSet<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM required")) {
            while (rs.next()) {
                all.add(rs.getString(1));
            }
        }
        return new ArrayList<>(all);
    }

    private static Optional<UserRecord> selectUser(Connection c, String name, boolean lock) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + USER_COLUMNS + " FROM users WHERE name = ?"
                + (lock ? " FOR UPDATE" : ""))) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(userAt(rs, 1));
            }
        }
    }

    /** The user record whose {@link #USER_COLUMNS} start at column {@code first}. */
    private static UserRecord userAt(ResultSet rs, int first) throws SQLException {
        int i = first;
        return new UserRecord(rs.getBytes(i), rs.getInt(i + 1), rs.getLong(i + 2), rs.getInt(i + 3),
                rs.getInt(i + 4), rs.getLong(i + 5), rs.getLong(i + 6), rs.getLong(i + 7), rs.getBytes(i + 8),
                rs.getInt(i + 9));
    }

    private static Optional<PendingEnrollment> selectPending(Connection c, String name, boolean lock)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT sealed_secret, created_at, expires_at FROM pending "
                + "WHERE name = ?" + (lock ? " FOR UPDATE" : ""))) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new PendingEnrollment(rs.getBytes(1), rs.getLong(2), rs.getLong(3)))
                        : Optional.empty();
            }
        }
    }

    private static List<String> selectNames(Connection c) throws SQLException {
        TreeSet<String> all = new TreeSet<>(); // Java's order, as MapDB gives it, whatever the collation
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT name FROM users UNION SELECT name FROM pending")) {
            while (rs.next()) {
                all.add(rs.getString(1));
            }
        }
        return new ArrayList<>(all);
    }

    private static List<String> selectPendingNames(Connection c) throws SQLException {
        TreeSet<String> all = new TreeSet<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT name FROM pending")) {
            while (rs.next()) {
                all.add(rs.getString(1));
            }
        }
        return new ArrayList<>(all);
    }

    // ---- writes: the writer thread's transaction

    @Override
    public Store inTransaction() {
        return transaction;
    }

    @Override
    public boolean lazyCommits() {
        return false;
    }

    @Override
    public void putMeta(String key, String value) {
        transaction.putMeta(key, value);
    }

    @Override
    public void removeMeta(String key) {
        transaction.removeMeta(key);
    }

    @Override
    public void putUser(String name, UserRecord record) {
        transaction.putUser(name, record);
    }

    @Override
    public void removeUser(String name) {
        transaction.removeUser(name);
    }

    /**
     * The users of a store import, sent with {@code COPY} in the writer's transaction, a few
     * thousand rows per statement: one round trip and one statement for thousands of users,
     * where {@link #putUser} costs one of each per user. Each chunk is read from {@code users}
     * before its {@code COPY} starts, so a damaged record never leaves a {@code COPY} half sent.
     * Duplicate names fail the primary key and roll the whole import back.
     */
    @Override
    public void putUsers(Iterable<Map.Entry<String, UserRecord>> users) {
        java.util.Iterator<Map.Entry<String, UserRecord>> it = users.iterator();
        StringBuilder rows = new StringBuilder(COPY_ROWS * 400);
        HexFormat hex = HexFormat.of();
        while (it.hasNext()) {
            rows.setLength(0);
            for (int n = 0; n < COPY_ROWS && it.hasNext(); n++) {
                Map.Entry<String, UserRecord> u = it.next();
                UserRecord r = u.getValue();
                copyText(rows, u.getKey()).append('\t');
                rows.append("\\\\x").append(hex.formatHex(r.sealedSecret())).append('\t')
                        .append(r.generation()).append('\t').append(r.lastStep()).append('\t')
                        .append(r.failures()).append('\t').append(r.lockoutLevel()).append('\t')
                        .append(r.lockedUntil()).append('\t').append(r.enrolledAt()).append('\t')
                        .append(r.lastUsedAt()).append('\t')
                        .append("\\\\x").append(hex.formatHex(r.backupHashes())).append('\t')
                        .append(r.backupUsed()).append('\n');
            }
            String chunk = rows.toString();
            transaction.run(c -> {
                try {
                    return c.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
                            .copyIn("COPY users (name, " + USER_COLUMNS + ") FROM STDIN", new java.io.StringReader(chunk));
                } catch (IOException e) {
                    throw new SQLException("COPY users: " + e.getMessage(), "08006", e);
                }
            });
        }
    }

    /** Rows per {@code COPY} of {@link #putUsers}: about 2 MB, far inside the statement timeout. */
    private static final int COPY_ROWS = 5000;

    /** {@code text} as a field of COPY's text format (backslash escapes). */
    private static StringBuilder copyText(StringBuilder to, String text) {
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            switch (ch) {
                case '\\' -> to.append("\\\\");
                case '\t' -> to.append("\\t");
                case '\n' -> to.append("\\n");
                case '\r' -> to.append("\\r");
                default -> to.append(ch);
            }
        }
        return to;
    }

    @Override
    public void putPending(String name, PendingEnrollment pending) {
        transaction.putPending(name, pending);
    }

    @Override
    public void removePending(String name) {
        transaction.removePending(name);
    }

    @Override
    public void setRequired(String name, boolean required) {
        transaction.setRequired(name, required);
    }

    @Override
    public boolean acceptStep(String name, int generation, long step, long nowS) {
        return transaction.acceptStep(name, generation, step, nowS);
    }

    @Override
    public boolean useBackupCode(String name, int generation, int index, long nowS) {
        return transaction.useBackupCode(name, generation, index, nowS);
    }

    @Override
    public void commit() throws StoreException {
        transaction.commit();
    }

    @Override
    public void rollback() {
        transaction.abandon();
    }

    @Override
    public void snapshot(Path dir) throws StoreException {
        throw new StoreException("the PostgreSQL store is backed up with pg_dump, or copied with "
                + "'twofactord store export' (docs/operations.md)");
    }

    @Override
    public void close() {
        transaction.close();
        Connection c;
        while ((c = idle.pollFirst()) != null) {
            closeQuietly(c);
        }
    }

    @Override
    public String toString() {
        return "PostgresStore[" + url + "]";
    }

    /**
     * The writer's transaction: one connection, not in autocommit; its reads lock what they read.
     * Only the writer thread (or a command-line tool, alone) uses it.
     *
     * <p>A batch of several changes is applied in few round trips ({@link #prepare}): one
     * {@code SELECT ... ORDER BY name FOR UPDATE} locks and reads every user the batch names; the
     * changes then read those users from here and their writes are held back, each a
     * compare-and-set of the whole row against what was read, sent together in one JDBC batch
     * before the next statement that must go to the database (a read of anything else, a write
     * of another table) and at the commit. Any held write that does not change exactly one row
     * rolls the whole transaction back: its batch is answered {@code unavailable}, never OK.
     */
    private final class Transaction implements Store {
        /**
         * A user's whole row, written only if it still holds what the transaction read (or, for a
         * user that had none, inserted only if there is still none): a row the transaction has
         * locked can fail that only if something bypassed the lock, and then nothing is kept.
         * One shape for every held write, so that one {@code executeBatch} carries them all.
         */
        private static final String PUT_USER_IF_UNCHANGED = "INSERT INTO users (name, " + USER_COLUMNS + ") "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                + "sealed_secret = EXCLUDED.sealed_secret, generation = EXCLUDED.generation, "
                + "last_step = EXCLUDED.last_step, failures = EXCLUDED.failures, "
                + "lockout_level = EXCLUDED.lockout_level, locked_until = EXCLUDED.locked_until, "
                + "enrolled_at = EXCLUDED.enrolled_at, last_used_at = EXCLUDED.last_used_at, "
                + "backup_hashes = EXCLUDED.backup_hashes, backup_used = EXCLUDED.backup_used "
                + "WHERE ? AND users.generation = ? AND users.last_step = ? AND users.failures = ? "
                + "AND users.lockout_level = ? AND users.locked_until = ? AND users.enrolled_at = ? "
                + "AND users.last_used_at = ? AND users.backup_used = ?";

        /** A held user write: the row as the transaction read it (null: none), and as it is to be. */
        private record HeldWrite(String name, UserRecord before, UserRecord after) {
        }

        private Connection connection;
        /** Whether the connection has served a commit: if it breaks now, it may be just stale. */
        private boolean usedBefore;
        /** {@link #losses} when the connection was made. */
        private long connectedAfter;
        private boolean metaWritten;
        /**
         * The users {@link #prepare} locked (or found without a row), as this transaction has left
         * them; null when the transaction is not a prepared batch's.
         */
        private Map<String, Optional<UserRecord>> prepared;
        /** User writes not yet sent, in order. */
        private final List<HeldWrite> held = new ArrayList<>();

        private <T> T run(Sql<T> op) {
            try {
                if (connection != null && connectedAfter != losses()) {
                    // The database was found gone since this connection was made (a read found it):
                    // it may lead to the old primary of a failover, which hangs rather than refuses,
                    // and would hold this batch for the whole read timeout. The batch is applied
                    // again on a new connection.
                    metaWritten = false;
                    close();
                    throw new StoreTransient("the database was lost since the writer's connection was made", true,
                            null);
                }
                if (connection == null) {
                    long before = losses();
                    Connection c = connect();
                    try {
                        c.setAutoCommit(false);
                    } catch (SQLException e) {
                        closeQuietly(c);
                        throw e;
                    }
                    connection = c;
                    connectedAfter = before;
                    usedBefore = false;
                }
                return op.run(connection);
            } catch (StoreTransient e) {
                throw new StoreUnavailable(e);
            } catch (SQLException e) {
                throw new StoreUnavailable(rollBack(e, true));
            }
        }

        /**
         * Rolls the whole transaction back after a failed statement or commit. A statement that
         * failed on a connection from an earlier batch, because that connection broke, is worth
         * one more try on a new connection (the batch is applied again): the database may have
         * restarted since. A broken commit is not: it may have happened.
         */
        private StoreTransient rollBack(SQLException e, boolean statement) {
            metaWritten = false;
            forgetPrepared();
            boolean retry = retryNow(e);
            if (connectionLost(e)) {
                retry = statement && usedBefore && brokeAtOnce(e);
                if (retry) {
                    dropIdle();
                } else {
                    lost(e);
                }
                close();
            } else if (connection != null) {
                try {
                    connection.rollback();
                } catch (SQLException again) {
                    close();
                }
            }
            return new StoreTransient("database write rolled back: " + describe(e), retry, e);
        }

        /** Ends the prepared batch's state: after its commit, or with its rollback. */
        private void forgetPrepared() {
            prepared = null;
            held.clear();
        }

        /**
         * The writer gave up on the batch ({@link Store#rollback}): nothing it read or held back
         * may reach the next batch. A failed statement has rolled back already (then this sends
         * nothing); a failure from outside this transaction has not.
         */
        void abandon() {
            metaWritten = false;
            forgetPrepared();
            if (connection != null) {
                try {
                    connection.rollback();
                } catch (SQLException e) {
                    close();
                }
            }
        }

        /**
         * Locks and reads every named user in one statement, in name order (the same order on
         * every daemon, so two daemons' batches wait for each other rather than deadlock over
         * these rows), and keeps them for the changes of the batch to come.
         */
        @Override
        public void prepare(Set<String> users) {
            forgetPrepared();
            Map<String, Optional<UserRecord>> rows = run(c -> {
                Map<String, Optional<UserRecord>> found = new HashMap<>();
                try (PreparedStatement ps = c.prepareStatement("SELECT name, " + USER_COLUMNS
                        + " FROM users WHERE name = ANY(?) ORDER BY name FOR UPDATE")) {
                    ps.setArray(1, c.createArrayOf("text", users.toArray()));
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            found.put(rs.getString(1), Optional.of(userAt(rs, 2)));
                        }
                    }
                }
                return found;
            });
            for (String name : users) {
                rows.putIfAbsent(name, Optional.empty());
            }
            prepared = rows;
        }

        /** The user as this transaction has it, or null when {@link #prepare} did not read it. */
        private Optional<UserRecord> preparedUser(String name) {
            return prepared == null ? null : prepared.get(name);
        }

        /** Holds back a write of a prepared user's row; it is sent with the next {@link #flush}. */
        private void hold(String name, UserRecord after) {
            held.add(new HeldWrite(name, prepared.get(name).orElse(null), after));
            prepared.put(name, Optional.of(after));
        }

        /**
         * Sends the held writes in one round trip (one JDBC batch), before any statement that
         * must see them and at the commit. A count other than one row each means the rows were
         * not what this transaction locked and read: the whole transaction is rolled back.
         */
        private void flush() {
            if (held.isEmpty()) {
                return;
            }
            List<HeldWrite> writes = new ArrayList<>(held);
            held.clear();
            int[] counts = run(c -> {
                try (PreparedStatement ps = c.prepareStatement(PUT_USER_IF_UNCHANGED)) {
                    for (HeldWrite w : writes) {
                        UserRecord r = w.after();
                        UserRecord was = w.before() != null ? w.before() : r;
                        ps.setString(1, w.name());
                        ps.setBytes(2, r.sealedSecret());
                        ps.setInt(3, r.generation());
                        ps.setLong(4, r.lastStep());
                        ps.setInt(5, r.failures());
                        ps.setInt(6, r.lockoutLevel());
                        ps.setLong(7, r.lockedUntil());
                        ps.setLong(8, r.enrolledAt());
                        ps.setLong(9, r.lastUsedAt());
                        ps.setBytes(10, r.backupHashes());
                        ps.setInt(11, r.backupUsed());
                        ps.setBoolean(12, w.before() != null);
                        ps.setInt(13, was.generation());
                        ps.setLong(14, was.lastStep());
                        ps.setInt(15, was.failures());
                        ps.setInt(16, was.lockoutLevel());
                        ps.setLong(17, was.lockedUntil());
                        ps.setLong(18, was.enrolledAt());
                        ps.setLong(19, was.lastUsedAt());
                        ps.setInt(20, was.backupUsed());
                        ps.addBatch();
                    }
                    return ps.executeBatch();
                } catch (java.sql.BatchUpdateException e) {
                    // The server's own error, whose SQLSTATE says deadlock or lost connection.
                    throw e.getNextException() != null ? e.getNextException() : e;
                }
            });
            for (int i = 0; i < counts.length; i++) {
                if (counts[i] != 1) {
                    String name = writes.get(i).name();
                    metaWritten = false;
                    forgetPrepared();
                    try {
                        connection.rollback();
                    } catch (SQLException e) {
                        close();
                    }
                    log.error("the row of user {} changed under this daemon's lock ({} rows written, not 1); "
                            + "its batch of {} write(s) was rolled back and answered 'unavailable'",
                            name, counts[i], writes.size());
                    throw new StoreUnavailable(new StoreTransient("database write rolled back: the row of user "
                            + name + " was not as read under its lock", false, null));
                }
            }
        }

        @Override
        public Optional<String> meta(String key) {
            flush();
            return run(c -> {
                try (PreparedStatement ps = c.prepareStatement("SELECT value FROM meta WHERE key = ? FOR UPDATE")) {
                    ps.setString(1, key);
                    try (ResultSet rs = ps.executeQuery()) {
                        return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
                    }
                }
            });
        }

        @Override
        public Optional<UserRecord> user(String name) {
            Optional<UserRecord> cached = preparedUser(name);
            if (cached != null) {
                return cached;
            }
            flush();
            return run(c -> selectUser(c, name, true));
        }

        @Override
        public Optional<PendingEnrollment> pending(String name) {
            flush();
            return run(c -> selectPending(c, name, true));
        }

        @Override
        public List<String> names() {
            flush();
            return run(PostgresStore::selectNames);
        }

        @Override
        public List<String> pendingNames() {
            flush();
            return run(PostgresStore::selectPendingNames);
        }

        @Override
        public int userCount() {
            flush();
            return run(c -> {
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM users")) {
                    rs.next();
                    return rs.getInt(1);
                }
            });
        }

        private int update(String sql, Object... args) {
            flush(); // the held writes go first, in order
            return run(c -> {
                try (PreparedStatement ps = c.prepareStatement(sql)) {
                    for (int i = 0; i < args.length; i++) {
                        ps.setObject(i + 1, args[i]);
                    }
                    return ps.executeUpdate();
                }
            });
        }

        @Override
        public void putMeta(String key, String value) {
            update("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    key, value);
            metaWritten = true;
        }

        @Override
        public void removeMeta(String key) {
            update("DELETE FROM meta WHERE key = ?", key);
            metaWritten = true;
        }

        @Override
        public void putUser(String name, UserRecord r) {
            if (preparedUser(name) != null) {
                hold(name, r);
                return;
            }
            update("INSERT INTO users (name, " + USER_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    + "ON CONFLICT (name) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, "
                    + "generation = EXCLUDED.generation, last_step = EXCLUDED.last_step, failures = EXCLUDED.failures, "
                    + "lockout_level = EXCLUDED.lockout_level, locked_until = EXCLUDED.locked_until, "
                    + "enrolled_at = EXCLUDED.enrolled_at, last_used_at = EXCLUDED.last_used_at, "
                    + "backup_hashes = EXCLUDED.backup_hashes, backup_used = EXCLUDED.backup_used",
                    name, r.sealedSecret(), r.generation(), r.lastStep(), r.failures(), r.lockoutLevel(),
                    r.lockedUntil(), r.enrolledAt(), r.lastUsedAt(), r.backupHashes(), r.backupUsed());
        }

        @Override
        public void removeUser(String name) {
            update("DELETE FROM users WHERE name = ?", name);
            if (preparedUser(name) != null) {
                prepared.put(name, Optional.empty());
            }
        }

        @Override
        public void putPending(String name, PendingEnrollment p) {
            update("INSERT INTO pending (name, sealed_secret, created_at, expires_at) VALUES (?, ?, ?, ?) "
                    + "ON CONFLICT (name) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, "
                    + "created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
                    name, p.sealedSecret(), p.createdAt(), p.expiresAt());
        }

        @Override
        public void removePending(String name) {
            update("DELETE FROM pending WHERE name = ?", name);
        }

        @Override
        public boolean required(String name) {
            flush();
            return run(c -> selectRequired(c, name, true));
        }

        @Override
        public List<String> requiredNames() {
            flush();
            return run(PostgresStore::selectRequiredNames);
        }

        @Override
        public void setRequired(String name, boolean required) {
            if (required) {
                update("INSERT INTO required (name) VALUES (?) ON CONFLICT (name) DO NOTHING", name);
            } else {
                update("DELETE FROM required WHERE name = ?", name);
            }
        }

        /**
         * The one write that decides a TOTP OK, for every daemon of the fleet: its row count. For
         * a user of a prepared batch, whose row this transaction holds locked, the row read under
         * the lock decides here as the conditional UPDATE would, and the held compare-and-set
         * write must then change exactly that row, or nothing of the batch is kept.
         */
        @Override
        public boolean acceptStep(String name, int generation, long step, long nowS) {
            if (preparedUser(name) != null) {
                return Store.super.acceptStep(name, generation, step, nowS);
            }
            return update("UPDATE users SET last_step = ?, failures = 0, lockout_level = 0, locked_until = 0, "
                    + "last_used_at = ? WHERE name = ? AND generation = ? AND last_step < ? AND locked_until <= ?",
                    step, nowS, name, generation, step, nowS) == 1;
        }

        /** The one write that decides a backup-code OK: the code's bit must still be clear. */
        @Override
        public boolean useBackupCode(String name, int generation, int index, long nowS) {
            if (preparedUser(name) != null) {
                return Store.super.useBackupCode(name, generation, index, nowS);
            }
            int bit = 1 << index;
            return update("UPDATE users SET backup_used = backup_used | ?, failures = 0, lockout_level = 0, "
                    + "locked_until = 0, last_used_at = ? WHERE name = ? AND generation = ? AND backup_used & ? = 0 "
                    + "AND locked_until <= ?", bit, nowS, name, generation, bit, nowS) == 1;
        }

        @Override
        public boolean lazyCommits() {
            return false;
        }

        @Override
        public void commit() throws StoreException {
            if (connection == null) {
                return; // nothing was written
            }
            try {
                flush();
            } catch (StoreUnavailable e) {
                throw e.getCause(); // rolled back
            }
            forgetPrepared();
            CommitWatch watch = null;
            try {
                connection.clearWarnings(); // what is there after the commit is the commit's
                watch = new CommitWatch(connection);
                connection.commit();
            } catch (SQLException e) {
                // Lost with the connection, the commit may or may not have happened: the batch is
                // answered 'unavailable' either way, which is safe (at worst a code is used up).
                StoreTransient failure = rollBack(e, false);
                if (watch != null && watch.finish()) {
                    close(); // a late cancel request could hit this connection's next statement
                }
                throw failure;
            }
            boolean cancelled = watch.finish();
            usedBefore = true;
            if (metaWritten) {
                metaWritten = false;
                synchronized (metaVersion) {
                    metaVersion.incrementAndGet();
                    metaCache = null; // this daemon sees its own change at once
                }
            }
            Connection c = connection;
            if (cancelled) {
                connection = null; // a late cancel request could hit this connection's next statement
            }
            try {
                notReplicated(c);
            } finally {
                if (cancelled) {
                    closeQuietly(c);
                }
            }
        }

        /**
         * A commit that ended with a warning was cut short while it waited for a synchronous
         * standby ({@link CommitWatch}, or an administrator's cancel): it is committed on the
         * primary but perhaps on no standby, so a failover could forget it. Its batch is answered
         * 'unavailable' (what it wrote stays: at worst a code is used up); the connection is fine.
         */
        private void notReplicated(Connection c) throws StoreTransient {
            java.sql.SQLWarning warning;
            try {
                warning = c.getWarnings();
                c.clearWarnings();
            } catch (SQLException e) {
                throw rollBack(e, false);
            }
            if (warning != null) {
                log.warn("a commit was not confirmed by a synchronous standby within {} ms; its requests are "
                        + "answered 'unavailable' ({})", COMMIT_WAIT_MS, warning.getMessage());
                throw new StoreTransient("commit not confirmed by a synchronous standby: " + warning.getMessage(),
                        false, warning);
            }
        }

        @Override
        public void snapshot(Path dir) throws StoreException {
            PostgresStore.this.snapshot(dir);
        }

        @Override
        public void close() {
            forgetPrepared();
            if (connection != null) {
                closeQuietly(connection);
                connection = null;
            }
        }
    }
}
