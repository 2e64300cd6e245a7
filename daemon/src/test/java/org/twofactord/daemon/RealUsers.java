package org.twofactord.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real accounts and processes with other uids, for the tests of peer credentials. These need
 * root: on a developer's machine without root they are skipped; in CI (CI=true, run as root)
 * they must run, so there a missing root fails instead.
 */
public final class RealUsers {
    private RealUsers() {
    }

    public static void requireRoot() {
        boolean root = TestDaemon.currentUid() == 0;
        if ("true".equals(System.getenv("CI"))) {
            assertEquals(0, TestDaemon.currentUid(), "CI runs as root: tests of real uids must not be skipped");
        }
        assumeTrue(root, "needs root to create users and run processes as them");
    }

    /** Runs a command, failing the test if it fails; returns its standard output. */
    public static String sh(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    private static boolean exists(String db, String name) throws InterruptedException, IOException {
        return new ProcessBuilder("getent", db, name).start().waitFor() == 0;
    }

    public static void group(String name) throws IOException, InterruptedException {
        if (!exists("group", name)) {
            sh("groupadd", name);
        }
    }

    /** Creates a system account (no home, no login shell) in the given supplementary groups. */
    public static void user(String name, String... groups) throws IOException, InterruptedException {
        if (!exists("passwd", name)) {
            sh("useradd", "-M", "-s", "/usr/sbin/nologin", name);
        }
        if (groups.length > 0) {
            sh("usermod", "-G", String.join(",", groups), name);
        }
    }

    public static void removeUser(String name) throws IOException, InterruptedException {
        if (exists("passwd", name)) {
            sh("userdel", name);
        }
    }

    public static void removeGroup(String name) throws IOException, InterruptedException {
        if (exists("group", name)) {
            sh("groupdel", name);
        }
    }

    /**
     * Sends {@code lines} to the socket from a process running as {@code user} (socat under setpriv,
     * groups as the user database says) and returns the reply lines.
     */
    public static List<String> talk(String user, Path socket, String... lines) throws IOException, InterruptedException {
        Process p = start(user, socket);
        p.getOutputStream().write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(30, TimeUnit.SECONDS);
        return out.isEmpty() ? List.of() : new ArrayList<>(Arrays.asList(out.split("\n")));
    }

    /** Starts socat as {@code user}, connected to the socket, standard input open. */
    public static Process start(String user, Path socket) throws IOException {
        // A numeric uid stands for a process whose uid has no account: no groups to load.
        boolean numeric = user.chars().allMatch(Character::isDigit);
        return new ProcessBuilder("setpriv", "--reuid=" + user, "--regid=" + (numeric ? user : primaryGroup(user)),
                numeric ? "--clear-groups" : "--init-groups", "socat", "-t", "10", "-", "UNIX-CONNECT:" + socket)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static String primaryGroup(String user) {
        return user.equals("nobody") ? "nogroup" : user;
    }
}
