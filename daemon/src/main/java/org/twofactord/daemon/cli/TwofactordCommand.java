package org.twofactord.daemon.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code twofactord} command. */
@Command(name = "twofactord", mixinStandardHelpOptions = true, versionProvider = TwofactordCommand.VersionProvider.class,
        description = "A two-factor authentication (TOTP) daemon for Linux servers, and its command line.",
        subcommands = {ServeCommand.class, ReadCommands.Status.class, ReadCommands.Policy.class, ReadCommands.Issuer.class,
            ReadCommands.Users.class, ReadCommands.User.class, ChangeCommands.Enroll.class, ChangeCommands.Remove.class,
            ChangeCommands.Backup.class, ChangeCommands.Unlock.class, ChangeCommands.Require.class,
            ChangeCommands.Unrequire.class, ChangeCommands.Verify.class, ReadCommands.Stats.class,
            ImportCommand.class, StoreCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "The client commands talk to the daemon's socket: --socket PATH, or $TWOFACTORD_SOCKET "
            + "(dev mode: --socket .twofactord-dev/twofactord.sock).",
            "Exit codes: 0 ok (yes), 1 no (refused, or a wrong code), 2 usage error, 3 forbidden, "
            + "4 daemon or store unavailable; serve: 74 accept kept failing, 75 a store write failed (restart it), 78 bad configuration."})
public final class TwofactordCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private final Io io;

    TwofactordCommand(Io io) {
        this.io = io;
    }

    Io io() {
        return io;
    }

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

    /** Runs the command line with the process's streams; whether it is interactive comes from the console. */
    public static int run(String[] args) {
        return run(args, new Io(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)),
                new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8), System.console() != null));
    }

    /** The command model: what --help prints, the man page and the completion script are made from. */
    static CommandLine commandLine(Io io) {
        CommandLine cli = new CommandLine(new TwofactordCommand(io));
        addHelpOptions(cli);
        return cli;
    }

    /** Every subcommand takes -h/--help (picocli adds them only where asked). */
    private static void addHelpOptions(CommandLine cli) {
        for (CommandLine sub : cli.getSubcommands().values()) {
            if (!sub.getCommandSpec().mixinStandardHelpOptions() && !sub.getCommandSpec().name().equals("help")) {
                sub.getCommandSpec().mixinStandardHelpOptions(true);
            }
            addHelpOptions(sub);
        }
    }

    /** Runs the command line with the given streams and returns the exit code. */
    public static int run(String[] args, Io io) {
        PrintWriter out = io.out;
        PrintWriter err = io.err;
        CommandLine cli = commandLine(io);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExitCodeExceptionMapper(e -> ExitCodes.USAGE);
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
