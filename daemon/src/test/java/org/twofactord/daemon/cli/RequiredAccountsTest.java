package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.auth.UserDatabase;
import org.twofactord.daemon.store.PostgresServer;

/**
 * Accounts required one by one (REQUIRE, protocol 1.1) and by group ({@code require_group}):
 * CHECK and VERIFY under each policy mode with and without the mark, the mark across restarts,
 * {@code store export} and {@code store import}, on the store of one server and on PostgreSQL;
 * and the policy first: a self ENROLL waits for the policy to be switched on.
 */
class RequiredAccountsTest {
    static PostgresServer postgres;

    @TempDir
    Path dir;

    @BeforeAll
    static void startPostgres() throws Exception {
        postgres = PostgresServer.shared();
    }

    /**
     * dora is marked required, erin is not; neither has 2FA. Under disabled nobody is asked;
     * under optional dora is refused until she enrols, erin logs in; under required both are
     * refused. Leaves the policy optional.
     */
    private static void answersUnderEveryMode(Client c, String where) throws Exception {
        c.expect("POLICY DISABLE", "OK {\"mode\":\"disabled\",\"enabled\":false}");
        c.expect("CHECK dora", "OK {\"required\":false,\"reason\":\"policy-disabled\"}");
        c.expect("VERIFY dora 123456", "OK {\"method\":\"none\",\"reason\":\"policy-disabled\"}");
        c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
        assertEquals("NO enroll-required", c.call("CHECK dora"), where);
        c.expect("VERIFY dora 123456", "NO enroll-required");
        c.expect("CHECK erin", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
        c.expect("VERIFY erin 123456", "OK {\"method\":\"none\",\"reason\":\"not-enrolled\"}");
        c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
        c.expect("CHECK dora", "NO enroll-required");
        c.expect("CHECK erin", "NO enroll-required");
        c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
        JsonNode dora = Json.of(c.call("USER dora"));
        assertTrue(dora.get("required").asBoolean(), where);
        assertEquals("account", dora.get("required_by").asText());
        assertTrue(Json.of(c.call("USERS")).toString().contains("\"user\":\"dora\""), "USERS lists a marked account");
    }

    private Path config(String name, String text) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private Path postgresConfig(String url) throws Exception {
        Path password = dir.resolve("pg.password");
        if (!Files.exists(password)) {
            Files.writeString(password, PostgresServer.ROLE_PASSWORD + "\n");
            Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
        }
        return config("pg.conf", "store = postgresql\npostgres_url = " + url + "\npostgres_user = "
                + PostgresServer.ROLE + "\npostgres_password_file = " + password + "\n");
    }

    @Test
    void theMarkHoldsUnderEveryModeAcrossRestartsExportAndImportOnBothStores() throws Exception {
        TestDaemon one = new TestDaemon(dir.resolve("one")).start();
        try (Client c = one.client()) {
            String marked = c.call("REQUIRE dora");
            assertEquals("OK " + Json.of(c.call("USER dora")), marked, "REQUIRE answers with the USER object");
            c.expect("REQUIRE dora bogus", "ERR bad-request usage: REQUIRE <user> [on|off]");
            answersUnderEveryMode(c, "log store");
        }
        one.restart();
        try (Client c = one.client()) {
            answersUnderEveryMode(c, "log store, restarted");
        }
        one.stop();

        Path export = dir.resolve("one.json");
        Cli.Run out = Cli.run(null, "store", "export", export.toString(), "--config",
                config("one.conf", "store = mapdb\n").toString(), "--state-dir", one.stateDir().toString());
        assertEquals(0, out.exit(), out.err());
        assertTrue(out.out().contains("(1 accounts marked required)"), out.out());

        String url = postgres.createDatabase();
        TestDaemon fleet = new TestDaemon(dir.resolve("pg"));
        PostgresServer.configure(fleet, url, dir.resolve("pg"));
        Files.createDirectories(fleet.stateDir());
        Files.copy(one.stateDir().resolve("master.key"), fleet.stateDir().resolve("master.key"));
        Cli.Run in = Cli.run(null, "store", "import", export.toString(), "--config", postgresConfig(url).toString(),
                "--state-dir", fleet.stateDir().toString());
        assertEquals(0, in.exit(), in.err());
        fleet.start();
        try (Client c = fleet.client()) {
            answersUnderEveryMode(c, "PostgreSQL, imported");
            String marked = c.call("REQUIRE frank on");
            assertEquals("OK " + Json.of(c.call("USER frank")), marked);
            c.call("REQUIRE frank off");
            assertTrue(!Json.of(c.call("USER frank")).get("required").asBoolean(), "cleared");
        }
        fleet.restart();
        try (Client c = fleet.client()) {
            answersUnderEveryMode(c, "PostgreSQL, restarted");
            // Once dora enrols she is asked for her code like anyone; clearing the mark lets her go without.
            String secret = Json.of(c.call("ENROLL dora")).get("secret").asText();
            c.call("CONFIRM dora " + Totp.code(secret, fleet.clock, 0));
            c.expect("CHECK dora", "OK {\"required\":true}");
            c.call("REMOVE dora");
            c.expect("CHECK dora", "NO enroll-required"); // REMOVE leaves the mark: it is the account's
            c.call("REQUIRE dora off");
            c.expect("CHECK dora", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
            c.call("REQUIRE dora");
        }
        fleet.stop();

        Path back = dir.resolve("back.json");
        Cli.Run out2 = Cli.run(null, "store", "export", back.toString(), "--config", postgresConfig(url).toString(),
                "--state-dir", fleet.stateDir().toString());
        assertEquals(0, out2.exit(), out2.err());
        TestDaemon two = new TestDaemon(dir.resolve("two"));
        Files.createDirectories(two.stateDir());
        Files.copy(one.stateDir().resolve("master.key"), two.stateDir().resolve("master.key"));
        Cli.Run in2 = Cli.run(null, "store", "import", back.toString(), "--config",
                config("two.conf", "store = mapdb\n").toString(), "--state-dir", two.stateDir().toString());
        assertEquals(0, in2.exit(), in2.err());
        two.start();
        try (Client c = two.client()) {
            answersUnderEveryMode(c, "log store, imported back");
        } finally {
            two.stop();
        }
    }

    @Test
    void membersOfRequireGroupMustEnrol() throws Exception {
        long me = TestDaemon.currentUid();
        UserDatabase users = TestDaemon.fixedUsers(Map.of(me, "root", 3001L, "frank", 3002L, "gina"),
                Map.of("must2fa", new UserDatabase.Group("must2fa", 4000, Set.of("frank"))));
        try (TestDaemon d = new TestDaemon(dir.resolve("g")).users(users).set("require_group", "must2fa").start();
             Client c = d.client()) {
            c.expect("CHECK frank", "OK {\"required\":false,\"reason\":\"policy-disabled\"}");
            c.call("POLICY ENABLE");
            c.expect("CHECK frank", "NO enroll-required");
            c.expect("CHECK gina", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
            JsonNode frank = Json.of(c.call("USER frank"));
            assertTrue(frank.get("required").asBoolean());
            assertEquals("group", frank.get("required_by").asText());
            assertTrue(Json.of(c.call("USER gina")).get("required_by").isNull());
        }
    }

    @Test
    void aSelfEnrolmentWaitsForThePolicyButAnAdministratorMayPrepare() throws Exception {
        long me = TestDaemon.currentUid();
        UserDatabase users = TestDaemon.fixedUsers(Map.of(me, "root", 3001L, "alice"), Map.of());
        try (TestDaemon d = new TestDaemon(dir.resolve("p")).users(users).start(); Client c = d.client()) {
            c.expect("ENROLL alice as=alice", "NO policy-disabled");
            assertTrue(c.call("ENROLL alice").startsWith("OK {\"user\":\"alice\""), "an administrator prepares");
            assertTrue(c.call("IMPORT bob JBSWY3DPEHPK3PXPJBSWY3DP").startsWith("OK"), "and imports");
            c.call("POLICY ENABLE");
            assertTrue(c.call("ENROLL alice as=alice").startsWith("OK {\"user\":\"alice\""));
        }
    }
}
