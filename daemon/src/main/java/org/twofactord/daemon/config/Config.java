package org.twofactord.daemon.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The daemon's whole configuration, validated once at start-up and never changed after.
 *
 * @param socket               where to listen
 * @param stateDir             the store and the master key
 * @param socketMode           permission bits set on the socket after bind
 * @param socketGroup          group set on the socket after bind; empty to leave it
 * @param socketGroupExplicit  whether the group was named in the file (then it must exist)
 * @param adminGroup           members are admins
 * @param verifierGroup        members are verifiers (login services)
 * @param groupsExplicit       whether the role groups were named in the file (then they must exist)
 * @param window               TOTP steps accepted either side of now
 * @param digits               TOTP code length, 6 or 8
 * @param maxFailures          failures in a row before a lockout
 * @param lockoutS             first lockout length, doubled for each further one up to an hour
 * @param idleTimeoutS         an idle or stalled connection is closed after this
 * @param maxConnections       connections at once, all callers
 * @param maxConnectionsPerUid connections at once for one uid that is neither root nor a verifier
 * @param dev                  dev mode: the daemon's own uid counts as uid 0
 * @param groupCommit          commit the changes of all waiting requests together (off only to
 *                             measure what it buys)
 * @param postgres             the PostgreSQL store shared by a fleet ({@code store = postgresql});
 *                             empty for the MapDB store in {@link #stateDir()}
 * @param checkpoints          when the store of one server writes a checkpoint
 * @param ownersFile           which account owns which (cPanel's {@code /etc/trueuserowners}
 *                             format); empty: nobody owns anything
 * @param requireGroup         members of this group must enrol before they may log in, as if
 *                             each were marked required; empty for none
 */
public record Config(
        Path socket,
        Path stateDir,
        int socketMode,
        Optional<String> socketGroup,
        boolean socketGroupExplicit,
        String adminGroup,
        String verifierGroup,
        boolean groupsExplicit,
        int window,
        int digits,
        int maxFailures,
        int lockoutS,
        int idleTimeoutS,
        int maxConnections,
        int maxConnectionsPerUid,
        boolean dev,
        boolean groupCommit,
        Optional<PostgresConfig> postgres,
        Checkpoints checkpoints,
        Optional<Path> ownersFile,
        Optional<String> requireGroup) {

    /**
     * When the store of one server folds its log into a new checkpoint: after this many users
     * (or other keys) changed, this many MiB logged, or this many seconds with a change, whichever
     * comes first.
     */
    public record Checkpoints(int changes, int logMb, int intervalS) {
        public static final Checkpoints DEFAULTS = new Checkpoints(50_000, 64, 600);
    }

    public static final Path DEFAULT_SOCKET = Path.of("/run/twofactord/twofactord.sock");
    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/twofactord");
    public static final Path DEFAULT_CONFIG = Path.of("/etc/twofactord/twofactord.conf");
    public static final Path DEV_DIR = Path.of(".twofactord-dev");
    public static final String SOCKET_NAME = "twofactord.sock";

    /** The longest lockout, whatever the doubling says. */
    public static final int MAX_LOCKOUT_S = 3600;

    /** The store inside {@link #stateDir()}: a directory of a log and checkpoints (docs/design.md). */
    public Path storeFile() {
        return stateDir.resolve("store");
    }

    /**
     * The MapDB file of the versions before the store had its own log; converted into
     * {@link #storeFile()} at the first start.
     */
    public Path legacyStoreFile() {
        return stateDir.resolve("twofactord.db");
    }

    /** The master key file inside {@link #stateDir()}. */
    public Path masterKeyFile() {
        return stateDir.resolve("master.key");
    }

    /** A copy with another socket path and state directory (tests use it). */
    public Config withPaths(Path newSocket, Path newStateDir) {
        return new Config(newSocket, newStateDir, socketMode, socketGroup, socketGroupExplicit, adminGroup,
                verifierGroup, groupsExplicit, window, digits, maxFailures, lockoutS, idleTimeoutS, maxConnections,
                maxConnectionsPerUid, dev, groupCommit, postgres, checkpoints, ownersFile, requireGroup);
    }
}
