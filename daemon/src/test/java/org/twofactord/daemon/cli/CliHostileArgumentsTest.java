package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.protocol.UserNames;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every subcommand, found in the command model (a new one is covered without a change here),
 * fed hostile words as each positional argument and as the value of each option, with a daemon
 * and without one: no stack trace, no "Exception" anywhere, at most one line on stderr, and a
 * documented exit code (2 when the word is a user name that is not one).
 */
class CliHostileArgumentsTest {
    static final List<String> HOSTILE = List.of("bob smith", "alice\nPING", "al\0ice", "jürgen", "\u202Eevil",
            "\u05e9\u05dc\u05d5\u05dd", "\uD83D\uDD10", "x".repeat(10_000), "", " ", "-", "a\u2028b");

    @TempDir
    Path dir;
    final List<String> failures = new ArrayList<>();

    /** The leaf commands and their paths from the root ("store export"), from the picocli model. */
    static Map<List<String>, CommandLine> commands() {
        Map<List<String>, CommandLine> all = new java.util.LinkedHashMap<>();
        collect(TwofactordCommand.commandLine(new Io(null, null, null, false)), List.of(), all);
        return all;
    }

    private static void collect(CommandLine cmd, List<String> path, Map<List<String>, CommandLine> all) {
        all.put(path, cmd);
        for (var sub : cmd.getSubcommands().entrySet()) {
            if (sub.getValue().getCommandSpec().name().equals(sub.getKey())) { // not an alias
                List<String> next = new ArrayList<>(path);
                next.add(sub.getKey());
                collect(sub.getValue(), next, all);
            }
        }
    }

    @Test
    void everyCommandTakesHostileArgumentsWithADaemon() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir.resolve("daemon")).start()) {
            daemon.client().call("POLICY ENABLE");
            feedEveryCommand(daemon.socket());
        }
    }

    @Test
    void everyCommandTakesHostileArgumentsWithoutADaemon() throws Exception {
        feedEveryCommand(dir.resolve("no-daemon.sock"));
    }

    private void feedEveryCommand(Path socket) throws Exception {
        Path sandbox = Files.createDirectories(dir.resolve("sandbox"));
        Path emptyConfig = Files.writeString(dir.resolve("empty.conf"), "");
        int runs = 0;
        for (var entry : commands().entrySet()) {
            List<String> path = entry.getKey();
            CommandLine.Model.CommandSpec spec = entry.getValue().getCommandSpec();
            for (String word : HOSTILE) {
                // As each positional argument in turn (the ones before it a plain word), and as two.
                int positionals = Math.max(1, spec.positionalParameters().size());
                for (int at = 0; at < positionals; at++) {
                    List<String> args = new ArrayList<>();
                    for (int i = 0; i < at; i++) {
                        args.add("alice");
                    }
                    args.add(word);
                    check(path, spec, args, at, word, socket, sandbox, emptyConfig);
                    runs++;
                }
                check(path, spec, List.of(word, word), 0, word, socket, sandbox, emptyConfig);
                // serve would run: with a hostile --config it serves the default socket (as root, in CI).
                if (path.equals(List.of("serve"))) {
                    continue;
                }
                for (OptionSpec option : spec.options()) {
                    if (option.arity().max() > 0 && !option.usageHelp() && !option.versionHelp()) {
                        check(path, spec, List.of(option.longestName(), pathLike(option, word, sandbox)), option, word,
                                socket, sandbox, emptyConfig);
                        runs++;
                    }
                }
            }
        }
        assertTrue(runs > 300, "every command was fed: " + runs);
        assertEquals(List.of(), failures, failures.size() + " of " + runs + " runs went wrong:\n" + String.join("\n", failures));
    }

    /** A hostile file name, under the sandbox, so that a command that writes it writes there. */
    private static String pathLike(CommandLine.Model.ArgSpec arg, String word, Path sandbox) {
        return arg.type() == Path.class && !word.isEmpty() && word.indexOf('\0') < 0 && word.length() < 200
                ? sandbox.resolve(word.replace('/', '_')).toString() : word;
    }

    private void check(List<String> path, CommandLine.Model.CommandSpec spec, List<String> hostile, int positional,
            String word, Path socket, Path sandbox, Path emptyConfig) {
        check(path, spec, hostile, null, positional, word, socket, sandbox, emptyConfig);
    }

    private void check(List<String> path, CommandLine.Model.CommandSpec spec, List<String> hostile, OptionSpec option,
            String word, Path socket, Path sandbox, Path emptyConfig) {
        check(path, spec, hostile, option, -1, word, socket, sandbox, emptyConfig);
    }

    /** Runs one command line; the hostile word is the value of {@code option}, or the positional at that index. */
    private void check(List<String> path, CommandLine.Model.CommandSpec spec, List<String> hostile, OptionSpec option,
            int positional, String word, Path socket, Path sandbox, Path emptyConfig) {
        List<String> args = new ArrayList<>(path);
        for (int i = 0; i < hostile.size(); i++) {
            String value = hostile.get(i);
            boolean positionalPath = option == null && i < spec.positionalParameters().size()
                    && spec.positionalParameters().get(i).type() == Path.class;
            args.add(positionalPath ? pathLike(spec.positionalParameters().get(i), value, sandbox) : value);
        }
        // Keep every command to this test's files: the socket, a state directory and a configuration.
        sandboxOption(spec, option, args, "--socket", socket.toString());
        sandboxOption(spec, option, args, "--state-dir", sandbox.resolve("state").toString());
        sandboxOption(spec, option, args, "--config", emptyConfig.toString());
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        // What a library prints on the process's own streams (ImageIO's stack traces) counts too.
        ByteArrayOutputStream process = new ByteArrayOutputStream();
        PrintStream systemOut = System.out;
        PrintStream systemErr = System.err;
        int exit;
        try (PrintStream capture = new PrintStream(process, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            System.setErr(capture);
            exit = TwofactordCommand.run(args.toArray(String[]::new), new Io(new BufferedReader(new StringReader("")),
                    new PrintWriter(out, true), new PrintWriter(err, true), false));
        } finally {
            System.setOut(systemOut);
            System.setErr(systemErr);
        }
        out.write(process.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> !l.matches("\\d\\d:\\d\\d:\\d\\d\\.\\d+ (INFO|WARN) .*")).collect(Collectors.joining("\n")));
        String what = String.join(" ", args).replace("\n", "\\n").replace("\0", "\\0");
        what = what.length() > 200 ? what.substring(0, 200) + "..." : what;
        String all = out + "\n" + err;
        long errLines = err.toString().chars().filter(c -> c == '\n').count();
        String label = option != null ? option.paramLabel() : positional < spec.positionalParameters().size()
                ? spec.positionalParameters().get(positional).paramLabel() : "";
        boolean isName = ClientCommand.NAME.equals(label) && !UserNames.isValid(word);
        boolean isCode = ClientCommand.CODE.equals(label) && ClientCommand.codeProblem(word) != null;
        String wrong = all.contains("Exception") || all.contains("\tat ") ? "a stack trace or exception name"
                : !List.of(0, 1, 2, 3, 4).contains(exit) ? "exit " + exit + ", not a documented exit code"
                : errLines > 1 || (errLines == 0 && !err.toString().isEmpty()) ? "stderr is not one line"
                : exit > 1 && errLines == 0 ? "exit " + exit + " without a word on stderr"
                : err.toString().length() > 1000 ? "stderr is too long to read"
                : (isName || isCode) && spec.userObject() instanceof ClientCommand && exit != 2
                ? "a bad " + label + " is exit 2, not " + exit : null;
        if (wrong != null) {
            failures.add(what + ": " + wrong + ": exit " + exit + ": " + ClientCommand.printable(err.toString(), 300));
        }
    }

    private static void sandboxOption(CommandLine.Model.CommandSpec spec, OptionSpec tested, List<String> args, String name,
            String value) {
        if (spec.findOption(name) != null && (tested == null || !tested.longestName().equals(name))) {
            args.add(name);
            args.add(value);
        }
    }
}
