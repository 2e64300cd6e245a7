package org.twofactord.daemon.store;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.twofactord.daemon.TestDaemon;

/**
 * A primary and a streaming standby of real PostgreSQL for failover tests, both on 127.0.0.1 with
 * ports of their own: the primary made by initdb, the standby by {@code pg_basebackup -R} from it.
 * The primary is killed ({@code pg_ctl stop -m immediate}), the standby promoted
 * ({@code pg_ctl promote}), and a new standby is made from the new primary in the old one's place,
 * on its port, so that one multi-host URL ({@link #url}) names the pair for every round. With
 * {@link Replication#SYNCHRONOUS} the primary has {@code synchronous_standby_names = '*'} whenever
 * a standby streams to it, so a commit returns once the standby has flushed it; a promoted standby
 * runs without one until a new standby streams (what a failover manager does when it is alone).
 * Like {@link PostgresServer}: as root the servers run as the {@code postgres} system user; both
 * are stopped and the directory removed by {@link #close()} or, whatever happens, a shutdown hook.
 */
public final class PostgresCluster implements AutoCloseable {
    /** Whether a commit on the primary waits for the standby. */
    public enum Replication { SYNCHRONOUS, ASYNCHRONOUS }

    /** The database the daemons share, owned by {@link PostgresServer#ROLE}. */
    public static final String DATABASE = "twofactord";

    public final Path dir;
    public final Replication replication;
    private final Path bin;
    private final boolean asPostgresUser;
    private final int[] ports = new int[2];
    private int primary;
    /** The pids {@link #freezePrimary} stopped. */
    private final List<Long> frozen = new ArrayList<>();
    private final Thread hook;

    private PostgresCluster(Path dir, Path bin, boolean asPostgresUser, Replication replication) {
        this.dir = dir;
        this.bin = bin;
        this.asPostgresUser = asPostgresUser;
        this.replication = replication;
        this.hook = new Thread(() -> {
            stopQuietly();
            removeDirectory();
        }, "postgres-cluster-stop");
    }

    /** initdb and start a primary (node 0) with a streaming standby (node 1). */
    public static PostgresCluster start(Replication replication) throws IOException, InterruptedException {
        Path bin = PostgresServer.requirePostgres();
        boolean root = TestDaemon.currentUid() == 0;
        PostgresCluster cluster = new PostgresCluster(Files.createTempDirectory("tfd-pgc"), bin, root, replication);
        for (int i = 0; i < 2; i++) {
            try (ServerSocket probe = new ServerSocket(0)) {
                cluster.ports[i] = probe.getLocalPort();
            }
        }
        Runtime.getRuntime().addShutdownHook(cluster.hook);
        try {
            cluster.init();
        } catch (IOException | InterruptedException | RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private void init() throws IOException, InterruptedException {
        Path pwfile = dir.resolve("pwfile");
        Files.writeString(pwfile, PostgresServer.SUPERUSER_PASSWORD + "\n");
        if (asPostgresUser) {
            // postgres runs as its own system user: it must own the directory.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
        }
        run(List.of(bin.resolve("initdb").toString(), "-D", data(0).toString(), "-U", PostgresServer.SUPERUSER,
                "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"), true);
        startNode(0);
        try (Connection c = superuser(0); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + PostgresServer.ROLE + " LOGIN PASSWORD '" + PostgresServer.ROLE_PASSWORD + "'");
            st.execute("CREATE DATABASE " + DATABASE + " OWNER " + PostgresServer.ROLE);
        } catch (SQLException e) {
            throw new IOException(e);
        }
        primary = 0;
        buildStandby(1);
    }

    /**
     * The daemons' URL: pgjdbc tries the hosts in order and takes the one that accepts writes, so
     * the same URL follows the primary from node to node.
     */
    public String url() {
        return "jdbc:postgresql://127.0.0.1:" + ports[0] + ",127.0.0.1:" + ports[1] + "/" + DATABASE
                + "?targetServerType=primary";
    }

    public int primaryPort() {
        return ports[primary];
    }

    public int standbyPort() {
        return ports[1 - primary];
    }

    private Path data(int node) {
        return dir.resolve("node" + node);
    }

    private void startNode(int node) throws IOException, InterruptedException {
        // wal_level=replica and hot_standby=on are PostgreSQL 15's defaults, said here all the same.
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data(node).toString(), "-l",
                dir.resolve("node" + node + ".log").toString(), "-w", "-t", "30", "-o",
                "-p " + ports[node] + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir
                        + " -c fsync=off -c deadlock_timeout=200ms -c max_connections=100 -c wal_level=replica"
                        + " -c hot_standby=on -c max_wal_senders=4", "start"), true);
    }

    /**
     * A new standby in {@code node}'s place (its old data removed), made from the primary, started
     * and streaming; with synchronous replication, the primary then waits for it.
     */
    private void buildStandby(int node) throws IOException, InterruptedException {
        killFrozen();
        removeTree(data(node));
        run(List.of("env", "PGPASSWORD=" + PostgresServer.SUPERUSER_PASSWORD, bin.resolve("pg_basebackup").toString(),
                "-D", data(node).toString(), "-h", "127.0.0.1", "-p", String.valueOf(ports[primary]),
                "-U", PostgresServer.SUPERUSER, "-X", "stream", "-c", "fast", "--no-sync", "-R"), true);
        // -R wrote standby.signal and primary_conninfo; the lines below come later in the file and
        // win: a name to be known by, and no synchronous standby of its own once promoted.
        Files.writeString(data(node).resolve("postgresql.auto.conf"), "primary_conninfo = 'host=127.0.0.1 port="
                + ports[primary] + " user=" + PostgresServer.SUPERUSER + " password="
                + PostgresServer.SUPERUSER_PASSWORD + " application_name=node" + node + "'\n"
                + "synchronous_standby_names = ''\n", StandardOpenOption.APPEND);
        startNode(node);
        awaitStandby("streaming", "async");
        if (replication == Replication.SYNCHRONOUS) {
            try (Connection c = superuser(primary); Statement st = c.createStatement()) {
                st.execute("ALTER SYSTEM SET synchronous_standby_names = '*'");
                st.execute("SELECT pg_reload_conf()");
            } catch (SQLException e) {
                throw new IOException(e);
            }
            awaitStandby("streaming", "sync");
        }
    }

    /** Waits until the primary sees its standby in this state. */
    private void awaitStandby(String state, String syncState) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Connection c = superuser(primary); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_replication WHERE state = '" + state
                         + "' AND sync_state = '" + syncState + "'")) {
                rs.next();
                if (rs.getInt(1) == 1) {
                    return;
                }
            } catch (SQLException e) {
                throw new IOException(e);
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the standby is not " + state + " (" + syncState + ") after 30 s; see "
                        + dir.resolve("node" + (1 - primary) + ".log"));
            }
            Thread.sleep(20);
        }
    }

    /** Waits until the standby has replayed everything the primary has written so far. */
    public void awaitReplay() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (Connection c = superuser(primary); Statement st = c.createStatement()) {
            while (true) {
                try (ResultSet rs = st.executeQuery("SELECT replay_lsn >= pg_current_wal_lsn() FROM pg_stat_replication")) {
                    if (rs.next() && rs.getBoolean(1)) {
                        return;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("the standby has not caught up after 30 s");
                }
                Thread.sleep(20);
            }
        } catch (SQLException e) {
            throw new IOException(e);
        }
    }

    /** The pid of the standby's WAL receiver, the process that takes the primary's WAL in. */
    public long walReceiverPid() throws IOException {
        try (Connection c = superuser(1 - primary); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT pid FROM pg_stat_wal_receiver")) {
            if (!rs.next()) {
                throw new IOException("the standby has no WAL receiver");
            }
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IOException(e);
        }
    }

    /** kill -SIGNAL pid, for a process of the cluster. */
    public void signal(long pid, String signal) throws IOException, InterruptedException {
        run(List.of("kill", "-" + signal, String.valueOf(pid)), false);
    }

    /** The primary dies at once, as with a power cut to its processes: {@code pg_ctl stop -m immediate}. */
    public void killPrimary() throws IOException, InterruptedException {
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data(primary).toString(), "-m", "immediate", "-w",
                "stop"), true);
    }

    /**
     * The primary hangs instead (SIGSTOP to its postmaster and every child): its port still accepts
     * TCP connections in the kernel and answers nothing, as a hung machine or a network that drops
     * packets would. It is killed (SIGKILL) when its place is rebuilt or the cluster closed, never
     * woken: it would be a second primary.
     */
    public void freezePrimary() throws IOException, InterruptedException {
        long postmaster = Long.parseLong(Files.readAllLines(data(primary).resolve("postmaster.pid")).get(0).strip());
        // The postmaster first: stopped, it starts no process that the list below would miss (a
        // backend forked meanwhile would serve on, reads and all, from a primary thought hung).
        run(List.of("kill", "-STOP", String.valueOf(postmaster)), false);
        List<Long> pids = new ArrayList<>(List.of(postmaster));
        Process ps = new ProcessBuilder("ps", "-o", "pid=", "--ppid", String.valueOf(postmaster)).start();
        for (String line : new String(ps.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                pids.add(Long.parseLong(line.strip()));
            }
        }
        ps.waitFor();
        frozen.addAll(pids);
        for (long child : pids.subList(1, pids.size())) {
            // A backend may end between ps and kill: not an error.
            new ProcessBuilder("kill", "-STOP", String.valueOf(child)).redirectErrorStream(true).start().waitFor();
        }
    }

    /** Kills what {@link #freezePrimary} froze, and waits until it is gone (its port free again). */
    private void killFrozen() throws IOException, InterruptedException {
        for (long pid : frozen) {
            new ProcessBuilder("kill", "-KILL", String.valueOf(pid)).redirectErrorStream(true).start().waitFor();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (long pid : frozen) {
            while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        }
        frozen.clear();
    }

    /**
     * {@code pg_ctl promote} of the standby, which is the primary from then on. It first waits for
     * the standby to accept connections, which it does not while it restarts after one of its
     * processes was killed.
     */
    public void promoteStandby() throws IOException, InterruptedException {
        int standby = 1 - primary;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Connection c = superuser(standby); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT pg_is_in_recovery()")) {
                rs.next();
                if (rs.getBoolean(1)) {
                    break;
                }
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the standby does not accept connections: " + e.getMessage(), e);
                }
            }
            Thread.sleep(20);
        }
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data(standby).toString(), "-w", "-t", "30", "promote"),
                true);
        primary = standby;
    }

    /** After a failover: a new standby from the new primary, in the old primary's place. */
    public void rebuildStandby() throws IOException, InterruptedException {
        buildStandby(1 - primary);
    }

    /** A superuser connection to the node's {@code postgres} database. */
    private Connection superuser(int node) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", PostgresServer.SUPERUSER);
        p.setProperty("password", PostgresServer.SUPERUSER_PASSWORD);
        p.setProperty("connectTimeout", "2");
        p.setProperty("socketTimeout", "10");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + ports[node] + "/postgres", p);
    }

    /** A superuser connection to the current primary's {@link #DATABASE}. */
    public Connection primaryConnection() throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", PostgresServer.SUPERUSER);
        p.setProperty("password", PostgresServer.SUPERUSER_PASSWORD);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + ports[primary] + "/" + DATABASE, p);
    }

    private void run(List<String> command, boolean asServerUser) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asServerUser && asPostgresUser) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        Process p = new ProcessBuilder(full).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", full).replace(PostgresServer.SUPERUSER_PASSWORD, "***")
                    + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
    }

    private void stopQuietly() {
        try {
            killFrozen();
        } catch (IOException | InterruptedException e) {
            // the JVM is ending, or the test: pg_ctl below tries again
        }
        for (int node = 0; node < 2; node++) {
            if (Files.exists(data(node).resolve("postmaster.pid"))) {
                try {
                    run(List.of(bin.resolve("pg_ctl").toString(), "-D", data(node).toString(), "-m", "immediate",
                            "-w", "stop"), true);
                } catch (IOException | InterruptedException e) {
                    // a node already gone: its pid file was stale
                }
            }
        }
    }

    /** Stops both servers and removes the directory. */
    @Override
    public void close() {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down
        }
        removeDirectory();
    }

    private void removeDirectory() {
        removeTree(dir);
    }

    private static void removeTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | java.io.UncheckedIOException e) {
            // a temporary directory left behind: nothing else to do
        }
    }
}
