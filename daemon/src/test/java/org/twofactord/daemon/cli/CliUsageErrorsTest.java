package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;

/**
 * A wrong command line is one line on stderr that names the argument and what is wrong with it,
 * exit 2, found before anything is sent: never a stack trace, never the daemon's protocol error.
 */
class CliUsageErrorsTest {
    static final String RULE = ": 1-128 of A-Z a-z 0-9 . _ @ + -, not starting with . or -\n";

    @TempDir
    Path dir;
    TestDaemon daemon;
    Path socket;

    @BeforeEach
    void start() throws Exception {
        daemon = new TestDaemon(dir).start();
        socket = daemon.socket();
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    private void usage(String expectedErr, Cli.Run run) {
        assertEquals(new Cli.Run(2, "", expectedErr), run);
    }

    @Test
    void aBadUserNameIsAUsageErrorThatSaysWhichAndWhy() {
        for (String command : List.of("enroll", "remove", "backup", "unlock", "user", "require", "unrequire")) {
            usage("twofactord: NAME 'bob smith' is not a valid user name (it contains a space)" + RULE,
                    Cli.run(socket, command, "bob smith"));
            usage("twofactord: NAME 'jürgen' is not a valid user name (it contains 'ü')" + RULE,
                    Cli.run(socket, command, "jürgen"));
            usage("twofactord: NAME '.alice' is not a valid user name (it starts with .)" + RULE,
                    Cli.run(socket, command, ".alice"));
        }
        usage("twofactord: NAME 'alice?PING' is not a valid user name (it contains a line break)" + RULE,
                Cli.run(socket, "user", "alice\nPING"));
        usage("twofactord: NAME 'bob smith' is not a valid user name (it contains a space)" + RULE,
                Cli.run(socket, "remove", "alice", "bob smith"));
        usage("twofactord: NAME 'alice smith' is not a valid user name (it contains a space)" + RULE,
                Cli.run(socket, "verify", "alice smith", "123456"));
        usage("twofactord: --as 'a b' is not a valid user name (it contains a space)" + RULE,
                Cli.run(socket, "status", "--as", "a b"));
        usage("twofactord: --owner '' is not a valid user name (it is empty)" + RULE,
                Cli.run(socket, "users", "--owner", ""));
        usage("twofactord: --except '-x' is not a valid user name (it starts with -)" + RULE,
                Cli.run(socket, "remove", "--all", "--yes", "--except=-x"));
    }

    @Test
    void aBadCodeIsAUsageErrorThatSaysWhichAndWhy() {
        String rule = ": a code is one word, the digits the app shows or a backup code\n";
        usage("twofactord: CODE '123 456' is not a code (it contains a space)" + rule,
                Cli.run(socket, "verify", "alice", "123 456"));
        usage("twofactord: --code '' is not a code (it is empty)" + rule,
                Cli.run(socket, "backup", "alice", "--code", ""));
        usage("twofactord: --code '1?2' is not a code (it contains a space or control character)" + rule,
                Cli.run(socket, "remove", "alice", "--code", "1\n2"));
    }

    @Test
    void aTimeoutIsOneSecondToAnHour() {
        usage("twofactord: --timeout '0' is not 1 to 3600 seconds\n", Cli.run(socket, "status", "--timeout", "0"));
        usage("twofactord: --timeout '-5' is not 1 to 3600 seconds\n", Cli.run(socket, "policy", "--timeout=-5"));
        usage("twofactord: --timeout '3601' is not 1 to 3600 seconds\n", Cli.run(socket, "users", "--timeout", "3601"));
        assertEquals(0, Cli.run(socket, "status", "--timeout", "1").exit());
    }

    @Test
    void theIssuerIsOneLine() {
        usage("twofactord: issuer set: TEXT 'Acme?PING' has a line break or another control character; "
                + "the issuer is one line of text\n", Cli.run(socket, "issuer", "set", "Acme\nPING"));
    }

    /** With no daemon at all: a wrong command line is still exit 2, not 4 (unavailable). */
    @Test
    void usageErrorsAreFoundBeforeConnecting() {
        daemon.close();
        usage("twofactord: policy is one of enable, disable, require, not 'bogus'\n", Cli.run(socket, "policy", "bogus"));
        usage("twofactord: name at least one user, or --all\n", Cli.run(socket, "remove"));
        usage("twofactord: --except goes with --all\n", Cli.run(socket, "remove", "alice", "--except", "bob"));
        usage("twofactord: remove --all needs --yes when not run on a terminal\n", Cli.run(socket, "remove", "--all"));
        usage("twofactord: usage: twofactord issuer [set TEXT | reset]\n", Cli.run(socket, "issuer", "frob"));
        usage("twofactord: NAME 'a b' is not a valid user name (it contains a space)" + RULE, Cli.run(socket, "user", "a b"));
    }

    @Test
    void anUnknownCommandIsOneLineEvenWithHelp() {
        String unknown = "twofactord: Unmatched argument at index 0: 'frobnicate' (see twofactord --help)\n";
        usage(unknown, Cli.run(null, "frobnicate", "--help"));
        usage(unknown, Cli.run(null, "frobnicate"));
        usage("twofactord: Unknown subcommand 'frob'. (see twofactord --help)\n", Cli.run(null, "help", "frob"));
        Cli.Run option = Cli.run(null, "status", "--frob\nPING");
        assertEquals(2, option.exit());
        assertEquals(1, option.err().split("\n", -1).length - 1, option.err());
        assertTrue(option.err().contains("'--frob?PING'"), option.err());
        Cli.Run path = Cli.run(null, "enroll", "--png", "a\0b");
        assertEquals(new Cli.Run(2, "", "twofactord: Invalid value for option '--png': 'a?b' is not a path: it contains a NUL "
                + "character (see twofactord enroll --help)\n"), path);
    }

    @Test
    void anUnexpectedExceptionIsOneLine() {
        StringWriter err = new StringWriter();
        int exit = TwofactordCommand.unexpected(new IllegalStateException("broken\n\tat somewhere"), new String[0],
                new PrintWriter(err, true));
        assertEquals(ExitCodes.UNAVAILABLE, exit);
        assertTrue(err.toString().matches("twofactord: internal error \\(IllegalStateException at CliUsageErrorsTest"
                + "\\.java:\\d+\\): broken\\?\\?at somewhere; please report it\n"), err.toString());
        StringWriter bad = new StringWriter();
        assertEquals(ExitCodes.USAGE, TwofactordCommand.unexpected(new IllegalArgumentException("a request is one line"),
                new String[0], new PrintWriter(bad, true)));
        assertEquals("twofactord: a request is one line\n", bad.toString());
    }
}
