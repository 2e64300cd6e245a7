package org.twofactord.daemon;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.twofactord.daemon.cli.TwofactordCommand;

/** The entry point: everything happens in {@link TwofactordCommand#run}, which returns the exit code. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(TwofactordCommand.run(args, new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8)));
    }
}
