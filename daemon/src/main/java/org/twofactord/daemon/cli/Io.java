package org.twofactord.daemon.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/**
 * The streams a command talks to, and where it runs (working directory, environment): passed
 * in, so the whole CLI runs in-process in tests.
 */
public final class Io {
    final BufferedReader in;
    final PrintWriter out;
    final PrintWriter err;
    /** Whether a person is at a terminal (prompts and confirmations make sense). */
    final boolean interactive;
    /** Where --dev starts looking for the checkout's dev daemon. */
    final Path workingDir;
    /** The environment ($TWOFACTORD_SOCKET). */
    final Map<String, String> env;

    /** The process's working directory and environment. */
    public Io(BufferedReader in, PrintWriter out, PrintWriter err, boolean interactive) {
        this(in, out, err, interactive, Path.of(System.getProperty("user.dir")), System.getenv());
    }

    public Io(BufferedReader in, PrintWriter out, PrintWriter err, boolean interactive, Path workingDir,
            Map<String, String> env) {
        this.in = in;
        this.out = out;
        this.err = err;
        this.interactive = interactive;
        this.workingDir = workingDir;
        this.env = Map.copyOf(env);
    }

    /** Prints the prompt on the output and reads one line; null at end of input. */
    String ask(String prompt) throws IOException {
        out.print(prompt);
        out.flush();
        String line = in.readLine();
        if (!interactive) {
            out.println(); // the answer was not echoed: end the prompt's line
        }
        return line == null ? null : line.strip();
    }
}
