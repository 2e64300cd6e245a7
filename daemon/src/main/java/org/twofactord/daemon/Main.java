package org.twofactord.daemon;

import ch.qos.logback.classic.LoggerContext;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.cli.TwofactordCommand;

/** The entry point: everything happens in {@link TwofactordCommand#run}, which returns the exit code. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        int status = TwofactordCommand.run(args);
        // Log lines are written by a background thread (logback.xml): let it finish first.
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
            context.stop();
        }
        System.exit(status);
    }
}
