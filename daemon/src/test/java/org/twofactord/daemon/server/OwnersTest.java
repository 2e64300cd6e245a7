package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.LogCapture;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.auth.Owners;
import org.twofactord.daemon.auth.UserDatabase;

/**
 * Owners (protocol 1.1) as a panel sees them: what an owner's USERS, REMOVE * and UNLOCK reach,
 * {@code as=} deciding as the person would, and the owners file changed under a running daemon
 * (added, moved, removed, deleted, unreadable, insecure, garbled): the next requests follow it
 * within the documented delay, nothing crashes, and denial is the default. The peer is this
 * process (root, or in dev mode the daemon's own uid): every owner request here is made with
 * {@code as=}, which is also what the authorization matrix checks with real uids.
 */
class OwnersTest {
    /** The documented delay (docs/operations.md): a change is followed within two seconds. */
    static final long FOLLOW_MS = 2 * Owners.CHECK_INTERVAL_MS;

    @TempDir
    Path dir;
    Path owners;
    LogCapture captured;

    @BeforeEach
    void capture() {
        captured = LogCapture.start(Owners.class, Level.DEBUG);
        owners = dir.resolve("trueuserowners");
    }

    @AfterEach
    void release() {
        captured.close();
    }

    private UserDatabase users() {
        return TestDaemon.fixedUsers(Map.of(TestDaemon.currentUid(), "root", 2001L, "r1", 2002L, "r2", 2003L, "alice",
                2004L, "bob", 2005L, "carol"), Map.of());
    }

    private TestDaemon daemon() throws Exception {
        write("alice: r1\nbob: r1\nr1: r1\ncarol: r2\nbox@example.com: alice\n");
        return new TestDaemon(dir.resolve("d")).users(users()).set("owners_file", owners.toString()).start();
    }

    private void write(String text) throws Exception {
        Path tmp = dir.resolve("owners.tmp");
        Files.writeString(tmp, text);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        Files.move(tmp, owners, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static List<String> names(String reply) {
        List<String> out = new ArrayList<>();
        for (JsonNode u : Json.of(reply).get("users")) {
            out.add(u.get("user").asText());
        }
        return out;
    }

    /** Waits until {@code request} gets a reply that {@code expected} accepts, within the documented delay. */
    private static String follows(Client c, String request, Predicate<String> expected) throws Exception {
        long deadline = System.nanoTime() + (FOLLOW_MS + 500) * 1_000_000L;
        String reply;
        do {
            reply = c.call(request);
            if (expected.test(reply)) {
                return reply;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(request + " still answered " + reply + " after " + FOLLOW_MS + " ms");
    }

    private static boolean forbidden(String reply) {
        return reply.startsWith("ERR forbidden");
    }

    @Test
    void anOwnerSeesAndResetsItsAccountsOnlyAndNeverItself() throws Exception {
        try (TestDaemon daemon = daemon(); Client c = daemon.client()) {
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            for (String name : List.of("alice", "bob", "carol", "r1")) {
                String secret = Json.of(c.call("ENROLL " + name)).get("secret").asText();
                assertTrue(c.call("CONFIRM " + name + " " + Totp.code(secret, daemon.clock, 0)).startsWith("OK"));
            }
            assertEquals(List.of("alice", "bob", "r1"), names(c.call("USERS as=r1")), "its accounts and itself");
            assertEquals(List.of("alice", "bob"), names(c.call("USERS owner=r1")), "root asks for a reseller's accounts");
            assertEquals("r1", Json.of(c.call("USER alice")).get("owner").asText());
            assertTrue(Json.of(c.call("USER r2")).get("owner").isNull());
            assertTrue(forbidden(c.call("USER carol as=r1")), "another reseller's account");
            assertTrue(forbidden(c.call("UNLOCK carol as=r1")));
            assertTrue(forbidden(c.call("REMOVE carol as=r1")));
            assertTrue(forbidden(c.call("REMOVE alice carol as=r1")), "one name it does not own refuses the request");
            assertTrue(forbidden(c.call("ENROLL alice as=r1")), "an owner cannot set up 2FA for an account");
            assertTrue(forbidden(c.call("BACKUP alice as=r1")));
            assertTrue(forbidden(c.call("USERS owner=r2 as=r1")));
            // On its own account a reseller is a self caller: the proof is needed, ownership gives nothing.
            c.expect("REMOVE r1 as=r1", "NO code-required");
            // REMOVE * except=: all it owns but that one; never itself.
            c.expect("REMOVE * except=bob as=r1", "OK {\"removed\":[\"alice\"],\"not_enrolled\":[]}");
            c.expect("REMOVE * as=r1", "OK {\"removed\":[\"bob\"],\"not_enrolled\":[]}");
            assertTrue(Json.of(c.call("USER r1")).get("enrolled").asBoolean(), "never itself");
            assertTrue(Json.of(c.call("USER carol")).get("enrolled").asBoolean(), "never another's");
            // The holder of alice's mail account: ownership is direct, a reseller does not reach it.
            assertEquals(List.of("alice", "box@example.com"), names(c.call("USERS as=alice")));
            assertTrue(forbidden(c.call("USER box@example.com as=r1")));
            assertTrue(c.call("USER box@example.com as=alice").startsWith("OK"));
        }
    }

    @Test
    void asDecidesAsThePersonWouldAndOnlyNarrows() throws Exception {
        try (TestDaemon daemon = daemon(); Client c = daemon.client()) {
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, 0));
            // Acting for alice, the panel must bring alice's proof, as alice would.
            c.expect("BACKUP alice as=alice", "NO code-required");
            c.expect("BACKUP alice code=000000 as=alice", "NO invalid");
            assertTrue(c.call("BACKUP alice as=alice code=" + Totp.code(secret, daemon.clock, 1)).startsWith("OK"));
            assertTrue(forbidden(c.call("POLICY DISABLE as=alice")));
            assertTrue(forbidden(c.call("STATS as=bob")));
            assertTrue(c.call("STATS as=root").startsWith("OK"), "as= root from root stays root");
            c.expect("USER alice as=alice as=bob", "ERR bad-request argument as= given twice");
            assertTrue(c.call("USER alice as=-x").startsWith("ERR bad-user"));
            // A person without a system account (a mail account) acts on its own name.
            assertTrue(c.call("USER box@example.com as=box@example.com").startsWith("OK"));
            assertTrue(forbidden(c.call("USER alice as=box@example.com")));
        }
    }

    @Test
    void theFileIsFollowedWhileTheDaemonRunsAndDenialIsTheDefault() throws Exception {
        try (TestDaemon daemon = daemon(); Client c = daemon.client()) {
            assertTrue(c.call("USER alice as=r1").startsWith("OK"));
            assertTrue(forbidden(c.call("USER dave as=r1")));
            // Added.
            write("alice: r1\nbob: r1\ncarol: r2\ndave: r1\n");
            follows(c, "USER dave as=r1", r -> r.startsWith("OK"));
            // Moved to another owner.
            write("alice: r2\nbob: r1\ncarol: r2\ndave: r1\n");
            follows(c, "USER alice as=r1", OwnersTest::forbidden);
            assertTrue(c.call("USER alice as=r2").startsWith("OK"));
            // Removed.
            write("bob: r1\ncarol: r2\n");
            follows(c, "USER dave as=r1", OwnersTest::forbidden);
            // Deleted: nobody owns anything.
            Files.delete(owners);
            follows(c, "USER bob as=r1", OwnersTest::forbidden);
            assertTrue(forbidden(c.call("USERS as=r1")));
            // Back, then made something the daemon cannot read: a directory in its place.
            write("bob: r1\n");
            follows(c, "USER bob as=r1", r -> r.startsWith("OK"));
            Files.delete(owners);
            Files.createDirectory(owners);
            follows(c, "USER bob as=r1", OwnersTest::forbidden);
            Files.delete(owners);
            // Writable by others: whoever could write it could make himself owner of anyone.
            write("bob: r1\n");
            follows(c, "USER bob as=r1", r -> r.startsWith("OK"));
            Files.setPosixFilePermissions(owners, PosixFilePermissions.fromString("rw-rw-rw-"));
            follows(c, "USER bob as=r1", OwnersTest::forbidden);
            // Garbled: the good lines count, the bad ones are named in the log and skipped.
            byte[] junk = {(byte) 0xff, (byte) 0xfe, 'x', ':', ' ', 'r', '1', '\n'};
            Path tmp = dir.resolve("garbled");
            Files.write(tmp, junk);
            Files.write(tmp, ("bob: r1\nno colon here\ncarol: r1\ncarol: r2\n: r1\nroot: r1\n"
                    + "x".repeat(300) + ": r1\n").getBytes(java.nio.charset.StandardCharsets.UTF_8),
                    java.nio.file.StandardOpenOption.APPEND);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, owners, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            follows(c, "USER bob as=r1", r -> r.startsWith("OK"));
            assertTrue(forbidden(c.call("USER carol as=r1")), "an account with two owners has none");
            assertTrue(forbidden(c.call("USER carol as=r2")));
            assertTrue(forbidden(c.call("USER root as=r1")), "root is never owned");
            c.expect("PING", "OK");
        }
        List<String> logged = captured.events().stream().map(ILoggingEvent::getFormattedMessage).toList();
        for (String line : List.of("line 1: not 'account: owner'", "line 3: not 'account: owner'",
                "line 5: carol has a second owner", "line 6: not 'account: owner'", "line 7: root is never owned",
                "line 8: not 'account: owner'", "does not exist", "cannot be read",
                "may be written by its group or others")) {
            assertTrue(logged.stream().anyMatch(l -> l.contains(line)), "the log names " + line + ": " + logged);
        }
        assertFalse(logged.stream().anyMatch(l -> l.contains("Exception")), "nothing crashed: " + logged);
    }
}
