package org.twofactord.daemon.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.twofactord.protocol.UserNames;
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
        footer = {"", "The client commands talk to the daemon's socket: --socket PATH, else $TWOFACTORD_SOCKET, else "
            + "/run/twofactord/twofactord.sock; --dev: the dev daemon of the checkout the command runs in "
            + "(.twofactord-dev/twofactord.sock here or in the nearest folder above). When it cannot connect, it says "
            + "which path it tried and why.",
            "A NAME is a user name: " + UserNames.RULE + "; a CODE one word. A wrong command line is found "
            + "before the daemon is asked, and said in one line.",
            "Exit codes: 0 ok (yes), 1 no (refused, or a wrong code), 2 usage error, 3 forbidden, "
            + "4 daemon or store unavailable (or an internal error of the command); serve: 74 accept kept failing, 75 a store write failed (restart it), 78 bad configuration."})
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
        cli.registerConverter(Path.class, TwofactordCommand::path);
        return cli;
    }

    /**
     * A file argument. One with a control character (a newline) or longer than the kernel takes
     * is refused here, so that every message naming a file stays one readable line.
     */
    static Path path(String text) {
        String problem = text.indexOf('\0') >= 0 ? "it contains a NUL character"
                : !ClientCommand.printable(text, Integer.MAX_VALUE).equals(text) ? "it contains a control character"
                : text.getBytes(StandardCharsets.UTF_8).length >= PATH_MAX ? "it is longer than " + PATH_MAX + " bytes"
                : null;
        if (problem != null) {
            throw new CommandLine.TypeConversionException("'" + ClientCommand.printable(text) + "' is not a path: " + problem);
        }
        return Path.of(text);
    }

    /** Linux's limit on a path (PATH_MAX). */
    static final int PATH_MAX = 4096;

    /** Every subcommand takes -h/--help (picocli adds them only where asked). */
    private static void addHelpOptions(CommandLine cli) {
        for (CommandLine sub : cli.getSubcommands().values()) {
            if (!sub.getCommandSpec().mixinStandardHelpOptions() && !sub.getCommandSpec().name().equals("help")) {
                sub.getCommandSpec().mixinStandardHelpOptions(true);
            }
            addHelpOptions(sub);
        }
    }

    /**
     * Runs the command the arguments name. An argument nothing took is an error even next to
     * --help (picocli would print the help and exit 0): "twofactord frobnicate --help" is a typo.
     */
    private static int execute(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (!p.unmatched().isEmpty()) {
                throw new CommandLine.UnmatchedArgumentException(p.commandSpec().commandLine(), p.unmatched());
            }
        }
        return new CommandLine.RunLast().execute(parsed);
    }

    /**
     * A wrong command line: one line on stderr, exit 2. The arguments are in picocli's messages as
     * given, so each is made printable there (a newline in one would start a second line).
     */
    static int usageError(CommandLine.ParameterException e, String[] args, PrintWriter err) {
        String message = oneLine(e.getMessage(), args);
        if (!(e instanceof ClientCommand.UsageError)) {
            message += " (see " + e.getCommandLine().getCommandSpec().qualifiedName() + " --help)";
        }
        err.println("twofactord: " + message);
        err.flush();
        return ExitCodes.USAGE;
    }

    /**
     * The last resort: an exception no command expected is one line, never a stack trace. A
     * rejected argument (IllegalArgumentException, as the client library throws) is a usage
     * error; anything else an internal error, exit 4 like the daemon's ERR internal.
     */
    static int unexpected(Exception e, String[] args, PrintWriter err) {
        if (e instanceof IllegalArgumentException) {
            err.println("twofactord: " + oneLine(e.getMessage(), args));
            err.flush();
            return ExitCodes.USAGE;
        }
        StackTraceElement where = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
        err.println("twofactord: internal error (" + e.getClass().getSimpleName()
                + (where == null ? "" : " at " + where.getFileName() + ":" + where.getLineNumber()) + ")"
                + (e.getMessage() == null ? "" : ": " + oneLine(e.getMessage(), args)) + "; please report it");
        err.flush();
        return ExitCodes.UNAVAILABLE;
    }

    /** A message on one printable line, each argument in it cut to a readable length. */
    static String oneLine(String message, String[] args) {
        String m = message == null ? "" : message;
        for (String arg : args) {
            if (!arg.isEmpty() && !ClientCommand.printable(arg).equals(arg)) {
                m = m.replace(arg, ClientCommand.printable(arg));
            }
        }
        return ClientCommand.printable(m.strip(), 2000);
    }

    /** Runs the command line with the given streams and returns the exit code. */
    public static int run(String[] args, Io io) {
        PrintWriter out = io.out;
        PrintWriter err = io.err;
        CommandLine cli = commandLine(io);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExitCodeExceptionMapper(e -> ExitCodes.USAGE);
        cli.setParameterExceptionHandler((e, given) -> usageError(e, given, err));
        cli.setExecutionExceptionHandler((e, command, parsed) -> unexpected(e, args, err));
        cli.setExecutionStrategy(TwofactordCommand::execute);
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }
}
