package org.twofactord.daemon.cli;

import org.twofactord.protocol.Keys;
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
import org.twofactord.daemon.config.ConfigException;
import org.twofactord.daemon.config.ConfigLoader;
import org.twofactord.daemon.policy.PolicyMode;
import org.twofactord.daemon.store.log.LogStore;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.postgres.PostgresStore;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.StoreExport;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.UserNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code twofactord store}: check a store, back it up while the daemon runs, and move it between
 * backends (export, import).
 */
@Command(name = "store", description = {"Check the store, take a consistent backup of it (with its master key), or "
        + "move it between backends (export, import)."},
        subcommands = {StoreCommand.Check.class, StoreCommand.Backup.class, StoreCommand.Export.class,
            StoreCommand.Import.class})
final class StoreCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say check, backup, export or import");
    }

    /** Reads every record of the store in {@code stateDir}; returns the problems found. */
    static List<String> check(Path stateDir, Io io) throws StoreException {
        Path keyFile = stateDir.resolve("master.key");
        Path db = stateDir.resolve("store");
        if (!Files.exists(db) && !Files.exists(LogStore.legacyFile(db))) {
            throw new StoreException("no store at " + db);
        }
        MasterKey key = MasterKey.loadOrCreate(keyFile, false, new SecureRandom());
        List<String> problems = new ArrayList<>();
        int users = 0;
        int pending = 0;
        Store opened;
        try {
            opened = LogStore.open(db, key);
        } catch (LogStore.InUse e) {
            // A daemon holds the LOCK: reading beside its writes would check no consistent state.
            throw new StoreException(e.getMessage() + "; stop it, or check a consistent copy while it runs with "
                    + "'twofactord store backup DIR'", e);
        }
        try (Store store = opened) {
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
        "A store in use is refused (exit 4): stop the daemon first, or take a backup, which checks its copy "
            + "(store backup)."})
    static final class Check implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--state-dir", paramLabel = "DIR", description = "The directory of the store and its "
                + "master.key (default: /var/lib/twofactord; --dev: .twofactord-dev).")
        Path stateDir;

        @Option(names = "--dev", description = "Check the dev-mode store (.twofactord-dev here or in the nearest "
                + "folder above).")
        boolean dev;

        @Override
        public Integer call() {
            Io io = ((TwofactordCommand) spec.root().userObject()).io();
            Path dir;
            try {
                dir = stateDir != null ? stateDir
                        : dev ? DaemonSocket.devStateDir(io.workingDir) : Config.DEFAULT_STATE_DIR;
            } catch (DaemonSocket.NotFound e) {
                io.err.println("twofactord: " + e.getMessage());
                io.err.flush();
                return ExitCodes.USAGE;
            }
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
            Path snapshot = Path.of(reply.body().path(Keys.PATH).asText());
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

    /** Where export and import find the store: the configuration's backend and the state directory. */
    abstract static class Moving implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "The configuration naming the store "
                + "(store, postgres_url, ...; default: /etc/twofactord/twofactord.conf; --dev: none).")
        Path configFile;

        @Option(names = "--state-dir", paramLabel = "DIR", description = "The directory of master.key and of a "
                + "MapDB store (default: as the configuration says).")
        Path stateDir;

        @Option(names = "--dev", description = "The dev-mode store (.twofactord-dev here or in the nearest folder "
                + "above).")
        boolean dev;

        @Parameters(paramLabel = "FILE", description = "The export file.")
        Path file;

        abstract String move(Config config, MasterKey key, Io io) throws StoreException, IOException;

        /** Why the configured master.key is needed and what to do, when it is missing. */
        abstract StoreException missingKey(Config config);

        /** Opens the configured store; a MapDB store must exist unless {@code create}. */
        static Store open(Config config, MasterKey key, boolean create) throws StoreException {
            if (config.postgres().isPresent()) {
                return PostgresStore.open(config.postgres().get(), key);
            }
            if (!create && !Files.exists(config.storeFile()) && !Files.exists(config.legacyStoreFile())) {
                throw new StoreException("no store at " + config.storeFile());
            }
            return LogStore.open(config.storeFile(), key);
        }

        @Override
        public Integer call() {
            Io io = ((TwofactordCommand) spec.root().userObject()).io();
            try {
                Path dir = dev && stateDir == null ? DaemonSocket.devStateDir(io.workingDir) : stateDir;
                Config config = ConfigLoader.load(new ConfigLoader.Flags(null, dir, configFile, dev));
                if (!Files.exists(config.masterKeyFile())) {
                    throw missingKey(config);
                }
                MasterKey key = MasterKey.loadOrCreate(config.masterKeyFile(), false, new SecureRandom());
                io.out.println(move(config, key, io));
                io.out.flush();
                return ExitCodes.OK;
            } catch (StoreExport.Refused e) {
                io.err.println("twofactord: " + e.getMessage());
                io.err.flush();
                return ExitCodes.NO;
            } catch (DaemonSocket.NotFound e) {
                io.err.println("twofactord: " + e.getMessage());
                io.err.flush();
                return ExitCodes.USAGE;
            } catch (ConfigException e) {
                io.err.println("twofactord: bad configuration: " + e.getMessage());
                io.err.flush();
                return ExitCodes.CONFIG;
            } catch (StoreException | IOException e) {
                io.err.println("twofactord: " + e.getMessage());
                io.err.flush();
                return ExitCodes.UNAVAILABLE;
            }
        }
    }

    @Command(name = "export", description = {"Write the whole store (users with their replay and lockout state, "
            + "pending enrolments, policy, issuer) into FILE, a new file of mode 0600.",
        "Secrets stay encrypted with the master key; the file can only be imported where the same master.key is. "
            + "A MapDB store must not be in use: stop the daemon. A PostgreSQL store is read while the fleet runs, "
            + "one record at a time.",
        "On a terminal it shows how many names it has written; otherwise it prints only the summary.",
        "Exits 1 if FILE exists, 4 if the store or its key cannot be read."})
    static final class Export extends Moving {
        @Override
        StoreException missingKey(Config config) {
            if (config.postgres().isPresent()) {
                return new StoreException("master key " + config.masterKeyFile() + " is missing; the database's "
                        + "secrets are sealed with the fleet's master.key: copy it here from another server of the fleet");
            }
            if (!Files.exists(config.storeFile()) && !Files.exists(config.legacyStoreFile())) {
                return new StoreException("no store at " + config.storeFile());
            }
            return new StoreException("master key " + config.masterKeyFile() + " is missing but the store exists; "
                    + "restore the key from the backup taken with the store (a new key could not decrypt any secret)");
        }

        @Override
        String move(Config config, MasterKey key, Io io) throws StoreException, IOException {
            if (Files.exists(file)) {
                throw new StoreExport.Refused(file + " exists; name a new file");
            }
            try (Store store = open(config, key, false)) {
                StoreExport.Counts n;
                try (Progress progress = new Progress(io, "names exported", -1)) {
                    n = StoreExport.write(store, key, file, progress::step);
                }
                return "exported " + n.describe() + " to " + file;
            }
        }
    }

    @Command(name = "import", description = {"Read FILE, made by store export, into the configured store, which must "
            + "be empty (a new MapDB store is made in the state directory).",
        "Copy the exporting store's master.key into the state directory first: a store with another key is "
            + "refused. A MapDB store must not be in use: stop the daemon.",
        "On a terminal it shows how many records it has checked; otherwise it prints only the summary.",
        "Exits 1 when refused (the store is not empty; master.key is missing or another one), 4 if the store "
            + "cannot be opened."})
    static final class Import extends Moving {
        @Override
        StoreException missingKey(Config config) {
            return new StoreExport.Refused("no master key at " + config.masterKeyFile() + ": copy the master.key of "
                    + "the store that was exported there first (the export's secrets are sealed with it)");
        }

        @Override
        String move(Config config, MasterKey key, Io io) throws StoreException, IOException {
            if (!Files.isRegularFile(file)) {
                throw new StoreExport.Refused(file + ": no such file");
            }
            try (Store store = open(config, key, true)) {
                StoreExport.Counts n;
                try (Progress progress = new Progress(io, "records checked", -1)) {
                    n = StoreExport.read(file, store, key, progress::step);
                }
                return "imported " + n.describe() + " from " + file;
            }
        }
    }
}
