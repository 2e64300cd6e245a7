package org.twofactord.daemon.cli;

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs the twofactord command line in-process with given input, capturing output and exit code. */
final class Cli {
    record Run(int exit, String out, String err) {
    }

    private Cli() {
    }

    /** Answers prompts: given the output so far, the next line typed (null: end of input). */
    interface Typist {
        String next(String outputSoFar);
    }

    static Run run(Path socket, String input, boolean interactive, String... args) {
        BufferedReader lines = new BufferedReader(new StringReader(input));
        return run(socket, out -> {
            try {
                return lines.readLine();
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }, interactive, args);
    }

    static Run run(Path socket, Typist typist, boolean interactive, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of(args));
        if (socket != null && all.size() > 0 && !all.contains("--help")) {
            all.add("--socket");
            all.add(socket.toString());
        }
        BufferedReader in = new BufferedReader(new StringReader("")) {
            @Override
            public String readLine() {
                return typist.next(out.toString());
            }
        };
        int exit = TwofactordCommand.run(all.toArray(String[]::new), new Io(in,
                new PrintWriter(out, true), new PrintWriter(err, true), interactive));
        org.twofactord.daemon.Client.remember(out.toString().replace("\n", " ").contains("key:")
                ? "\"secret\":\"" + out.toString().replaceAll("(?s).*key: +([A-Z2-7 ]+)\n.*", "$1").replace(" ", "") + "\""
                : null);
        org.twofactord.daemon.Client.remember("\"backup_codes\":" + out);
        return new Run(exit, out.toString(), err.toString());
    }

    static Run run(Path socket, String... args) {
        return run(socket, "", false, args);
    }

    /** Runs with this working directory and environment (and no --socket added). */
    static Run runIn(Path workingDir, java.util.Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = TwofactordCommand.run(args, new Io(new BufferedReader(new StringReader("")), new PrintWriter(out, true),
                new PrintWriter(err, true), false, workingDir, env));
        return new Run(exit, out.toString(), err.toString());
    }
}
