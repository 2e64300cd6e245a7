package org.twofactord.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The PAM path side by side: whole-process time of {@code pamtester SERVICE USER authenticate}
 * for pam_permit (the floor), pam_google_authenticator with DISALLOW_REUSE, pam_oath and
 * pam_twofactord, each verifying a right code for a user with the same secret. The modules take
 * turns (the first of each iteration rotates), and every run must succeed. Each run uses a user
 * of its own, since with replay protection a code works once.
 */
final class Pam {
    private static final Path PAM_D = Path.of("/etc/pam.d");

    private final Map<String, String> opts;
    private final Path dir;
    private final int runs;
    private final Report report;
    private final List<String> failures;

    Pam(Map<String, String> opts, Path dir, int runs, Report report, List<String> failures) {
        this.opts = opts;
        this.dir = dir;
        this.runs = runs;
        this.report = report;
        this.failures = failures;
    }

    void run(Daemon daemon) throws IOException {
        if (!Daemon.isRoot()) {
            Bench.progress("PAM path: skipped, pamtester's service files go in /etc/pam.d (run as root)");
            report.add(new Report.Row("PAM path: pamtester with pam_twofactord", Double.NaN, "ms", Double.NaN,
                    "pam_permit", 1.15, false, Report.SKIPPED + " needs root for /etc/pam.d"));
            return;
        }
        String prefix = opts.getOrDefault("pam-prefix", "twofactord-bench-" + ProcessHandle.current().pid());
        Path shim = opts.containsKey("pam-twofactord") ? Path.of(opts.get("pam-twofactord")) : null;
        boolean haveShim = shim != null && Files.isRegularFile(shim);
        Bench.progress("PAM path: pamtester, " + runs + " runs per module"
                + (haveShim ? "" : " (pam_twofactord not built: its row is skipped)"));
        Files.createDirectories(dir.resolve("ga"));
        byte[] secret = Totp.secretFor("pam-shared");
        String base32 = Totp.base32(secret);
        StringBuilder oath = new StringBuilder();
        for (int i = 0; i < runs; i++) {
            String user = Suite.name("p", i);
            Path ga = dir.resolve("ga").resolve(user);
            Files.writeString(ga, base32 + "\n\" TOTP_AUTH\n\" DISALLOW_REUSE\n\" WINDOW_SIZE 3\n");
            Files.setPosixFilePermissions(ga, PosixFilePermissions.fromString("rw-------"));
            oath.append("HOTP/T30/6 ").append(user).append(" - ").append(HexFormat.of().formatHex(secret)).append('\n');
        }
        Path usersFile = dir.resolve("users.oath");
        Files.writeString(usersFile, oath.toString());
        Files.setPosixFilePermissions(usersFile, PosixFilePermissions.fromString("rw-------"));
        if (haveShim) {
            try (Conn c = Conn.open(daemon.socket)) {
                for (int i = 0; i < runs; i++) {
                    String reply = c.call("IMPORT " + Suite.name("p", i) + " " + base32);
                    Bench.check(reply.startsWith("OK"), "IMPORT for PAM: " + reply);
                }
            }
        }
        Map<String, String> services = new LinkedHashMap<>();
        services.put("pam_permit", "auth required pam_permit.so\n");
        services.put("pam_google_authenticator", "auth required pam_google_authenticator.so secret="
                + dir.resolve("ga") + "/${USER} user=root\n");
        services.put("pam_oath", "auth required pam_oath.so usersfile=" + usersFile + " window=1 digits=6\n");
        if (haveShim) {
            services.put("pam_twofactord", "auth required " + shim.toAbsolutePath() + " socket=" + daemon.socket + "\n");
        }
        List<Path> written = new ArrayList<>();
        Map<String, List<Double>> times = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, String> e : services.entrySet()) {
                Path file = PAM_D.resolve(prefix + "-" + e.getKey().replace("pam_", ""));
                Files.writeString(file, "# written by twofactord's bench/run.sh; removed when it ends\n" + e.getValue());
                written.add(file);
                times.put(e.getKey(), new ArrayList<>());
            }
            List<String> names = new ArrayList<>(services.keySet());
            for (int i = 0; i < runs; i++) {
                String user = Suite.name("p", i);
                for (int k = 0; k < names.size(); k++) {
                    String module = names.get((i + k) % names.size());
                    String service = prefix + "-" + module.replace("pam_", "");
                    String code = Totp.code(secret, Totp.stepNow() + 1);
                    times.get(module).add(pamtester(service, user, code, module));
                }
                if ((i + 1) % Math.max(1, runs / 4) == 0) {
                    Bench.progress(String.format(Locale.ROOT, "  %d of %d runs per module", i + 1, runs));
                }
            }
        } finally {
            for (Path p : written) {
                Files.deleteIfExists(p);
            }
        }
        double floor = median(times.get("pam_permit"));
        double gaRatio = median(times.get("pam_google_authenticator")) / floor;
        report.add(new Report.Row("PAM path: pamtester with pam_google_authenticator (DISALLOW_REUSE)",
                median(times.get("pam_google_authenticator")), "ms", floor, "pam_permit", Double.NaN, true, null));
        report.add(new Report.Row("PAM path: pamtester with pam_oath", median(times.get("pam_oath")), "ms", floor,
                "pam_permit", Double.NaN, true, null));
        if (haveShim) {
            double ours = median(times.get("pam_twofactord"));
            report.add(new Report.Row("PAM path: pamtester with pam_twofactord", ours, "ms", floor, "pam_permit",
                    1.15, false, String.format(Locale.ROOT, "ratio %.2f against google-authenticator's %.2f: %s",
                            ours / floor, gaRatio, ours / floor < gaRatio ? "lower (met)" : "**not lower**")));
        } else {
            report.add(new Report.Row("PAM path: pamtester with pam_twofactord", Double.NaN, "ms", floor, "pam_permit",
                    1.15, false, Report.SKIPPED + " pam_twofactord.so is not built here (no client-shim/Makefile, or make failed)"));
        }
        report.details.putPOJO("pam_ms", times);
    }

    private double pamtester(String service, String user, String code, String module) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("pamtester", service, user, "authenticate");
        pb.redirectErrorStream(true);
        long t0 = System.nanoTime();
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write((code + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (IOException ignored) {
            // pam_permit never reads
        }
        byte[] out = p.getInputStream().readAllBytes();
        int rc;
        try {
            rc = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        if (rc != 0) {
            String msg = "pamtester with " + module + " for " + user + " failed (" + rc + "): "
                    + new String(out, StandardCharsets.UTF_8).strip();
            failures.add(msg);
            throw new IOException(msg);
        }
        return ms;
    }

    private static double median(List<Double> values) {
        double[] a = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (a.length == 0) {
            return Double.NaN;
        }
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
