package org.twofactord.daemon.cli;

import org.twofactord.protocol.Keys;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import static org.twofactord.daemon.cli.ClientCommand.printable;
import org.twofactord.protocol.TwoFactorException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The commands that change state: enroll, remove, backup, unlock; and verify for scripts. */
final class ChangeCommands {
    private static final String CODE_HELP = "A current code or an unused backup code, when you change your own account "
            + "that already has 2FA (asked for if needed and not given).";

    private ChangeCommands() {
    }

    static String currentUser() {
        return System.getProperty("user.name");
    }

    @Command(name = "enroll", description = {"Set up two-factor authentication: shows a QR code (and the account and key) "
            + "for an authenticator app, asks for a code from the app, and prints the backup codes.",
        "Until the code is confirmed, any existing configuration stays in force."})
    static final class Enroll extends ClientCommand {
        @Parameters(arity = "0..1", paramLabel = "NAME", description = "The user (default: yourself).")
        String name;

        @Option(names = "--png", paramLabel = "FILE", description = "Also write the QR code to FILE, a new PNG file "
                + "of mode 0600 (it holds the secret); an existing file is not overwritten.")
        Path png;

        @Option(names = "--code", paramLabel = "CODE", description = CODE_HELP)
        String code;

        @Option(names = "--no-qr", description = "Do not draw the QR code in the terminal.")
        boolean noQr;

        static final int TRIES = 3;

        @Override
        void validate() {
            if (png == null) {
                return;
            }
            if (Files.exists(png, LinkOption.NOFOLLOW_LINKS)) {
                throw new UsageError(spec.commandLine(), "--png: " + printable(png.toString(), 300) + " exists; it is "
                        + "not overwritten (the QR code holds the secret): name a new file");
            }
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                throw new UsageError(spec.commandLine(), "--png: there is no directory " + printable(parent.toString(), 300));
            }
        }

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            String user = name != null ? name : currentUser();
            TwoFactorClient.Enrollment e = Proof.run(io, code, proof -> client.enroll(user, proof));
            var matrix = Qr.matrix(e.otpauthUrl());
            if (!noQr) {
                io.out.println("Scan this QR code with your authenticator app:");
                io.out.println();
                io.out.print(Qr.halfBlocks(matrix));
                io.out.println();
            }
            if (png != null) {
                Qr.png(matrix, png);
                io.out.println("QR code written to " + png + " (mode 0600: it holds the secret; delete it once scanned)");
            }
            io.out.println("Or enter it by hand:");
            io.out.println("  account: " + e.issuer() + ":" + e.account());
            // Whole, not in groups of four: so that it can be pasted into oathtool -b or an app.
            io.out.println("  key:     " + e.secret());
            io.out.println("  type:    time-based, " + e.digits() + " digits, every " + e.period() + " s, " + e.algorithm());
            io.out.println();
            for (int attempt = 1; attempt <= TRIES; attempt++) {
                String typed = io.ask("Enter the " + e.digits() + "-digit code from the app: ");
                if (typed == null) {
                    io.err.println("twofactord: no code given; the enrolment stays pending for "
                            + e.expiresInS() / 60 + " minutes");
                    return ExitCodes.NO;
                }
                String typedCode = typed.replace(" ", "");
                if (codeProblem(typedCode) != null) {
                    io.err.println("The security code is invalid. Type the code the app shows now.");
                    io.err.flush();
                    continue;
                }
                Reply reply = client.call(Commands.CONFIRM + " " + user + " " + typedCode);
                if (reply.isOk()) {
                    io.out.println();
                    io.out.println("Two-factor authentication is on for " + user + ". Backup codes (each works once):");
                    for (JsonNode b : reply.body().path(Keys.BACKUP_CODES)) {
                        io.out.println("  " + b.asText());
                    }
                    io.out.println("Keep these backup codes somewhere safe: they let you in if you lose your phone.");
                    return ExitCodes.OK;
                }
                if (!Reasons.INVALID.equals(reply.word())) {
                    return report(io, reply);
                }
                io.err.println("The security code is invalid." + skewAdvice(reply.body()));
                io.err.flush();
            }
            return ExitCodes.NO;
        }

        static String skewAdvice(ObjectNode body) {
            if (body == null || !body.has(Keys.CLOCK_SKEW_S)) {
                return " Type the code the app shows now.";
            }
            long skew = body.get(Keys.CLOCK_SKEW_S).asLong();
            return " It matches a time " + Math.abs(skew) + " seconds " + (skew > 0 ? "ahead of" : "behind")
                    + " this server's clock: check the time on the phone and the server's time synchronisation "
                    + "(timedatectl).";
        }
    }

    @Command(name = "remove", description = {"Remove two-factor authentication from users (WHM's reset).",
        "--all removes every user but yourself, and asks first unless --yes."})
    static final class Remove extends ClientCommand {
        @Parameters(arity = "0..*", paramLabel = "NAME", description = "The users.")
        List<String> names = new ArrayList<>();

        @Option(names = "--all", description = "Every user except the one running this command (administrators; "
                + "an owner: every account it owns).")
        boolean all;

        @Option(names = "--except", paramLabel = "NAME", description = "With --all: spare this account too.")
        String except;

        @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation.")
        boolean yes;

        @Option(names = "--code", paramLabel = "CODE", description = CODE_HELP)
        String code;

        @Override
        void validate() {
            if (all && !names.isEmpty()) {
                throw new UsageError(spec.commandLine(), "give either --all or names, not both");
            }
            if (!all && names.isEmpty()) {
                throw new UsageError(spec.commandLine(), "name at least one user, or --all");
            }
            if (!all && except != null) {
                throw new UsageError(spec.commandLine(), "--except goes with --all");
            }
            if (all && !yes && !((TwofactordCommand) spec.root().userObject()).io().interactive) {
                throw new UsageError(spec.commandLine(), "remove --all needs --yes when not run on a terminal");
            }
        }

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            ObjectNode body;
            if (all) {
                if (!yes) {
                    String answer = io.ask("Remove two-factor authentication from every user except "
                            + currentUser() + "? Type 'yes' to go on: ");
                    if (!"yes".equals(answer)) {
                        io.err.println("twofactord: nothing removed");
                        return ExitCodes.NO;
                    }
                }
                body = except == null ? client.removeAll() : client.removeAllExcept(except);
            } else {
                body = Proof.run(io, code, proof -> client.remove(names, proof));
            }
            List<String> removed = new ArrayList<>();
            body.path(Keys.REMOVED).forEach(n -> removed.add(n.asText()));
            List<String> none = new ArrayList<>();
            body.path(Keys.NOT_ENROLLED).forEach(n -> none.add(n.asText()));
            io.out.println("removed: " + (removed.isEmpty() ? "nobody" : String.join(" ", removed)));
            if (!none.isEmpty()) {
                io.out.println("had no 2FA: " + String.join(" ", none));
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "backup", description = "Replace a user's backup codes with ten new ones; the old ones stop working.")
    static final class Backup extends ClientCommand {
        @Parameters(arity = "0..1", paramLabel = "NAME", description = "The user (default: yourself).")
        String name;

        @Option(names = "--code", paramLabel = "CODE", description = CODE_HELP)
        String code;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            String user = name != null ? name : currentUser();
            List<String> codes = Proof.run(io, code, proof -> client.backup(user, proof));
            io.out.println("New backup codes for " + user + " (each works once; the old ones no longer work):");
            codes.forEach(c -> io.out.println("  " + c));
            io.out.println("Keep these backup codes somewhere safe.");
            return ExitCodes.OK;
        }
    }

    @Command(name = "unlock", description = "Clear a user's failures and lockout (administrators).")
    static final class Unlock extends ClientCommand {
        @Parameters(paramLabel = "NAME", description = "The user.")
        String name;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            client.unlock(name);
            io.out.println("unlocked: " + name);
            return ExitCodes.OK;
        }
    }

    @Command(name = "require", description = {"Mark accounts required (administrators): each must set up two-factor "
        + "authentication before it may log in, even while the policy is only 'enable' (not while it is 'disable').",
        "The mark stays when the account's 2FA is removed; 'unrequire' clears it."})
    static final class Require extends ClientCommand {
        @Parameters(arity = "1..*", paramLabel = "NAME", description = "The accounts.")
        List<String> names = new ArrayList<>();

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            return mark(client, io, names, true);
        }
    }

    @Command(name = "unrequire", description = "Clear the required mark of accounts (administrators); the policy decides again.")
    static final class Unrequire extends ClientCommand {
        @Parameters(arity = "1..*", paramLabel = "NAME", description = "The accounts.")
        List<String> names = new ArrayList<>();

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            return mark(client, io, names, false);
        }
    }

    private static int mark(TwoFactorClient client, Io io, List<String> names, boolean on) throws IOException {
        for (String name : names) {
            TwoFactorClient.UserInfo u = client.require(name, on);
            io.out.println((on ? "required: " : "not required: ") + name
                    + (on && u.enrolled() ? " (already enrolled)" : "")
                    + (!on && u.required() ? " (still required by require_group)" : ""));
        }
        return ExitCodes.OK;
    }

    /** A NO reply as JSON: {"result":"no","reason":WORD} and whatever fields the reply had. */
    static String noAsJson(Reply reply) {
        ObjectNode json = Reply.object();
        json.put("result", "no");
        json.put(Keys.REASON, reply.word());
        if (reply.body() != null) {
            json.setAll(reply.body());
        }
        return json.toString();
    }

    @Command(name = "verify", description = {"Check a code as a login would (verifiers): exit 0 if accepted, 1 if not.",
        "An accepted code is used up, as at a real login."})
    static final class Verify extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The user.")
        String name;

        @Parameters(index = "1", paramLabel = "CODE", description = "The code (or a backup code).")
        String code;

        @Option(names = "--json", description = "Print the reply as JSON: on yes the daemon's unchanged "
                + "({\"method\":\"totp\"}, {\"method\":\"backup\",\"backup_codes_left\":9}, "
                + "{\"method\":\"none\",\"reason\":\"not-enrolled\"}), on no {\"result\":\"no\",\"reason\":WORD} "
                + "with the reply's fields (\"retry_after\" when locked); the exit code is the same as without --json.")
        boolean json;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply reply = client.call(Commands.VERIFY + " " + name + " " + code + " service=twofactord-cli");
            if (reply.kind() == Reply.Kind.ERR) {
                throw new TwoFactorException(reply);
            }
            if (json) {
                io.out.println(reply.isOk() ? (reply.body() == null ? "{}" : reply.body().toString()) : noAsJson(reply));
            } else if (reply.isOk()) {
                String method = reply.body().path(Keys.METHOD).asText();
                io.out.println("yes: " + switch (method) {
                    case "totp" -> "the code is accepted";
                    case "backup" -> "backup code accepted, " + reply.body().path(Keys.BACKUP_CODES_LEFT).asInt() + " left";
                    default -> "no second factor in force (" + reply.body().path(Keys.REASON).asText() + ")";
                });
            } else {
                io.out.println("no: " + Messages.reason(reply.word())
                        + (reply.body() != null && reply.body().has(Keys.RETRY_AFTER)
                        ? "; try again in " + reply.body().get(Keys.RETRY_AFTER).asLong() + " s" : ""));
            }
            return reply.isOk() ? ExitCodes.OK : ExitCodes.NO;
        }
    }
}
