package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/**
 * The command line run by an ordinary user (a real uid) on its own account: once enrolled,
 * changes need a code, which the CLI asks for, or takes from --code.
 */
class SelfServiceCliTest {
    static final String CAROL = RealUsers.name("carol");
    static Path shared;
    static String classpath;
    Path dir;
    TestDaemon daemon;

    @BeforeAll
    static void account() throws Exception {
        RealUsers.requireRoot();
        RealUsers.user(CAROL);
        // The test classpath lives partly under /root; copy it where another uid can read it.
        shared = Files.createTempDirectory("tfd-cli-cp");
        List<String> entries = new ArrayList<>();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int i = 0;
        for (String entry : cp.split(File.pathSeparator)) {
            Path source = Path.of(entry);
            if (!Files.exists(source)) {
                continue;
            }
            Path target = shared.resolve((i++) + "-" + source.getFileName());
            RealUsers.sh("cp", "-r", source.toString(), target.toString());
            entries.add(target.toString());
        }
        RealUsers.sh("chmod", "-R", "a+rX", shared.toString());
        classpath = String.join(File.pathSeparator, entries);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (TestDaemon.currentUid() != 0) {
            return;
        }
        if (shared != null) {
            RealUsers.sh("rm", "-rf", shared.toString());
        }
        RealUsers.removeUser(CAROL);
    }

    @BeforeEach
    void start() throws Exception {
        dir = Files.createTempDirectory("tfd-self");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        daemon = new TestDaemon(dir).rootUid(0).set("socket_mode", "0666").start();
        try (Client root = daemon.client()) {
            root.call("POLICY ENABLE");
        }
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        RealUsers.sh("rm", "-rf", dir.toString());
    }

    record Result(int exit, String out) {
    }

    private Result asCarol(String input, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + CAROL, "--regid=" + CAROL, "--init-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Duser.name=" + CAROL, "-cp", classpath, "org.twofactord.daemon.Main"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--socket", daemon.socket().toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).directory(dir.toFile()).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out);
    }

    /** A socket this user may not open: the message names the socket's group and what to do. */
    @Test
    void aSocketThatIsNotOursSaysWhichGroupToJoin() throws Exception {
        Files.setPosixFilePermissions(daemon.socket(), PosixFilePermissions.fromString("rw-rw----"));
        String group = Files.readAttributes(daemon.socket(), java.nio.file.attribute.PosixFileAttributes.class).group().getName();
        Result denied = asCarol("", "status");
        assertEquals(new Result(4, "twofactord: cannot connect to the daemon at " + daemon.socket() + ": permission denied: "
                + "you are not in the socket's group (" + group + "), or run as root\n"), denied);
    }

    @Test
    void anOrdinaryUserEnrolsThenProvesChangesWithACode() throws Exception {
        // Each enroll run makes a new secret, which a fixed standard input cannot answer; so root
        // enrols carol on the socket, and the CLI runs below are carol's own changes.
        String secret;
        try (Client root = daemon.client()) {
            secret = Json.of(root.call("ENROLL " + CAROL)).get("secret").asText();
            root.call("CONFIRM " + CAROL + " " + Totp.code(secret, daemon.clock, -1));
        }
        Result forbidden = asCarol("", "users");
        assertEquals(3, forbidden.exit(), forbidden.out());
        assertTrue(forbidden.out().contains("forbidden: USERS is for administrators"), forbidden.out());

        Result prompted = asCarol(Totp.code(secret, daemon.clock, 0) + "\n", "backup");
        assertEquals(0, prompted.exit(), prompted.out());
        assertTrue(prompted.out().contains("This account has two-factor authentication. Enter a current code or a backup code:"),
                prompted.out());
        assertTrue(prompted.out().contains("New backup codes for " + CAROL), prompted.out());

        Result noCode = asCarol("", "remove", CAROL);
        assertEquals(1, noCode.exit(), noCode.out());
        assertTrue(noCode.out().contains("a current code is needed"), noCode.out());

        Result wrong = asCarol("", "remove", CAROL, "--code", Totp.wrongCode(secret, daemon.clock));
        assertEquals(1, wrong.exit(), wrong.out());
        assertTrue(wrong.out().contains("the security code is invalid"), wrong.out());

        Result other = asCarol("", "remove", "root");
        assertEquals(3, other.exit(), other.out());

        Result removed = asCarol("", "remove", CAROL, "--code", Totp.code(secret, daemon.clock, 1));
        assertEquals(0, removed.exit(), removed.out());
        assertTrue(removed.out().contains("removed: " + CAROL), removed.out());

        // Enrolling again with no 2FA left: no code needed; with no code typed it stays pending.
        Result again = asCarol("", "enroll", "--no-qr");
        assertEquals(1, again.exit(), again.out());
        assertTrue(again.out().contains("account: "), again.out());
        try (Client root = daemon.client()) {
            assertTrue(Json.of(root.call("USER " + CAROL)).get("pending").asBoolean(), "enroll defaults to the caller's own name");
        }
    }
}
