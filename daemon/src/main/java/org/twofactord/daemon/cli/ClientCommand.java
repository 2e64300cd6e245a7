package org.twofactord.daemon.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Callable;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorException;
import org.twofactord.protocol.UserNames;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A subcommand that talks to the daemon through {@link TwoFactorClient}. Maps every outcome to
 * one of the documented exit codes and a message a person can act on.
 */
abstract class ClientCommand implements Callable<Integer> {
    /**
     * The label of every argument that is a user name: each is checked here before connecting,
     * for every client command, so a bad one is a usage error that names it.
     */
    static final String NAME = "NAME";
    /** The label of every argument that is a code: one word, checked the same way. */
    static final String CODE = "CODE";
    static final int MAX_CODE_LENGTH = 64;

    @Spec
    CommandSpec spec;

    /** The environment variable naming the socket when --socket is not given. */
    static final String SOCKET_ENV = "TWOFACTORD_SOCKET";

    @Option(names = "--socket", paramLabel = "PATH",
            description = "The daemon's socket (default: $" + SOCKET_ENV + ", else /run/twofactord/twofactord.sock).")
    Path socket;

    @Option(names = "--dev", description = "Talk to the dev-mode daemon of this checkout: "
            + ".twofactord-dev/twofactord.sock in the working directory or the nearest folder above it "
            + "(so it works from any folder of the checkout).")
    boolean dev;

    @Option(names = "--as", paramLabel = NAME, description = "Make every request for this person (administrators: "
            + "a panel acting for the reseller or account holder it serves); the daemon decides as if NAME had asked.")
    String as;

    /** The longest --timeout: an hour (a request the daemon takes longer on is not coming). */
    static final int MAX_TIMEOUT_S = 3600;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long to wait for the daemon, 1 to 3600 seconds (default: ${DEFAULT-VALUE}).")
    int timeoutS;

    /** The socket this command is connected to (set once connected). */
    Path socketInUse;

    /** What the command does once connected; returns the exit code. */
    abstract int run(TwoFactorClient client, Io io) throws IOException;

    /**
     * Checks what picocli cannot before anything is sent, throwing {@link UsageError}; a command
     * line that is wrong is exit 2 whether or not the daemon runs.
     */
    void validate() {
    }

    @Override
    public final Integer call() {
        Io io = ((TwofactordCommand) spec.root().userObject()).io();
        checkNamesAndCodes();
        if (timeoutS < 1 || timeoutS > MAX_TIMEOUT_S) {
            // 0 would be read as "1 ms" by the socket, a negative as an error far from here.
            throw new UsageError(spec.commandLine(), "--timeout '" + timeoutS + "' is not 1 to " + MAX_TIMEOUT_S
                    + " seconds");
        }
        validate();
        Path path;
        try {
            path = socketPath(io);
        } catch (DaemonSocket.NotFound e) {
            io.err.println("twofactord: " + e.getMessage());
            io.err.flush();
            return ExitCodes.UNAVAILABLE;
        }
        TwoFactorClient connected;
        try {
            connected = TwoFactorClient.connect(path, Duration.ofSeconds(timeoutS));
        } catch (TwoFactorException e) {
            return report(io, e.reply());
        } catch (IOException e) {
            io.err.println(DaemonSocket.whyUnreachable(path, e, dev && socket == null, timeoutS));
            io.err.flush();
            return ExitCodes.UNAVAILABLE;
        }
        socketInUse = path;
        try (TwoFactorClient client = connected) {
            return as == null ? run(client, io) : client.actingAs(as, c -> run(c, io));
        } catch (TwoFactorException e) {
            return report(io, e.reply());
        } catch (FileSystemException e) {
            // A file the command line named (import's FILE, enroll's --png), not the daemon.
            io.err.println("twofactord: " + printable(String.valueOf(e.getFile()), 300) + ": " + fileProblem(e));
            io.err.flush();
            return ExitCodes.USAGE;
        } catch (IOException e) {
            io.err.println("twofactord: lost the daemon at " + printable(path.toString(), 300) + ": "
                    + printable(describe(e), 300));
            io.err.flush();
            return ExitCodes.UNAVAILABLE;
        }
    }

    /** Every argument labelled {@link #NAME} must be a user name, every one labelled {@link #CODE} a code. */
    private void checkNamesAndCodes() {
        for (ArgSpec arg : spec.args()) {
            boolean name = NAME.equals(arg.paramLabel());
            if (!name && !CODE.equals(arg.paramLabel())) {
                continue;
            }
            Object value = arg.getValue();
            Collection<?> values = value instanceof Collection<?> many ? many : value == null ? List.of() : List.of(value);
            for (Object v : values) {
                String word = String.valueOf(v);
                String problem = name ? UserNames.problem(word) : codeProblem(word);
                if (problem != null) {
                    String which = arg instanceof OptionSpec option ? option.longestName() : arg.paramLabel();
                    throw new UsageError(spec.commandLine(), which + " '" + printable(word) + "' is not "
                            + (name ? "a valid user name (" + problem + "): " + UserNames.RULE
                            : "a code (" + problem + "): a code is one word, the digits the app shows or a backup code"));
                }
            }
        }
    }

    /** Why a code cannot go on the wire as one word, or null. */
    static String codeProblem(String code) {
        if (code.isEmpty()) {
            return "it is empty";
        }
        if (code.length() > MAX_CODE_LENGTH) {
            return "it is longer than " + MAX_CODE_LENGTH + " characters";
        }
        if (code.codePoints().anyMatch(c -> c <= ' ' || Character.isWhitespace(c) || !visible(c))) {
            return code.indexOf(' ') >= 0 ? "it contains a space" : "it contains a space or control character";
        }
        return null;
    }

    /** A usage error found by a command itself: its message is printed as it is (exit 2). */
    static final class UsageError extends ParameterException {
        private static final long serialVersionUID = 1L;

        UsageError(CommandLine commandLine, String message) {
            super(commandLine, message);
        }
    }

    /** A user-supplied word made safe to print on one line. */
    static String printable(String text) {
        return printable(text, 64);
    }

    /**
     * The text with every control, format or line-separating character as {@code ?} (a newline
     * would start a line of its own, a right-to-left override turn the rest around) and cut
     * after {@code max} characters.
     */
    static String printable(String text, int max) {
        StringBuilder sb = new StringBuilder();
        text.codePoints().limit(max).forEach(c -> sb.append(visible(c) ? Character.toString(c) : "?"));
        return sb.append(text.codePointCount(0, text.length()) > max ? "..." : "").toString();
    }

    private static boolean visible(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                    Character.SURROGATE, Character.UNASSIGNED, Character.PRIVATE_USE -> false;
            default -> true;
        };
    }

    private static String fileProblem(FileSystemException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "it exists already";
        }
        if (e instanceof NotDirectoryException) {
            return "not a directory";
        }
        return printable(e.getReason() != null ? e.getReason() : describe(e), 300);
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** --socket, else --dev's, else $TWOFACTORD_SOCKET, else the system daemon's. */
    Path socketPath(Io io) throws DaemonSocket.NotFound {
        if (socket != null) {
            return socket;
        }
        if (dev) {
            return DaemonSocket.dev(io.workingDir);
        }
        String env = io.env.get(SOCKET_ENV);
        if (env != null && !env.isBlank()) {
            try {
                return TwofactordCommand.path(env);
            } catch (CommandLine.TypeConversionException e) {
                throw new UsageError(spec.commandLine(), "$" + SOCKET_ENV + ": " + e.getMessage());
            }
        }
        return TwoFactorClient.DEFAULT_SOCKET;
    }

    /** Prints a NO or ERR reply as a message and returns its exit code. */
    static int report(Io io, Reply reply) {
        if (reply.kind() == Reply.Kind.NO) {
            io.err.println("twofactord: no: " + Messages.reason(reply.word()));
            io.err.flush();
            return ExitCodes.NO;
        }
        io.err.println("twofactord: " + reply.word() + ": " + reply.message());
        io.err.flush();
        return switch (reply.word()) {
            case ErrorCodes.FORBIDDEN -> ExitCodes.FORBIDDEN;
            case ErrorCodes.UNAVAILABLE, ErrorCodes.BUSY, ErrorCodes.INTERNAL -> ExitCodes.UNAVAILABLE;
            default -> ExitCodes.USAGE;
        };
    }

    /** Prints the JSON body of an OK reply unchanged, or the reply as a message. */
    static int printJson(Io io, Reply reply) {
        if (!reply.isOk()) {
            return report(io, reply);
        }
        io.out.println(reply.body() == null ? "{}" : reply.body().toString());
        return ExitCodes.OK;
    }
}
