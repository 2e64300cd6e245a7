package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** stats --format=prometheus prints STATS in the text exposition format, each value as STATS has it. */
class StatsPrometheusTest {
    @TempDir
    Path dir;

    private static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \\S.*");
    private static final Pattern TYPE = Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)");
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*) (-?[0-9]+)");

    /**
     * Checks the exposition format's line grammar (HELP, then TYPE, then the samples of one metric
     * family; each family once) and returns the samples by name.
     */
    static Map<String, Long> parse(String text) {
        assertTrue(text.endsWith("\n"), "the last line ends with a newline");
        Map<String, Long> samples = new LinkedHashMap<>();
        Map<String, String> types = new LinkedHashMap<>();
        String family = null;
        for (String line : text.split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            Matcher m;
            if ((m = HELP.matcher(line)).matches()) {
                assertFalse(types.containsKey(m.group(1)), "one family once: " + line);
                family = m.group(1);
            } else if ((m = TYPE.matcher(line)).matches()) {
                assertEquals(family, m.group(1), "TYPE follows its HELP: " + line);
                types.put(family, m.group(2));
            } else if ((m = SAMPLE.matcher(line)).matches()) {
                assertEquals(family, m.group(1), "a sample under its own TYPE: " + line);
                assertTrue(types.containsKey(family), "TYPE before the sample: " + line);
                assertTrue(samples.put(m.group(1), Long.parseLong(m.group(2))) == null, "one sample: " + line);
            } else {
                throw new AssertionError("not a line of the text format: '" + line + "'");
            }
        }
        types.forEach((name, type) -> {
            assertTrue(name.startsWith("twofactord_"), name);
            assertEquals(type.equals("counter"), name.endsWith("_total"), "counters, and only they, end in _total: "
                    + name);
        });
        return samples;
    }

    @Test
    void prometheusOutputParsesAndMatchesStats() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            c.call("POLICY ENABLE");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            String code = Totp.code(secret, daemon.clock, 0);
            c.expect("VERIFY alice " + code, "OK {\"method\":\"totp\"}");
            c.expect("VERIFY alice " + code, "NO replayed");
            String wrong = Totp.wrongCode(secret, daemon.clock);
            for (int i = 0; i < 6; i++) {
                c.call("VERIFY alice " + wrong);
            }
            JsonNode before = Json.of(c.call("STATS"));
            Cli.Run run = Cli.run(daemon.socket(), "stats", "--format=prometheus");
            assertEquals(0, run.exit(), run.err());
            JsonNode after = Json.of(c.call("STATS"));
            Map<String, Long> m = parse(run.out());

            assertEquals(1, after.get("users").asLong());
            assertEquals(after.get("users").asLong(), m.get("twofactord_users"));
            assertEquals(1, m.get("twofactord_verify_ok_total"));
            assertEquals(after.get("verify_ok").asLong(), m.get("twofactord_verify_ok_total"));
            assertTrue(after.get("verify_no").asLong() >= 6);
            assertEquals(after.get("verify_no").asLong(), m.get("twofactord_verify_no_total"));
            assertEquals(1, m.get("twofactord_replays_total"));
            assertEquals(after.get("replays").asLong(), m.get("twofactord_replays_total"));
            assertEquals(1, m.get("twofactord_lockouts_total"));
            assertEquals(after.get("lockouts").asLong(), m.get("twofactord_lockouts_total"));
            // The command's own connection counts: between the two STATS around it.
            assertEquals(before.get("connections").asLong() + 1, m.get("twofactord_connections_total"));
            long uptime = m.get("twofactord_uptime_seconds");
            assertTrue(before.get("uptime_s").asLong() <= uptime && uptime <= after.get("uptime_s").asLong());
            assertEquals(after.path("store").get("checkpoints").asLong(), m.get("twofactord_store_checkpoints_total"));
            assertEquals(0, m.get("twofactord_store_checkpoint_failed"));
            assertTrue(after.get("clock_skew_s").isNull());
            assertFalse(m.containsKey("twofactord_clock_skew_seconds"), "no skew seen: no sample");
            assertTrue(run.out().contains("# TYPE twofactord_clock_skew_seconds gauge\n"), run.out());
            assertEquals(9, m.size(), m.toString());
        }
    }

    @Test
    void aClockSkewAndAFailedCheckpointAreSamples() {
        JsonNode stats = Json.of("OK {\"uptime_s\":5,\"users\":0,\"verify_ok\":0,\"verify_no\":0,\"replays\":0,"
                + "\"lockouts\":0,\"connections\":1,\"clock_skew_s\":-90,\"store\":{\"checkpoints\":2,"
                + "\"checkpoint_failure\":\"No space left on device\"}}");
        java.io.StringWriter text = new java.io.StringWriter();
        try (java.io.PrintWriter out = new java.io.PrintWriter(text)) {
            PrometheusStats.write(stats, out);
        }
        Map<String, Long> m = parse(text.toString());
        assertEquals(-90, m.get("twofactord_clock_skew_seconds"));
        assertEquals(1, m.get("twofactord_store_checkpoint_failed"));
        assertEquals(2, m.get("twofactord_store_checkpoints_total"));
    }

    @Test
    void thePostgresqlStoresReplicationIsOneWhenSynchronous() {
        for (String[] c : new String[][] {{"\"synchronous\"", "1"}, {"\"asynchronous\"", "0"}, {"\"none\"", "0"},
                {"\"waiting\"", "0"}, {"null", null}}) {
            JsonNode stats = Json.of("OK {\"uptime_s\":5,\"users\":0,\"verify_ok\":0,\"verify_no\":0,\"replays\":0,"
                    + "\"lockouts\":0,\"connections\":1,\"clock_skew_s\":null,\"store\":{\"replication\":" + c[0] + "}}");
            java.io.StringWriter text = new java.io.StringWriter();
            try (java.io.PrintWriter out = new java.io.PrintWriter(text)) {
                PrometheusStats.write(stats, out);
            }
            Map<String, Long> m = parse(text.toString());
            assertEquals(c[1] == null ? null : Long.valueOf(c[1]), m.get("twofactord_store_replication_synchronous"), c[0]);
            assertFalse(text.toString().contains("checkpoint"), "no MapDB metrics: " + text);
        }
    }

    @Test
    void withoutTheStoreObjectItsMetricsAreLeftOut() {
        JsonNode stats = Json.of("OK {\"uptime_s\":5,\"users\":0,\"verify_ok\":0,\"verify_no\":0,\"replays\":0,"
                + "\"lockouts\":0,\"connections\":1,\"clock_skew_s\":null}");
        java.io.StringWriter text = new java.io.StringWriter();
        try (java.io.PrintWriter out = new java.io.PrintWriter(text)) {
            PrometheusStats.write(stats, out);
        }
        assertFalse(text.toString().contains("store"), text.toString());
        assertEquals(7, parse(text.toString()).size());
    }
}
