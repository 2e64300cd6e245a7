package org.twofactord.daemon.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorException;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A subcommand that talks to the daemon through {@link TwoFactorClient}. Maps every outcome to
 * one of the documented exit codes and a message a person can act on.
 */
abstract class ClientCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH",
            description = "The daemon's socket (default: $TWOFACTORD_SOCKET, else /run/twofactord/twofactord.sock; "
                    + "dev mode: .twofactord-dev/twofactord.sock).")
    Path socket;

    @Option(names = "--dev", description = "Talk to the dev-mode daemon started from this directory "
            + "(.twofactord-dev/twofactord.sock).")
    boolean dev;

    @Option(names = "--as", paramLabel = "NAME", description = "Make every request for this person (administrators: "
            + "a panel acting for the reseller or account holder it serves); the daemon decides as if NAME had asked.")
    String as;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long to wait for the daemon (default: ${DEFAULT-VALUE}).")
    int timeoutS;

    /** What the command does once connected; returns the exit code. */
    abstract int run(TwoFactorClient client, Io io) throws IOException;

    @Override
    public final Integer call() {
        Io io = ((TwofactordCommand) spec.root().userObject()).io();
        if (as != null && !org.twofactord.protocol.UserNames.isValid(as)) {
            io.err.println("twofactord: --as: '" + printable(as) + "' is not a valid user name "
                    + "(1-128 of A-Z a-z 0-9 . _ @ + -, not starting with . or -)");
            io.err.flush();
            return ExitCodes.USAGE;
        }
        Path path = socketPath();
        try (TwoFactorClient client = TwoFactorClient.connect(path, Duration.ofSeconds(timeoutS))) {
            return as == null ? run(client, io) : client.actingAs(as, c -> run(c, io));
        } catch (TwoFactorException e) {
            return report(io, e.reply());
        } catch (IOException e) {
            io.err.println("twofactord: cannot talk to the daemon at " + path + ": " + describe(e));
            io.err.flush();
            return ExitCodes.UNAVAILABLE;
        }
    }

    /** A user-supplied word made safe to print on one line. */
    static String printable(String text) {
        StringBuilder sb = new StringBuilder();
        text.codePoints().limit(64).forEach(c -> sb.append(c < ' ' || c == 0x7f ? "?" : Character.toString(c)));
        return sb.append(text.codePointCount(0, text.length()) > 64 ? "..." : "").toString();
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    Path socketPath() {
        if (socket != null) {
            return socket;
        }
        if (dev) {
            return org.twofactord.daemon.config.Config.DEV_DIR.resolve(org.twofactord.daemon.config.Config.SOCKET_NAME);
        }
        String env = System.getenv("TWOFACTORD_SOCKET");
        return env != null && !env.isBlank() ? Path.of(env) : TwoFactorClient.DEFAULT_SOCKET;
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
