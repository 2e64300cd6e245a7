package org.twofactord.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Real accounts and processes with other uids, for the tests of peer credentials. These need
 * root: on a developer's machine without root they are skipped; in CI (CI=true, run as root)
 * they must run, so there a missing root fails instead.
 *
 * <p>Every account a test makes is named {@code tfdt-RUN-ROLE} ({@link #name}): the prefix marks
 * it as a test's, RUN keeps two runs on one machine (two developers, or CI beside one) from
 * sharing or deleting each other's accounts. The accounts are removed by the tests that made
 * them and, should a test class never get to its cleanup, when the test JVM exits. Accounts of
 * the daemon's own ({@code twofactord}, {@code twofactord-admin}) are never made here: a test that
 * needs the roles points admin_group and verifier_group at groups of its own.
 */
public final class RealUsers {
    /** The first part of every account name a test makes (scripts/host-snapshot knows it too). */
    public static final String PREFIX = "tfdt-";
    /** This run's part of the names: TFD_TEST_RUN from run-tests, else one for this JVM. */
    public static final String RUN = runId();
    private static final Set<String> madeUsers = new LinkedHashSet<>();
    private static final Set<String> madeGroups = new LinkedHashSet<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(RealUsers::removeLeftovers, "real-users-cleanup"));
    }

    private RealUsers() {
    }

    private static String runId() {
        String fromRun = System.getenv("TFD_TEST_RUN");
        if (fromRun != null && Pattern.matches("[a-z0-9]{1,10}", fromRun)) {
            return fromRun;
        }
        return "j" + Long.toString(ProcessHandle.current().pid(), 36);
    }

    /** The account name for {@code role} in this run: {@code tfdt-RUN-role}, at most 32 characters. */
    public static String name(String role) {
        String name = PREFIX + RUN + "-" + role;
        if (name.length() > 32 || !Pattern.matches("[a-z][-a-z0-9]*", name)) {
            throw new IllegalArgumentException("not a usable account name: " + name);
        }
        return name;
    }

    private static void requireTestName(String name) {
        if (!name.startsWith(PREFIX + RUN + "-")) {
            throw new IllegalArgumentException("tests make only accounts named by RealUsers.name(): " + name);
        }
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
        requireTestName(name);
        if (!exists("group", name)) {
            synchronized (RealUsers.class) {
                madeGroups.add(name);
            }
            sh("groupadd", name);
        }
    }

    /** Creates a system account (no home, no login shell) in the given supplementary groups. */
    public static void user(String name, String... groups) throws IOException, InterruptedException {
        requireTestName(name);
        if (!exists("passwd", name)) {
            synchronized (RealUsers.class) {
                madeUsers.add(name);
            }
            // -U: a group of the user's own name (primaryGroup relies on it), removed by userdel.
            sh("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", name);
        }
        if (groups.length > 0) {
            sh("usermod", "-G", String.join(",", groups), name);
        }
    }

    public static void removeUser(String name) throws IOException, InterruptedException {
        requireTestName(name);
        if (exists("passwd", name)) {
            sh("userdel", name);
        }
        // userdel leaves the user's own group if another account joined it meanwhile.
        if (exists("group", name)) {
            sh("groupdel", name);
        }
        synchronized (RealUsers.class) {
            madeUsers.remove(name);
        }
    }

    public static void removeGroup(String name) throws IOException, InterruptedException {
        requireTestName(name);
        if (exists("group", name)) {
            sh("groupdel", name);
        }
        synchronized (RealUsers.class) {
            madeGroups.remove(name);
        }
    }

    /**
     * Removes every user, then every group (a group that is still someone's primary group cannot
     * go first); tries them all, then throws the first failure.
     */
    public static void removeAll(List<String> users, List<String> groups) throws IOException, InterruptedException {
        IOException first = null;
        for (String u : users) {
            try {
                removeUser(u);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        for (String g : groups) {
            try {
                removeGroup(g);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The shutdown hook's backstop: whatever a test class made and did not get to remove. */
    private static void removeLeftovers() {
        List<String> users;
        List<String> groups;
        synchronized (RealUsers.class) {
            users = List.copyOf(madeUsers);
            groups = List.copyOf(madeGroups);
        }
        if (users.isEmpty() && groups.isEmpty()) {
            return;
        }
        System.err.println("RealUsers: removing accounts a test left behind: " + users + " " + groups);
        try {
            removeAll(users, groups);
        } catch (IOException | InterruptedException e) {
            System.err.println("RealUsers: could not remove them all: " + e.getMessage());
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
