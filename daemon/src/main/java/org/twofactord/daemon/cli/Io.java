package org.twofactord.daemon.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;

/** The streams a command talks to: passed in, so the whole CLI runs in-process in tests. */
public final class Io {
    final BufferedReader in;
    final PrintWriter out;
    final PrintWriter err;
    /** Whether a person is at a terminal (prompts and confirmations make sense). */
    final boolean interactive;

    public Io(BufferedReader in, PrintWriter out, PrintWriter err, boolean interactive) {
        this.in = in;
        this.out = out;
        this.err = err;
        this.interactive = interactive;
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
