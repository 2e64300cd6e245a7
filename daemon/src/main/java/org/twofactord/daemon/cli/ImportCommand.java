package org.twofactord.daemon.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.UserNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code twofactord import}: bring users over from google-authenticator-libpam or pam_oath, with
 * their existing secrets, so their phone apps keep working. Administrators only (the daemon's
 * IMPORT command).
 */
@Command(name = "import", description = {"Import users from google-authenticator or pam_oath (administrators).",
    "Their authenticator apps keep working; google-authenticator scratch codes become backup codes.",
    "Options that cannot be honoured are reported; users that cannot be imported are skipped with the reason, "
        + "and the exit code is then 1. A last line says how many were imported and skipped; on a terminal, "
        + "a count shows how far it has got."},
        subcommands = {ImportCommand.GoogleAuthenticator.class, ImportCommand.PamOath.class})
final class ImportCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                "say what to import from: google-authenticator or pam-oath");
    }

    /**
     * Sends the found users and prints what needs a person's attention (users skipped, options
     * not honoured) and a summary line; on a terminal, how far it has got meanwhile. 0 if all
     * were imported.
     */
    static int importAll(TwoFactorClient client, Io io, Importers.Result result) throws IOException {
        int imported = 0;
        int failed = 0;
        List<String> report = new ArrayList<>();
        try (Progress progress = new Progress(io, "users imported", result.found().size())) {
            for (Importers.Found f : result.found()) {
                progress.step();
                if (!UserNames.isValid(f.user())) {
                    report.add("skipped " + f.user() + ": not a valid user name");
                    failed++;
                    continue;
                }
                StringBuilder line = new StringBuilder(Commands.IMPORT).append(' ').append(f.user()).append(' ')
                        .append(f.base32Secret());
                f.backupCodes().forEach(c -> line.append(' ').append(c));
                line.append(' ').append(Commands.ARG_DIGITS).append(f.digits());
                Reply reply = client.call(line.toString());
                if (reply.isOk()) {
                    imported++;
                    f.notes().forEach(n -> report.add("note: " + f.user() + ": " + n));
                } else {
                    report.add("skipped " + f.user() + ": " + (reply.kind() == Reply.Kind.ERR ? reply.message()
                            : Messages.reason(reply.word())));
                    failed++;
                    if (reply.kind() == Reply.Kind.ERR && reply.word().equals("forbidden")) {
                        progress.close();
                        report.forEach(io.out::println);
                        io.out.flush();
                        return ExitCodes.FORBIDDEN;
                    }
                }
            }
        }
        for (Importers.Skipped s : result.skipped()) {
            report.add("skipped " + s.what() + ": " + s.why());
            failed++;
        }
        report.forEach(io.out::println);
        io.out.println("imported " + imported + " users" + (failed == 0 ? "" : ", skipped " + failed));
        io.out.flush();
        return failed == 0 ? ExitCodes.OK : ExitCodes.NO;
    }

    @Command(name = "google-authenticator", description = {"Import ~/.google_authenticator files.",
        "Each FILE belongs to its owner (or --user); with --dir, each DIR/USER file or DIR/USER/.google_authenticator "
            + "is USER's (the layout of pam_google_authenticator's secret=/path/${USER} option, or of /home)."})
    static final class GoogleAuthenticator extends ClientCommand {
        @Parameters(arity = "0..*", paramLabel = "FILE", description = "google-authenticator state files.")
        List<Path> files = new ArrayList<>();

        @Option(names = "--user", paramLabel = "NAME", description = "The user of the one FILE given (default: its owner).")
        String user;

        @Option(names = {"--dir", "--users-file"}, paramLabel = "DIR", description = "A directory of per-user files.")
        Path dir;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            List<Importers.Found> found = new ArrayList<>();
            List<Importers.Skipped> skipped = new ArrayList<>();
            if (user != null && files.size() != 1) {
                io.err.println("twofactord: --user goes with exactly one FILE");
                return ExitCodes.USAGE;
            }
            List<Path[]> sources = new ArrayList<>(); // {file, user-or-null}
            for (Path f : files) {
                sources.add(new Path[] {f, user == null ? null : Path.of(user)});
            }
            if (dir != null) {
                try (var entries = Files.list(dir)) {
                    for (Path p : (Iterable<Path>) entries.sorted()::iterator) {
                        Path file = Files.isDirectory(p) ? p.resolve(".google_authenticator") : p;
                        if (Files.isRegularFile(file)) {
                            sources.add(new Path[] {file, p.getFileName()});
                        }
                    }
                }
            }
            if (sources.isEmpty()) {
                io.err.println("twofactord: name FILEs or --dir DIR");
                return ExitCodes.USAGE;
            }
            for (Path[] source : sources) {
                String name = source[1] != null ? source[1].toString() : Files.getOwner(source[0]).getName();
                Importers.Result r = Importers.googleAuthenticator(name,
                        Files.readAllLines(source[0], StandardCharsets.UTF_8));
                found.addAll(r.found());
                skipped.addAll(r.skipped());
            }
            return importAll(client, io, new Importers.Result(found, skipped));
        }
    }

    @Command(name = "pam-oath", description = {"Import a pam_oath users file (usersfile=, e.g. /etc/users.oath).",
        "HOTP/T30 lines (TOTP) are imported; counter-based HOTP lines and lines with a PIN are reported and skipped."})
    static final class PamOath extends ClientCommand {
        @Parameters(paramLabel = "FILE", description = "The users file.")
        Path file;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            return importAll(client, io, Importers.pamOath(Files.readAllLines(file, StandardCharsets.UTF_8)));
        }
    }
}
