package org.twofactord.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The rows of a run: each figure with the baseline measured in the same run, the ratio and the
 * target. Written as a Markdown table (between markers in BENCHMARKS.md, so the prose around it
 * stays) and as JSON.
 */
final class Report {
    /**
     * One line of the table.
     *
     * @param higherIsBetter whether the target is "ratio at least" (true) or "ratio at most" (false)
     */
    record Row(String scenario, double figure, String unit, double baseline, String baselineLabel,
               double target, boolean higherIsBetter, String note) {
        double ratio() {
            return Double.isNaN(baseline) || baseline == 0 ? Double.NaN : figure / baseline;
        }

        Boolean met() {
            double r = ratio();
            if (Double.isNaN(target) || Double.isNaN(r)) {
                return null;
            }
            return higherIsBetter ? r >= target : r <= target;
        }

        boolean skipped() {
            return note != null && note.startsWith(SKIPPED);
        }

        boolean hasNumbers() {
            return skipped() || !Double.isNaN(figure) && !Double.isInfinite(figure)
                    && (baselineLabel == null || !Double.isNaN(baseline));
        }
    }

    /** A note starting with this marks a row that could not run here, on purpose. */
    static final String SKIPPED = "skipped:";
    static final String BEGIN = "<!-- bench/run.sh results: begin -->";
    static final String END = "<!-- bench/run.sh results: end -->";

    final List<Row> rows = new ArrayList<>();
    final ObjectNode details;
    private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    Report() {
        this.details = json.createObjectNode();
    }

    void add(Row row) {
        rows.add(row);
        Bench.progress(String.format(Locale.ROOT, "  => %s: %s%s", row.scenario(), fmt(row.figure()) + " " + row.unit(),
                row.baselineLabel() == null ? "" : String.format(Locale.ROOT, " vs %s %s: ratio %s%s",
                        row.baselineLabel(), fmt(row.baseline()), fmt2(row.ratio()),
                        row.met() == null ? "" : row.met() ? " (target met)" : " (target NOT met)")));
    }

    String markdown(String header) {
        StringBuilder sb = new StringBuilder();
        sb.append(header).append("\n\n");
        sb.append("| scenario | figure | baseline (same run) | ratio | target | met |\n");
        sb.append("|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            String target = Double.isNaN(r.target()) ? "" : (r.higherIsBetter() ? "≥ " : "≤ ") + fmt2(r.target());
            String met = r.met() == null ? "" : r.met() ? "yes" : "**no**";
            sb.append("| ").append(r.scenario())
                    .append(" | ").append(fmt(r.figure())).append(' ').append(r.unit())
                    .append(" | ").append(r.baselineLabel() == null ? "" : r.baselineLabel() + ": " + fmt(r.baseline()))
                    .append(" | ").append(r.baselineLabel() == null ? "" : fmt2(r.ratio()))
                    .append(" | ").append(target)
                    .append(" | ").append(met).append(" |\n");
        }
        boolean anyNote = rows.stream().anyMatch(r -> r.note() != null && !r.note().isEmpty());
        if (anyNote) {
            sb.append('\n');
            for (Row r : rows) {
                if (r.note() != null && !r.note().isEmpty()) {
                    sb.append("- ").append(r.scenario()).append(": ").append(r.note()).append('\n');
                }
            }
        }
        return sb.toString();
    }

    /** Replaces the text between the markers in {@code file} (or creates the file). */
    void writeMarkdown(Path file, String header) throws IOException {
        String block = BEGIN + "\n" + markdown(header) + END;
        String text = Files.exists(file) ? Files.readString(file) : "";
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        if (b >= 0 && e > b) {
            text = text.substring(0, b) + block + text.substring(e + END.length());
        } else {
            text = text + (text.isEmpty() || text.endsWith("\n\n") ? "" : "\n") + block + "\n";
        }
        Files.writeString(file, text);
    }

    void writeJson(Path file, ObjectNode head) throws IOException {
        ObjectNode root = head.deepCopy();
        ArrayNode array = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = array.addObject();
            o.put("scenario", r.scenario());
            putNumber(o, "figure", r.figure());
            o.put("unit", r.unit());
            if (r.baselineLabel() != null) {
                o.put("baseline_label", r.baselineLabel());
                putNumber(o, "baseline", r.baseline());
                putNumber(o, "ratio", r.ratio());
            }
            if (!Double.isNaN(r.target())) {
                o.put("target", (r.higherIsBetter() ? ">= " : "<= ") + r.target());
                Boolean met = r.met();
                if (met == null) {
                    o.putNull("met");
                } else {
                    o.put("met", met);
                }
            }
            if (r.note() != null) {
                o.put("note", r.note());
            }
        }
        root.set("details", details);
        json.writeValue(file.toFile(), root);
    }

    private static void putNumber(ObjectNode o, String key, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(key);
        } else {
            o.put(key, Math.round(v * 1000) / 1000.0);
        }
    }

    static String fmt(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        if (Math.abs(v) >= 1000) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (Math.abs(v) >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    static String fmt2(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.2f", v);
    }
}
