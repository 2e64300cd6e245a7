package org.twofactord.daemon.store.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;

/**
 * What a daemon can see, from the primary, of its database's replication, and what that means
 * for the codes it accepts. A standby promoted after the primary failed holds only the WAL it had
 * received: with asynchronous replication the last commits the primary acknowledged may be
 * missing, and a code accepted by one of them can be accepted again. With a synchronous standby
 * (and {@code synchronous_commit = on}, which every connection of the daemon sets) a commit is
 * acknowledged only once the standby has flushed it.
 *
 * <p>A role without {@code pg_monitor} (or {@code pg_read_all_stats}) sees how many standbys are
 * attached but not which are synchronous; then {@code synchronous_standby_names} is taken at its
 * word. A standby fed from a WAL archive instead of streaming is invisible here.
 *
 * @param kind         what the daemon concludes
 * @param standbys     streaming standbys attached to the primary
 * @param standbyNames the primary's {@code synchronous_standby_names}
 * @param commitLevel  {@code synchronous_commit} as the daemon's connection has it
 */
record Replication(Kind kind, int standbys, String standbyNames, String commitLevel) {
    enum Kind {
        /** No standby attached: nothing to fail over to, nothing lost by a failover. */
        NONE,
        /** Standbys attached, none synchronous: a failover can forget acknowledged commits. */
        ASYNCHRONOUS,
        /** Commits wait for a synchronous standby: a failover to it forgets nothing. */
        SYNCHRONOUS,
        /** Synchronous standbys are named but none is attached: every commit waits for one. */
        WAITING;

        /** As STATS shows it. */
        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static Replication inspect(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT current_setting('synchronous_standby_names'), current_setting('synchronous_commit'), "
                        + "count(r.pid), count(r.sync_state), "
                        + "count(r.sync_state) FILTER (WHERE r.sync_state IN ('sync', 'quorum')) "
                        + "FROM pg_stat_replication r")) {
            rs.next();
            String names = rs.getString(1).strip();
            String level = rs.getString(2);
            int standbys = rs.getInt(3);
            boolean visible = rs.getInt(4) == standbys; // sync_state is null without pg_monitor
            int synchronous = rs.getInt(5);
            Kind kind;
            if (names.isEmpty()) {
                kind = standbys == 0 ? Kind.NONE : Kind.ASYNCHRONOUS;
            } else if (standbys == 0 || (visible && synchronous == 0)) {
                kind = Kind.WAITING;
            } else {
                kind = Kind.SYNCHRONOUS;
            }
            return new Replication(kind, standbys, names, level);
        }
    }

    /** Whether a commit the daemon was told of is on a synchronous standby's disk too (when there is one). */
    boolean commitsWaitForTheStandby() {
        return commitLevel.equals("on") || commitLevel.equals("remote_apply");
    }
}
