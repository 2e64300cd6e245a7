package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.TestDaemon;

/**
 * Every request x every kind of caller, with real uids, against the table in docs/security.md:
 * the table is written once, there, and this test reads it.
 */
class AuthorizationMatrixTest {
    static final String ADMINS = RealUsers.name("mx-admins");
    static final String VERIFIERS = RealUsers.name("mx-verifiers");
    static final String ADMIN = RealUsers.name("mx-admin");
    static final String LOGIN = RealUsers.name("mx-login");
    static final String ALICE = RealUsers.name("mx-alice");
    static final String BOB = RealUsers.name("mx-bob");
    /** Two resellers owning disjoint accounts, and one of those accounts owning a mail account. */
    static final String RESELLER1 = RealUsers.name("mx-r1");
    static final String RESELLER2 = RealUsers.name("mx-r2");
    static final String HOLDER = RealUsers.name("mx-holder");
    static final String ACCOUNT2 = RealUsers.name("mx-acct2");
    static final String MAILBOX = "box@example.com";
    static final String NO_ACCOUNT_UID = "54321";

    /**
     * A column of the table: who calls, whose name goes into {@code <user>}, whose into
     * {@code <me>}, and the person every request is made for ({@code as=}), or null.
     */
    record Caller(String column, String runAs, String target, String me, String as) {
        Caller(String column, String runAs, String target) {
            this(column, runAs, target, runAs, null);
        }
    }

    static final List<Caller> CALLERS = List.of(
            new Caller("root", "root", BOB),
            new Caller("admin", ADMIN, BOB),
            new Caller("verifier", LOGIN, BOB),
            new Caller("self, own name", ALICE, ALICE),
            new Caller("self, other's name", ALICE, BOB),
            new Caller("no account", NO_ACCOUNT_UID, BOB, BOB, null),
            new Caller("owner, its account", RESELLER1, HOLDER),
            new Caller("owner, another owner's account", RESELLER1, ACCOUNT2),
            new Caller("owner, own name", RESELLER1, RESELLER1),
            new Caller("owner, root", RESELLER1, "root"),
            new Caller("holder, its mail account", HOLDER, MAILBOX),
            new Caller("owner, its account's mail account", RESELLER1, MAILBOX),
            new Caller("admin as owner, its account", ADMIN, HOLDER, RESELLER1, RESELLER1),
            new Caller("admin as owner, another's account", ADMIN, ACCOUNT2, RESELLER1, RESELLER1),
            new Caller("admin as self, own name", ADMIN, ALICE, ALICE, ALICE),
            new Caller("admin as self, other's name", ADMIN, BOB, ALICE, ALICE),
            new Caller("self with as=", ALICE, HOLDER, RESELLER1, RESELLER1));

    /**
     * The owners file, as cPanel writes /etc/trueuserowners (a reseller listed as its own owner),
     * with a line that tries to give root away: it must count for nothing.
     */
    static String ownersFile() {
        return "# account: owner\n"
                + HOLDER + ": " + RESELLER1 + "\n"
                + ACCOUNT2 + ": " + RESELLER2 + "\n"
                + RESELLER1 + ": " + RESELLER1 + "\n"
                + RESELLER2 + ": root\n"
                + MAILBOX + ": " + HOLDER + "\n"
                + "root: " + RESELLER1 + "\n";
    }

    record Row(String request, List<Boolean> allowed) {
    }

    @BeforeAll
    static void accounts() throws Exception {
        RealUsers.requireRoot();
        RealUsers.group(ADMINS);
        RealUsers.group(VERIFIERS);
        RealUsers.user(ADMIN, ADMINS);
        RealUsers.user(LOGIN, VERIFIERS);
        RealUsers.user(ALICE);
        RealUsers.user(BOB);
        for (String name : List.of(RESELLER1, RESELLER2, HOLDER, ACCOUNT2)) {
            RealUsers.user(name);
        }
    }

    @AfterAll
    static void removeAccounts() throws Exception {
        if (TestDaemon.currentUid() != 0) {
            return;
        }
        RealUsers.removeAll(List.of(ADMIN, LOGIN, ALICE, BOB, RESELLER1, RESELLER2, HOLDER, ACCOUNT2),
                List.of(ADMINS, VERIFIERS));
    }

    /** The matrix as docs/security.md has it. */
    static List<Row> table() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("..", "docs", "security.md"));
        int header = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("| request |")) {
                header = i;
            }
        }
        assertTrue(header >= 0, "docs/security.md has the matrix");
        List<String> columns = cells(lines.get(header));
        assertEquals(CALLERS.stream().map(Caller::column).toList(), columns.subList(1, columns.size()));
        List<Row> rows = new ArrayList<>();
        for (int i = header + 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
            List<String> c = cells(lines.get(i));
            List<Boolean> allowed = new ArrayList<>();
            for (String v : c.subList(1, c.size())) {
                assertTrue(v.equals("yes") || v.equals("no"), "cell '" + v + "' in " + lines.get(i));
                allowed.add(v.equals("yes"));
            }
            rows.add(new Row(c.get(0).replace("`", ""), allowed));
        }
        return rows;
    }

    private static List<String> cells(String line) {
        List<String> out = new ArrayList<>();
        for (String cell : line.substring(1, line.lastIndexOf('|')).split("\\|")) {
            out.add(cell.strip());
        }
        return out;
    }

    @Test
    void everyRequestForEveryKindOfCallerIsAsDocumented() throws Exception {
        List<Row> rows = table();
        assertTrue(rows.size() >= 25, "every command is in the table");
        assertEquals("QUIT", rows.get(rows.size() - 1).request(), "QUIT closes the connection: it comes last");
        Path dir = Files.createTempDirectory("tfd-matrix");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path owners = dir.resolve("trueuserowners");
        Files.writeString(owners, ownersFile());
        Files.setPosixFilePermissions(owners, PosixFilePermissions.fromString("rw-r--r--"));
        List<String> mismatches = new ArrayList<>();
        try (TestDaemon daemon = new TestDaemon(dir).rootUid(0).set("socket_mode", "0666")
                .set("admin_group", ADMINS).set("verifier_group", VERIFIERS)
                .set("owners_file", owners.toString()).start()) {
            for (int col = 0; col < CALLERS.size(); col++) {
                Caller caller = CALLERS.get(col);
                List<String> requests = new ArrayList<>();
                for (Row row : rows) {
                    String request = row.request().replace("<user>", caller.target()).replace("<me>", caller.me());
                    requests.add(caller.as() == null ? request : request + " as=" + caller.as());
                }
                List<String> replies = RealUsers.talk(caller.runAs(), daemon.socket(), requests.toArray(String[]::new));
                assertEquals(requests.size(), replies.size(), caller + " got " + replies);
                for (int r = 0; r < rows.size(); r++) {
                    boolean forbidden = replies.get(r).startsWith("ERR forbidden");
                    if (forbidden == rows.get(r).allowed().get(col)) {
                        mismatches.add(caller.column() + " / " + requests.get(r) + " -> " + replies.get(r));
                    }
                }
            }
        } finally {
            RealUsers.sh("rm", "-rf", dir.toString());
        }
        assertEquals(List.of(), mismatches, "the daemon differs from docs/security.md");
    }
}
