package org.twofactord.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    private Config load(String text, boolean dev) throws Exception {
        Path file = dir.resolve("twofactord.conf");
        Files.writeString(file, text);
        return ConfigLoader.load(new ConfigLoader.Flags(null, null, file, dev));
    }

    private String error(String text) throws Exception {
        Path file = dir.resolve("twofactord.conf");
        Files.writeString(file, text);
        return assertThrows(ConfigException.class,
                () -> ConfigLoader.load(new ConfigLoader.Flags(null, null, file, false))).getMessage();
    }

    @Test
    void defaultsWhenTheFileIsEmpty() throws Exception {
        Config c = load("# nothing set\n\n", false);
        assertEquals(Path.of("/run/twofactord/twofactord.sock"), c.socket());
        assertEquals(Path.of("/var/lib/twofactord"), c.stateDir());
        assertEquals(0666, c.socketMode());
        assertEquals(Optional.of("twofactord"), c.socketGroup());
        assertEquals("twofactord-admin", c.adminGroup());
        assertEquals("twofactord", c.verifierGroup());
        assertEquals(1, c.window());
        assertEquals(6, c.digits());
        assertEquals(5, c.maxFailures());
        assertEquals(60, c.lockoutS());
        assertEquals(30, c.idleTimeoutS());
        assertEquals(256, c.maxConnections());
        assertEquals(16, c.maxConnectionsPerUid());
        assertFalse(c.dev());
    }

    @Test
    void everyKeyIsRead() throws Exception {
        Config c = load(String.join("\n",
                "socket = /tmp/x/s.sock", "state_dir=/tmp/x/state", "socket_mode = 0660", "socket_group = wheel",
                "admin_group = admins", "verifier_group = logins", "window = 2", "digits = 8", "max_failures = 3",
                "lockout_s = 30", "idle_timeout_s = 5", "max_connections = 64", "max_connections_per_uid = 4", ""), false);
        assertEquals(Path.of("/tmp/x/s.sock"), c.socket());
        assertEquals(Path.of("/tmp/x/state"), c.stateDir());
        assertEquals(0660, c.socketMode());
        assertEquals(Optional.of("wheel"), c.socketGroup());
        assertTrue(c.socketGroupExplicit());
        assertEquals("admins", c.adminGroup());
        assertEquals("logins", c.verifierGroup());
        assertEquals(2, c.window());
        assertEquals(8, c.digits());
        assertEquals(3, c.maxFailures());
        assertEquals(30, c.lockoutS());
        assertEquals(5, c.idleTimeoutS());
        assertEquals(64, c.maxConnections());
        assertEquals(4, c.maxConnectionsPerUid());
    }

    @Test
    void anUnknownKeyNamesFileLineAndKey() throws Exception {
        String message = error("window = 1\n# comment\nwindw = 2\n");
        assertEquals(dir.resolve("twofactord.conf") + ":3: unknown key 'windw'", message);
    }

    @Test
    void badValuesNameFileLineAndKey() throws Exception {
        String file = dir.resolve("twofactord.conf").toString();
        assertEquals(file + ":1: digits: must be 6 or 8", error("digits = 7\n"));
        assertEquals(file + ":2: window: not a whole number: 'one'", error("\nwindow = one\n"));
        assertEquals(file + ":1: max_failures: must be between 1 and 100, not 0", error("max_failures = 0\n"));
        assertEquals(file + ":1: socket_mode: must be an octal mode such as 0660, not '0999'", error("socket_mode = 0999\n"));
        assertEquals(file + ":1: socket_mode: the owner must keep read and write (0600 at least)", error("socket_mode = 0066\n"));
        assertEquals(file + ":1: socket: must be an absolute path", error("socket = run/s.sock\n"));
        assertEquals(file + ":1: admin_group: not a valid group name: 'a b'", error("admin_group = a b\n"));
        assertEquals(file + ":1: expected 'key = value'", error("window\n"));
        assertEquals(file + ":2: key 'window' given twice (first on line 1)", error("window = 1\nwindow = 2\n"));
    }

    @Test
    void flagsOverrideTheFile() throws Exception {
        Path file = dir.resolve("twofactord.conf");
        Files.writeString(file, "socket = /tmp/a.sock\nstate_dir = /tmp/a\n");
        Config c = ConfigLoader.load(new ConfigLoader.Flags(Path.of("/tmp/b.sock"), Path.of("/tmp/b"), file, false));
        assertEquals(Path.of("/tmp/b.sock"), c.socket());
        assertEquals(Path.of("/tmp/b"), c.stateDir());
    }

    @Test
    void aNamedConfigFileMustExist() {
        Path missing = dir.resolve("missing.conf");
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(new ConfigLoader.Flags(null, null, missing, false)));
        assertEquals(missing + ": no such file", e.getMessage());
    }

    @Test
    void devModeKeepsEverythingInTheDevDirectoryWithAPrivateSocket() throws Exception {
        Config c = ConfigLoader.load(new ConfigLoader.Flags(null, null, null, true));
        Path devDir = Path.of(".twofactord-dev").toAbsolutePath().normalize();
        assertEquals(devDir, c.stateDir());
        assertEquals(devDir.resolve("twofactord.sock"), c.socket());
        assertEquals(0600, c.socketMode());
        assertEquals(Optional.empty(), c.socketGroup());
        assertTrue(c.dev());
        Config withDir = ConfigLoader.load(new ConfigLoader.Flags(null, dir, null, true));
        assertEquals(dir.resolve("twofactord.sock"), withDir.socket());
    }

    @Test
    void theStoreIsMapDbUnlessPostgresqlIsNamedWithItsUrl() throws Exception {
        assertEquals(Optional.empty(), load("", false).postgres());
        assertEquals(Optional.empty(), load("store = mapdb\npostgres_url = jdbc:postgresql://db/x\n", false).postgres());
        Config c = load("store = postgresql\npostgres_url = jdbc:postgresql://db.example:5432/tfd\n"
                + "postgres_password_file = /etc/twofactord/pg.password\n", false);
        assertEquals(new PostgresConfig("jdbc:postgresql://db.example:5432/tfd", "twofactord",
                Optional.of(Path.of("/etc/twofactord/pg.password"))), c.postgres().orElseThrow());
        assertTrue(error("\nstore = postgres\n").endsWith("twofactord.conf:2: store: must be one of mapdb, postgresql, "
                + "not 'postgres'"));
        assertTrue(error("store = postgresql\n").endsWith("twofactord.conf:1: store: postgresql needs postgres_url "
                + "(jdbc:postgresql://HOST:PORT/DATABASE)"));
        assertTrue(load("store = postgresql\npostgres_url = jdbc:postgresql://db/x\npostgres_synchronous = require\n",
                false).postgres().orElseThrow().requireSynchronous());
        assertFalse(load("store = postgresql\npostgres_url = jdbc:postgresql://db/x\npostgres_synchronous = warn\n",
                false).postgres().orElseThrow().requireSynchronous());
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x\npostgres_synchronous = yes\n")
                .endsWith("twofactord.conf:3: postgres_synchronous: must be one of warn, require, not 'yes'"));
        assertTrue(error("store = postgresql\npostgres_url = http://db/x\n").contains("twofactord.conf:2: postgres_url:"));
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x?password=hunter2\n")
                .endsWith("twofactord.conf:2: postgres_url: must not carry a password: put it in postgres_password_file"));
        // The daemon's own time limits and session options: a URL parameter would silently win.
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x?sslmode=require&socketTimeout=30\n")
                .endsWith("twofactord.conf:2: postgres_url: must not set socketTimeout: the daemon sets its own time "
                        + "limits (a request fails within the client's 5 s)"));
        for (String name : new String[] {"connectTimeout", "loginTimeout", "cancelSignalTimeout", "LOGINTIMEOUT",
                "socket%54imeout"}) {
            assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://a,b/x?" + name + "=9\n")
                    .contains("twofactord.conf:2: postgres_url: must not set "), name);
        }
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x?options=-c%20synchronous_commit%3Doff\n")
                .endsWith("postgres_url: must not set options: the daemon sets the session's options itself "
                        + "(statement and lock timeouts, synchronous_commit = on)"));
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x?user=postgres\n")
                .endsWith("postgres_url: must not set user: set postgres_user instead"));
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x?%zz=1\n")
                .endsWith("postgres_url: has a malformed %-escape in its parameters"));
        // What operators do set stays allowed (docs/operations.md's examples).
        assertEquals("jdbc:postgresql://db1:5432,db2:5432/tfd?targetServerType=primary&sslmode=verify-full"
                + "&sslrootcert=/etc/twofactord/db-ca.crt&tcpKeepAlive=true",
                load("store = postgresql\npostgres_url = jdbc:postgresql://db1:5432,db2:5432/tfd?targetServerType=primary"
                        + "&sslmode=verify-full&sslrootcert=/etc/twofactord/db-ca.crt&tcpKeepAlive=true\n", false)
                        .postgres().orElseThrow().url());
        assertTrue(error("store = postgresql\npostgres_url = jdbc:postgresql://db/x\npostgres_password_file = pw\n")
                .endsWith("twofactord.conf:3: postgres_password_file: must be an absolute path"));
    }
}
