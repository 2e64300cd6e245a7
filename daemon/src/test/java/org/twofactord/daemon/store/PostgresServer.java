package org.twofactord.daemon.store;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.twofactord.daemon.TestDaemon;

/**
 * A real PostgreSQL server from Debian's packages for tests: initdb into a temp directory, then
 * postgres on 127.0.0.1 at a free port (and a Unix socket in that directory), password
 * authentication (scram-sha-256) for everyone. As root it runs as the {@code postgres} system
 * user (postgres refuses root), otherwise as the current user. Stopped by {@link #close()} and,
 * whatever happens, by a shutdown hook. Without PostgreSQL installed the test is skipped, except
 * under CI=true, where that is a failure.
 */
public final class PostgresServer implements AutoCloseable {
    public static final String SUPERUSER = "postgres";
    public static final String SUPERUSER_PASSWORD = "test-superuser-password";
    /** The role the daemons log in as. */
    public static final String ROLE = "twofactord";
    public static final String ROLE_PASSWORD = "test-role-password";
    private static final AtomicInteger databases = new AtomicInteger();

    public final Path dir;
    public final int port;
    private final Path bin;
    private final boolean asPostgresUser;
    private final Thread hook;

    private PostgresServer(Path dir, Path bin, int port, boolean asPostgresUser) {
        this.dir = dir;
        this.bin = bin;
        this.port = port;
        this.asPostgresUser = asPostgresUser;
        this.hook = new Thread(() -> {
            stopQuietly();
            removeDirectory();
        }, "postgres-stop");
    }

    /** The newest PostgreSQL under /usr/lib/postgresql/N/bin, or null. */
    static Path findBin() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return null;
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("postgres")))
                    .max(Comparator.comparingInt(b -> versionOf(b.getParent())))
                    .orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static int versionOf(Path dir) {
        try {
            return Integer.parseInt(dir.getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Skips the test without PostgreSQL, or fails it under CI=true; returns the bin directory. */
    public static Path requirePostgres() {
        Path bin = findBin();
        if (bin == null && "true".equals(System.getenv("CI"))) {
            fail("CI must run the PostgreSQL tests: install the postgresql package (scripts/ensure-packages)");
        }
        assumeTrue(bin != null, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin)");
        return bin;
    }

    private static PostgresServer shared;

    /**
     * One server for the test classes that need only databases of their own (each test makes one
     * with {@link #createDatabase}): started at first use, stopped by the shutdown hook when the
     * test JVM ends. A test that stops or freezes the server starts its own with {@link #start}.
     */
    public static synchronized PostgresServer shared() throws IOException, InterruptedException {
        if (shared == null) {
            shared = start();
        }
        return shared;
    }

    /** initdb and start a new server. */
    public static PostgresServer start() throws IOException, InterruptedException {
        Path bin = requirePostgres();
        boolean root = TestDaemon.currentUid() == 0;
        Path dir = Files.createTempDirectory("tfd-pg");
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        PostgresServer server = new PostgresServer(dir, bin, port, root);
        Path pwfile = dir.resolve("pwfile");
        Files.writeString(pwfile, SUPERUSER_PASSWORD + "\n");
        if (root) {
            // postgres runs as its own system user: it must own the directory.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            server.run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
        }
        Runtime.getRuntime().addShutdownHook(server.hook);
        server.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", SUPERUSER,
                "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"), true);
        server.startServer();
        try (Connection c = server.superuser("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + ROLE_PASSWORD + "'");
        } catch (SQLException e) {
            throw new IOException(e);
        }
        return server;
    }

    /** Starts the server again on its data directory (after {@link #stop}). */
    public void startServer() throws IOException, InterruptedException {
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-l",
                dir.resolve("postgres.log").toString(), "-w", "-t", "30", "-o",
                "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir
                        + " -c fsync=off -c deadlock_timeout=200ms -c max_connections=100", "start"), true);
    }

    /** pg_ctl stop with the given mode (fast, immediate). */
    public void stop(String mode) throws IOException, InterruptedException {
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", mode, "-w",
                "stop"), true);
    }

    /**
     * Sends {@code signal} (STOP, CONT) to this server's postmaster and its children, by pid: a
     * stopped server still accepts TCP connections in the kernel but answers nothing, as a hung
     * or unreachable database would.
     */
    public void signal(String signal) throws IOException, InterruptedException {
        String postmaster = Files.readAllLines(dir.resolve("data").resolve("postmaster.pid")).get(0).strip();
        List<String> pids = new ArrayList<>(List.of(postmaster));
        Process ps = new ProcessBuilder("ps", "-o", "pid=", "--ppid", postmaster).start();
        for (String line : new String(ps.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                pids.add(line.strip());
            }
        }
        ps.waitFor();
        run(List.of("kill", "-" + signal, postmaster), false);
        for (String child : pids.subList(1, pids.size())) {
            // A backend may end between ps and kill (one whose client went away): not an error.
            // (Once, a 'kill -CONT' of the whole list failed on such a pid and failed the test.)
            Process k = new ProcessBuilder("kill", "-" + signal, child).redirectErrorStream(true).start();
            String out = new String(k.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (k.waitFor() != 0 && !out.contains("No such process")) {
                throw new IOException("kill -" + signal + " " + child + " failed: " + out);
            }
        }
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
            throw new IOException(String.join(" ", full) + " failed: " + new String(out, StandardCharsets.UTF_8));
        }
    }

    public Connection superuser(String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", SUPERUSER);
        p.setProperty("password", SUPERUSER_PASSWORD);
        return DriverManager.getConnection(url(database), p);
    }

    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** A superuser connection to some server of a test (a {@link PostgresServer}, a cluster's primary). */
    @FunctionalInterface
    public interface Superuser {
        Connection connect() throws SQLException;
    }

    /**
     * Sets {@code synchronous_standby_names} on the server (null: back to its default) with ALTER
     * SYSTEM and a reload, and waits until a new session sees it: the server processes take a
     * reload a moment later.
     */
    public static void standbyNames(Superuser server, String names) throws SQLException, InterruptedException {
        try (Connection c = server.connect(); Statement st = c.createStatement()) {
            st.execute(names == null ? "ALTER SYSTEM RESET synchronous_standby_names"
                    : "ALTER SYSTEM SET synchronous_standby_names = '" + names + "'");
            st.execute("SELECT pg_reload_conf()");
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try (Connection c = server.connect(); Statement st = c.createStatement();
                 java.sql.ResultSet rs = st.executeQuery("SHOW synchronous_standby_names")) {
                rs.next();
                if (rs.getString(1).equals(names == null ? "" : names)) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                fail("the reload of synchronous_standby_names took effect");
            }
            Thread.sleep(50);
        }
    }

    /** A new empty database owned by {@link #ROLE}; returns its JDBC URL. */
    public String createDatabase() throws SQLException {
        String name = "tfd" + databases.incrementAndGet();
        try (Connection c = superuser("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name + " OWNER " + ROLE);
        }
        return url(name);
    }

    /** The role's login, as a daemon gets it. */
    public static Properties credentials() {
        Properties p = new Properties();
        p.setProperty("user", ROLE);
        p.setProperty("password", ROLE_PASSWORD);
        return p;
    }

    /** Config lines for a TestDaemon on {@code url}, with a password file written into {@code dir}. */
    public static void configure(TestDaemon daemon, String url, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path password = dir.resolve("postgres.password");
        if (!Files.exists(password)) {
            Files.writeString(password, ROLE_PASSWORD + "\n");
            Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
        }
        daemon.set("store", "postgresql").set("postgres_url", url).set("postgres_user", ROLE)
                .set("postgres_password_file", password.toString());
    }

    private void stopQuietly() {
        try {
            if (Files.exists(dir.resolve("data").resolve("postmaster.pid"))) {
                stop("immediate");
            }
        } catch (IOException | InterruptedException e) {
            // the JVM is ending: nothing more to do
        }
    }

    /** Stops the server and removes its directory. */
    @Override
    public void close() throws IOException {
        stopQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down
        }
        removeDirectory();
    }

    private void removeDirectory() {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | java.io.UncheckedIOException e) {
            // a temporary directory left behind: nothing else to do
        }
    }
}
