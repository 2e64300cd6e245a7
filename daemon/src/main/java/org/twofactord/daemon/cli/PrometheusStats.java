package org.twofactord.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.List;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Reply;

/**
 * {@code twofactord stats --format=prometheus}: the STATS reply in Prometheus's text exposition
 * format (version 0.0.4), for node_exporter's textfile collector. Counters since start end in
 * {@code _total}; what can go down is a gauge.
 */
final class PrometheusStats {
    /** How {@code twofactord stats} prints. */
    enum Format { table, json, prometheus }

    /** One STATS field: where it is in the reply ({@code store} fields are nested) and its metric. */
    record Metric(String object, String key, String name, String type, String help) {
    }

    static final List<Metric> METRICS = List.of(
            new Metric(null, Keys.UPTIME_S, "twofactord_uptime_seconds", "gauge",
                    "Seconds since the daemon started."),
            new Metric(null, Keys.USERS, "twofactord_users", "gauge",
                    "Users enrolled now."),
            new Metric(null, Keys.VERIFY_OK, "twofactord_verify_ok_total", "counter",
                    "Code checks answered OK since start (VERIFY and code= proofs)."),
            new Metric(null, Keys.VERIFY_NO, "twofactord_verify_no_total", "counter",
                    "Code checks answered NO since start."),
            new Metric(null, Keys.REPLAYS, "twofactord_replays_total", "counter",
                    "Codes refused as already used since start."),
            new Metric(null, Keys.LOCKOUTS, "twofactord_lockouts_total", "counter",
                    "Users locked out after repeated failures since start."),
            new Metric(null, Keys.CONNECTIONS, "twofactord_connections_total", "counter",
                    "Connections accepted since start."),
            new Metric(null, Keys.CLOCK_SKEW_S, "twofactord_clock_skew_seconds", "gauge",
                    "Clock skew seen by the last CONFIRM (no sample until one saw a skew)."),
            new Metric(Keys.STORE, Keys.CHECKPOINTS, "twofactord_store_checkpoints_total", "counter",
                    "Checkpoints the store wrote since start (MapDB store only)."),
            new Metric(Keys.STORE, Keys.CHECKPOINT_FAILURE, "twofactord_store_checkpoint_failed", "gauge",
                    "1 if the last checkpoint failed (STATS says why), else 0 (MapDB store only)."),
            new Metric(Keys.STORE, Keys.REPLICATION, "twofactord_store_replication_synchronous", "gauge",
                    "1 if commits wait for a synchronous standby, else 0; no sample while the database is "
                            + "unreachable (PostgreSQL store only)."));

    private PrometheusStats() {
    }

    /** Prints an OK STATS reply as metrics; any other reply as the command line reports it. */
    static int print(Io io, Reply reply) {
        if (!reply.isOk()) {
            return ClientCommand.report(io, reply);
        }
        write(reply.body(), io.out);
        io.out.flush();
        return ExitCodes.OK;
    }

    static void write(JsonNode stats, PrintWriter out) {
        for (Metric m : METRICS) {
            JsonNode holder = m.object() == null ? stats : stats.path(m.object());
            if (!holder.has(m.key())) {
                continue; // a field this daemon's store does not send
            }
            JsonNode value = holder.get(m.key());
            out.println("# HELP " + m.name() + " " + m.help());
            out.println("# TYPE " + m.name() + " " + m.type());
            if (m.key().equals(Keys.CHECKPOINT_FAILURE)) {
                out.println(m.name() + " " + (value.isNull() ? 0 : 1));
            } else if (m.key().equals(Keys.REPLICATION)) {
                if (!value.isNull()) {
                    out.println(m.name() + " " + ("synchronous".equals(value.asText()) ? 1 : 0));
                }
            } else if (!value.isNull()) {
                out.println(m.name() + " " + value.asLong());
            }
        }
    }
}
