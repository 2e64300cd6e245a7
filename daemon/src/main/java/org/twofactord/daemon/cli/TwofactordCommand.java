package org.twofactord.daemon.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code twofactord} command. */
@Command(name = "twofactord", mixinStandardHelpOptions = true, versionProvider = TwofactordCommand.VersionProvider.class,
        description = "A two-factor authentication (TOTP) daemon for Linux servers, and its command line.",
        subcommands = {ServeCommand.class},
        footer = {"", "Exit codes: 0 ok, 1 no, 2 usage error, 3 forbidden, 4 daemon or store unavailable, 78 bad configuration."})
public final class TwofactordCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    /** Reports the jar's version. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"twofactord " + Version.get()};
        }
    }

    /** Runs the command line with the given streams and returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new TwofactordCommand());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExitCodeExceptionMapper(e -> ExitCodes.USAGE);
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
