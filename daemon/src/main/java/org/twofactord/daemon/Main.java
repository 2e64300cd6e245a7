package org.twofactord.daemon;

import org.twofactord.daemon.cli.TwofactordCommand;

/** The entry point: everything happens in {@link TwofactordCommand#run}, which returns the exit code. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(TwofactordCommand.run(args));
    }
}
