package org.twofactord.daemon.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.policy.PolicyMode;
import org.twofactord.daemon.store.MapDbStore;
import org.twofactord.daemon.store.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.UserNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code twofactord store}: check a store, and back it up while the daemon runs. */
@Command(name = "store", description = "Check the store, or take a consistent backup of it (with its master key).",
        subcommands = {StoreCommand.Check.class, StoreCommand.Backup.class})
final class StoreCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say check or backup");
    }

    /** Reads every record of the store in {@code stateDir}; returns the problems found. */
    static List<String> check(Path stateDir, Io io) throws StoreException {
        Path keyFile = stateDir.resolve("master.key");
        Path db = stateDir.resolve("twofactord.db");
        if (!Files.exists(db)) {
            throw new StoreException("no store at " + db);
        }
        MasterKey key = MasterKey.loadOrCreate(keyFile, false, new SecureRandom());
        List<String> problems = new ArrayList<>();
        int users = 0;
        int pending = 0;
        try (Store store = MapDbStore.open(db, key)) {
            Optional<String> policy = store.meta(Store.META_POLICY);
            if (policy.isPresent() && PolicyMode.fromWire(policy.get()).isEmpty()) {
                problems.add("policy '" + policy.get() + "' is not a policy");
            }
            for (String name : store.names()) {
                if (!UserNames.isValid(name)) {
                    problems.add("a record has an invalid user name");
                    continue;
                }
                try {
                    Optional<UserRecord> user = store.user(name);
                    if (user.isPresent()) {
                        users++;
                        key.open(name, user.get().sealedSecret());
                        if (user.get().backupHashes().length % MasterKey.BACKUP_HASH_BYTES != 0) {
                            problems.add(name + ": backup codes are damaged");
                        }
                    }
                    Optional<PendingEnrollment> p = store.pending(name);
                    if (p.isPresent()) {
                        pending++;
                        key.open(name, p.get().sealedSecret());
                    }
                } catch (StoreException | RuntimeException e) {
                    problems.add(name + ": " + e.getMessage());
                }
            }
            io.out.println("store " + db + ": " + users + " users, " + pending + " pending enrolments, policy "
                    + policy.orElse("disabled") + ", issuer " + store.meta(Store.META_ISSUER).orElse("(host name)"));
        }
        return problems;
    }

    @Command(name = "check", description = {"Read every record of a store and decrypt every secret with its master key.",
        "The store must not be in use: stop the daemon, or check a backup (store backup does)."})
    static final class Check implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--state-dir", paramLabel = "DIR", description = "The directory of the store and its "
                + "master.key (default: /var/lib/twofactord; --dev: .twofactord-dev).")
        Path stateDir;

        @Option(names = "--dev", description = "Check the dev-mode store (.twofactord-dev).")
        boolean dev;

        @Override
        public Integer call() {
            Io io = ((TwofactordCommand) spec.root().userObject()).io();
            Path dir = stateDir != null ? stateDir : dev ? Config.DEV_DIR : Config.DEFAULT_STATE_DIR;
            try {
                List<String> problems = check(dir, io);
                problems.forEach(p -> io.out.println("problem: " + p));
                io.out.println(problems.isEmpty() ? "ok" : problems.size() + " problem(s): restore the store and its "
                        + "master.key from a backup (docs/operations.md)");
                io.out.flush();
                return problems.isEmpty() ? ExitCodes.OK : ExitCodes.NO;
            } catch (StoreException e) {
                io.err.println("twofactord: " + e.getMessage());
                io.err.flush();
                return ExitCodes.UNAVAILABLE;
            }
        }
    }

    @Command(name = "backup", description = {"Copy the store, consistent, and its master key into DIR while the daemon "
            + "runs (uid 0), then check the copy.", "Keep DIR as secret as the key: with it, every secret can be read."})
    static final class Backup extends ClientCommand {
        @Parameters(paramLabel = "DIR", description = "A new directory for the backup (made with mode 0700).")
        Path target;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            if (Files.exists(target)) {
                io.err.println("twofactord: " + target + " exists; name a new directory");
                return ExitCodes.USAGE;
            }
            Reply reply = client.call(Commands.SNAPSHOT);
            if (!reply.isOk()) {
                return report(io, reply);
            }
            Path snapshot = Path.of(reply.body().path("path").asText());
            Path stateDir = snapshot.getParent().getParent();
            Files.createDirectories(target.toAbsolutePath().getParent());
            Files.createDirectory(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            try (var files = Files.list(snapshot)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.move(f, target.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.delete(snapshot);
            Files.copy(stateDir.resolve("master.key"), target.resolve("master.key"), StandardCopyOption.COPY_ATTRIBUTES);
            io.out.println("backup written to " + target + " (the store and its master.key)");
            try {
                List<String> problems = check(target, io);
                problems.forEach(p -> io.out.println("problem: " + p));
                io.out.println(problems.isEmpty() ? "the copy checks out" : "the copy has problems");
                return problems.isEmpty() ? ExitCodes.OK : ExitCodes.NO;
            } catch (StoreException e) {
                io.err.println("twofactord: the copy cannot be read: " + e.getMessage());
                return ExitCodes.UNAVAILABLE;
            }
        }
    }
}
