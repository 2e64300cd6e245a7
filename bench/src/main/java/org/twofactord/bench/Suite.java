package org.twofactord.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Every scenario of issue 8, in one process, against daemons it starts and stops itself. Each
 * figure is paired with a baseline measured in this same run; where both sides can run in turn,
 * they alternate in rounds and the medians are compared, so that a noisy neighbour hurts both.
 */
final class Suite {
    /** The sizes and durations of a run. */
    private record Plan(boolean quick, int rounds, long warmMs, long measureMs, int floodUsers, int acceptUsers,
                        int baselineUsers, int latencySamples, int pamRuns, int scaleUsers, int scaleRounds,
                        int scaleVerifies) {
        static Plan of(boolean quick) {
            return quick
                    ? new Plan(true, 1, 300, 1000, 2000, 16000, 2500, 300, 12, 10_000, 1, 1000)
                    : new Plan(false, 3, 1000, 3000, 2000, 150_000, 45_000, 2000, 400, 1_000_000, 3, 3000);
        }
    }

    private static final int FLOOR_CONNS = 16;
    private static final int FLOOD_CONNS = 16;
    private static final int ACCEPT_CONNS = 64;
    private static final int ATTACK_CONNS = 64;
    private static final int LOGIN_CONNS = 8;
    private static final int ENROL_CONNS = 32;
    private static final int SMALL_SCALE_USERS = 1000;

    private final Map<String, String> opts;
    private final Plan plan;
    private final Path work;
    private final Path daemonJar;
    private final List<String> jvm;
    private final Report report = new Report();
    private final List<String> failures = new ArrayList<>();

    Suite(Map<String, String> opts) {
        this.opts = opts;
        this.plan = Plan.of(opts.containsKey("quick"));
        this.work = Path.of(require("work"));
        this.daemonJar = Path.of(require("daemon-jar"));
        String jvmOpts = opts.getOrDefault("daemon-java-opts", "");
        this.jvm = jvmOpts.isBlank() ? List.of() : Arrays.asList(jvmOpts.trim().split("\\s+"));
    }

    private String require(String key) {
        String v = opts.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }

    int run() throws IOException {
        Bench.progress("twofactord benchmarks (" + (plan.quick ? "quick" : "full") + "), store "
                + (opts.containsKey("postgres-url-prefix") ? "postgresql" : "mapdb") + ", daemon JVM options: "
                + String.join(" ", jvm));
        String only = opts.getOrDefault("only", "floors,flood,logins,latency,accepted,pam,scale");
        List<String> parts = Arrays.asList(only.split(","));
        Map<String, String> config = mainConfig();
        Daemon main = Daemon.twofactord("main", daemonJar, jvm, work.resolve("main"), storeConfig("main", config))
                .start();
        try {
            admin(main, "POLICY ENABLE");
            if (parts.contains("floors") || parts.contains("flood") || parts.contains("logins")
                    || parts.contains("latency")) {
                enrol(main, "f", plan.floodUsers, false);
                lockFloodUsers(main);
            }
            if (parts.contains("flood")) {
                enrol(main, "w", countedUsers(), false);
            }
            if (parts.contains("floors") || parts.contains("flood")) {
                floorsAndFlood(main, parts.contains("flood"));
            }
            if (parts.contains("logins")) {
                connectionPerRequest(main);
            }
            if (parts.contains("latency")) {
                latencyUnderAttack(main);
            }
            if (parts.contains("accepted")) {
                main = acceptedCodes(main, config);
                if (opts.get("postgres-url-prefix") == null) {
                    logSync();
                }
            }
            if (parts.contains("pam")) {
                new Pam(opts, work.resolve("pam"), plan.pamRuns, report, failures).run(main);
            }
        } catch (IOException | RuntimeException e) {
            failures.add("scenario failed: " + e);
            e.printStackTrace(System.out);
        } finally {
            main.stop();
        }
        if (parts.contains("scale")) {
            try {
                scale();
            } catch (IOException | RuntimeException e) {
                failures.add("scale failed: " + e);
                e.printStackTrace(System.out);
            }
        }
        return finish();
    }

    private Map<String, String> mainConfig() {
        Map<String, String> c = new LinkedHashMap<>();
        // The lockout is the default one (5 failures, 60 s): a flood meets it as a real one would.
        // The flood scenario measures both sides of it: targets already locked, and guesses that
        // are still counted (users below the limit).
        c.put("window", "1");
        c.put("max_connections", "1024");
        c.put("idle_timeout_s", "600");
        c.put("socket_mode", "0600");
        return c;
    }

    /**
     * Daemon {@code name}'s configuration: {@code base}, and with {@code --postgres-url-prefix}
     * (run.sh --store postgresql) the PostgreSQL store in a database of its own, bench_NAME,
     * which run.sh made.
     */
    private Map<String, String> storeConfig(String name, Map<String, String> base) {
        return storeConfig(name, base, opts.get("postgres-url-prefix"));
    }

    /** The same, reaching PostgreSQL at {@code prefix} (a {@link LatencyProxy}'s address). */
    private Map<String, String> storeConfig(String name, Map<String, String> base, String prefix) {
        Map<String, String> c = new LinkedHashMap<>(base);
        if (prefix != null) {
            c.put("store", "postgresql");
            c.put("postgres_url", prefix + "bench_" + name);
            c.put("postgres_user", require("postgres-user"));
            c.put("postgres_password_file", require("postgres-password-file"));
        }
        return c;
    }

    // ---------------------------------------------------------------- enrolment

    /**
     * IMPORTs {@code count} users named prefix + number over many connections. With
     * {@code backupCodes} (the scale stores) each gets ten, as a real enrolment does, and the users
     * come in random order, as real enrolments do: in name order every B-tree split would leave a
     * half-empty node behind, and the store would measure a pattern no server sees.
     */
    private void enrol(Daemon d, String prefix, int count, boolean backupCodes) throws IOException {
        long t0 = System.nanoTime();
        int[] order = new int[count];
        for (int i = 0; i < count; i++) {
            order[i] = i;
        }
        if (backupCodes) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            for (int i = count - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        AtomicInteger next = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        Thread reporter = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted() && done.get() < count) {
                Daemon.sleep(5000);
                if (done.get() < count) {
                    Bench.progress(String.format(Locale.ROOT, "  enrolled %,d of %,d %s-users", done.get(), count, prefix));
                }
            }
        });
        reporter.setDaemon(true);
        reporter.start();
        Load.run(ENROL_CONNS, 0, 86_400_000L, i -> {
            Conn c = Conn.open(d.socket);
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    int n = next.getAndIncrement();
                    if (n >= count) {
                        return null;
                    }
                    String user = name(prefix, order[n]);
                    StringBuilder line = new StringBuilder("IMPORT ").append(user).append(' ')
                            .append(Totp.base32(Totp.secretFor(user)));
                    if (backupCodes) {
                        // As many as a real enrolment has, so that the records are of real size.
                        for (int k = 0; k < 10; k++) {
                            line.append(' ').append(String.format("%010d",
                                    ThreadLocalRandom.current().nextLong(10_000_000_000L)));
                        }
                    }
                    String reply = c.call(line.toString());
                    if (!reply.startsWith("OK")) {
                        throw new IOException("IMPORT " + user + ": " + reply);
                    }
                    done.incrementAndGet();
                    return reply;
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        });
        reporter.interrupt();
        double s = (System.nanoTime() - t0) / 1e9;
        Bench.progress(String.format(Locale.ROOT, "  enrolled %,d %s-users with IMPORT in %.1f s (%,.0f/s)",
                count, prefix, s, count / s));
    }

    /**
     * Users for the counted-guesses flood: each gets at most 4 wrong codes, so none locks. Each
     * round has users of its own, as many as the flood cannot use up within its warm-up and
     * measurement (it reached 16,000 guesses a second on a quiet machine): a pool shared by the
     * rounds was used up by the first, and the median of the three read 0.
     */
    private int countedUsers() {
        return plan.quick ? 3000 : 40_000 * plan.rounds;
    }

    /**
     * Five wrong codes for every flood user, so that the flood scenarios start where a real flood
     * soon is: every target locked for a minute (and for longer at each further lockout).
     */
    private void lockFloodUsers(Daemon d) throws IOException {
        String[] lines = new String[plan.floodUsers * 5];
        for (int u = 0; u < plan.floodUsers; u++) {
            String user = name("f", u);
            for (int k = 0; k < 5; k++) {
                lines[u * 5 + k] = "VERIFY " + user + " " + Totp.wrongCode(Totp.secretFor(user), 2);
            }
        }
        Load.Throughput t = Load.run(FLOOD_CONNS, 0, 86_400_000L, once(d.socket, lines));
        Bench.progress(String.format(Locale.ROOT, "  locked the %,d flood users with 5 wrong codes each: %s",
                plan.floodUsers, t.replies()));
    }

    /** Workers that share {@code lines}, each line sent once; out of work when all are sent. */
    private static Load.Workers once(Path socket, String[] lines) {
        AtomicInteger next = new AtomicInteger();
        return i -> {
            Conn c = Conn.open(socket);
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    int k = next.getAndIncrement();
                    return k >= lines.length ? null : c.call(lines[k]);
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        };
    }

    static String name(String prefix, int n) {
        return prefix + String.format("%07d", n);
    }

    private static String admin(Daemon d, String line) throws IOException {
        try (Conn c = Conn.open(d.socket)) {
            String reply = c.call(line);
            if (!reply.startsWith("OK")) {
                throw new IOException(line + ": " + reply);
            }
            return reply;
        }
    }

    /** Request lines VERIFY user wrong-code, over random users of the flood pool, made before the run. */
    private String[] wrongLines(int count, int window) {
        String[] lines = new String[count];
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < count; i++) {
            String user = name("f", r.nextInt(plan.floodUsers));
            lines[i] = "VERIFY " + user + " " + Totp.wrongCode(Totp.secretFor(user), window + 1);
        }
        return lines;
    }

    /** Four wrong codes for each counted-flood user, in random order. */
    /** Four wrong codes for each counted user of round {@code round}, shuffled. */
    private String[] countedLines(int round) {
        int from = countedUsers() * round / plan.rounds;
        int to = countedUsers() * (round + 1) / plan.rounds;
        List<String> lines = new ArrayList<>((to - from) * 4);
        for (int u = from; u < to; u++) {
            String user = name("w", u);
            for (int k = 0; k < 4; k++) {
                lines.add("VERIFY " + user + " " + Totp.wrongCode(Totp.secretFor(user), 2));
            }
        }
        java.util.Collections.shuffle(lines);
        return lines.toArray(new String[0]);
    }

    /** A worker that sends the given lines in turn, from a random start, on one connection. */
    private static Load.Workers cycling(Path socket, String[] lines) {
        return i -> {
            Conn c = Conn.open(socket);
            int[] at = {ThreadLocalRandom.current().nextInt(lines.length)};
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    String line = lines[at[0]];
                    at[0] = (at[0] + 1) % lines.length;
                    return c.call(line);
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        };
    }

    private static double median(List<Double> values) {
        double[] a = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (a.length == 0) {
            return Double.NaN;
        }
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    // ---------------------------------------------------------------- socket floor and flood

    private void floorsAndFlood(Daemon main, boolean flood) throws IOException {
        Bench.progress("socket floor and wrong-code flood: " + plan.rounds + " round(s) of echo, PING, wrong codes");
        Daemon echo = Daemon.echo(work.resolve("echo")).start();
        List<Double> echoRates = new ArrayList<>();
        List<Double> pingRates = new ArrayList<>();
        List<Double> floodRates = new ArrayList<>();
        List<Double> countedRates = new ArrayList<>();
        Map<String, Long> floodReplies = new LinkedHashMap<>();
        Map<String, Long> countedReplies = new LinkedHashMap<>();
        String[] pings = {"PING"};
        String[] wrong = flood ? wrongLines(20_000, 1) : new String[0];
        try {
            for (int round = 0; round < plan.rounds; round++) {
                Load.Throughput e = Load.run(FLOOR_CONNS, plan.warmMs, plan.measureMs, cycling(echo.socket, pings));
                Load.Throughput p = Load.run(FLOOR_CONNS, plan.warmMs, plan.measureMs, cycling(main.socket, pings));
                echoRates.add(e.perSecond());
                pingRates.add(p.perSecond());
                String line = String.format(Locale.ROOT, "  round %d: echo %,.0f/s, daemon PING %,.0f/s", round + 1,
                        e.perSecond(), p.perSecond());
                if (flood) {
                    Load.Throughput w = Load.run(FLOOD_CONNS, plan.warmMs, plan.measureMs, cycling(main.socket, wrong));
                    floodRates.add(w.perSecond());
                    w.replies().forEach((k, v) -> floodReplies.merge(k, v, Long::sum));
                    Load.Throughput c = Load.run(FLOOD_CONNS, plan.warmMs, plan.measureMs,
                            once(main.socket, countedLines(round)));
                    countedRates.add(c.perSecond());
                    c.replies().forEach((k, v) -> countedReplies.merge(k, v, Long::sum));
                    line += String.format(Locale.ROOT, ", wrong codes %,.0f/s %s, counted %,.0f/s %s", w.perSecond(),
                            w.replies(), c.perSecond(), c.replies());
                }
                Bench.progress(line);
            }
        } finally {
            echo.stop();
        }
        double echoRate = median(echoRates);
        double pingRate = median(pingRates);
        report.add(new Report.Row("Socket floor: daemon PING, " + FLOOR_CONNS + " persistent connections",
                pingRate, "req/s", echoRate, "echo server (Java, same socket library)", 0.5, true, null));
        report.details.putPOJO("floors", Map.of("echo_per_s", echoRates, "ping_per_s", pingRates));
        if (flood) {
            report.add(new Report.Row("Wrong codes (brute-force flood), " + FLOOD_CONNS
                    + " connections, default lockout: the targets are locked", median(floodRates), "req/s", pingRate,
                    "daemon PING", 0.6, true, String.format(Locale.ROOT, "random users of %,d enrolled, each locked by "
                            + "5 wrong codes before the run; replies %s", plan.floodUsers, floodReplies)));
            report.add(new Report.Row("Wrong codes, every guess counted (targets below the lockout limit), "
                    + FLOOD_CONNS + " connections", median(countedRates), "req/s", pingRate, "daemon PING", 0.6, true,
                    String.format(Locale.ROOT, "%,d enrolled users, each guessed at most 4 times in random order: every "
                            + "guess decrypts the secret, checks 3 steps and writes a failure count (each round its own "
                            + "users); replies %s",
                            countedUsers(), countedReplies)));
            report.details.putPOJO("flood", Map.of("locked_per_s", floodRates, "locked_replies", floodReplies,
                    "counted_per_s", countedRates, "counted_replies", countedReplies));
        }
    }

    // ---------------------------------------------------------------- connection per request

    private void connectionPerRequest(Daemon main) throws IOException {
        Bench.progress("connection per request: CHECK + VERIFY (wrong code) on new connections vs one persistent, "
                + LOGIN_CONNS + " clients");
        String[] users = new String[4096];
        String[] codes = new String[users.length];
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < users.length; i++) {
            users[i] = name("f", r.nextInt(plan.floodUsers));
            codes[i] = Totp.wrongCode(Totp.secretFor(users[i]), 2);
        }
        List<Double> fresh = new ArrayList<>();
        List<Double> persistent = new ArrayList<>();
        List<Double> shapeFresh = new ArrayList<>();
        List<Double> shapePersistent = new ArrayList<>();
        Daemon shape = Daemon.shape(work.resolve("shape")).start();
        try {
            for (int round = 0; round < plan.rounds; round++) {
                Load.Throughput p = logins(main.socket, users, codes, false);
                Load.Throughput f = logins(main.socket, users, codes, true);
                Load.Throughput sp = logins(shape.socket, users, codes, false);
                Load.Throughput sf = logins(shape.socket, users, codes, true);
                persistent.add(p.perSecond());
                fresh.add(f.perSecond());
                shapePersistent.add(sp.perSecond());
                shapeFresh.add(sf.perSecond());
                Bench.progress(String.format(Locale.ROOT, "  round %d: persistent %,.0f logins/s, new connections %,.0f "
                        + "logins/s %s; do-nothing server of the same shape: %,.0f and %,.0f", round + 1, p.perSecond(),
                        f.perSecond(), f.replies(), sp.perSecond(), sf.perSecond()));
            }
        } finally {
            shape.stop();
        }
        report.add(new Report.Row("Connection per request: CHECK and VERIFY each on a new connection, "
                + LOGIN_CONNS + " clients", median(fresh), "logins/s", median(persistent),
                "same on persistent connections", 0.5, true,
                String.format(Locale.ROOT, "a login is CHECK then VERIFY, as the PAM module does; the code is wrong, so "
                        + "that no fsync hides the cost of the connections; a server of the daemon's shape that answers "
                        + "OK to every line and does nothing else (bench server-shape --kind threads) reaches %.2f "
                        + "(%,.0f against %,.0f)", median(shapeFresh) / median(shapePersistent), median(shapeFresh),
                        median(shapePersistent))));
        // What one new connection costs, in µs of the machine (two per login): 1/rate on new
        // connections minus 1/rate on persistent ones, for the daemon and for the do-nothing server.
        double daemonUs = (1e6 / median(fresh) - 1e6 / median(persistent)) / 2;
        double shapeUs = (1e6 / median(shapeFresh) - 1e6 / median(shapePersistent)) / 2;
        report.add(new Report.Row("Connection per request: what one new connection costs the daemon (µs of the "
                + "machine, from the rates above)", daemonUs, "µs", shapeUs,
                "a do-nothing server of the same shape (junixsocket, a thread per connection)", Double.NaN, false,
                "the part of a connection's cost that is the daemon's own work rather than the socket's and the "
                        + "client's; BENCHMARKS.md, issue 18, compares other server shapes"));
        report.details.putPOJO("connection_per_request", Map.of("new_per_s", fresh, "persistent_per_s", persistent,
                "shape_new_per_s", shapeFresh, "shape_persistent_per_s", shapePersistent));
    }

    /** CHECK then VERIFY (a wrong code) per login, on one connection per client or a new one per request. */
    private Load.Throughput logins(Path socket, String[] users, String[] codes, boolean newConnections)
            throws IOException {
        if (newConnections) {
            return Load.run(LOGIN_CONNS, plan.warmMs, plan.measureMs, i -> {
                int[] at = {ThreadLocalRandom.current().nextInt(users.length)};
                return () -> {
                    int k = at[0]++ % users.length;
                    try (Conn c = Conn.open(socket)) {
                        check(c, users[k]);
                    }
                    try (Conn c = Conn.open(socket)) {
                        return verify(c, users[k], codes[k]);
                    }
                };
            });
        }
        return Load.run(LOGIN_CONNS, plan.warmMs, plan.measureMs, i -> {
            Conn c = Conn.open(socket);
            int[] at = {ThreadLocalRandom.current().nextInt(users.length)};
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    int k = at[0]++ % users.length;
                    check(c, users[k]);
                    return verify(c, users[k], codes[k]);
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        });
    }

    /** A login's first half: CHECK must answer OK. */
    private static void check(Conn c, String user) throws IOException {
        String check = c.call("CHECK " + user);
        if (!check.startsWith("OK")) {
            throw new IOException("CHECK: " + check);
        }
    }

    /** A login's second half: the reply to VERIFY. */
    private static String verify(Conn c, String user, String code) throws IOException {
        return c.call("VERIFY " + user + " " + code + " service=bench");
    }

    // ---------------------------------------------------------------- latency under attack

    /**
     * Idle and attacked samples alternate in rounds (the machine is shared: a noisy minute should
     * hurt both), and the p99 of each condition is taken over all its samples.
     */
    private void latencyUnderAttack(Daemon main) throws IOException {
        int n = plan.latencySamples;
        int rounds = plan.quick ? 1 : 4;
        int per = n / rounds;
        enrol(main, "l", 2 * per * rounds, false);
        Bench.progress("latency: one legitimate client, " + per * rounds + " right codes idle and as many under a flood "
                + "of " + ATTACK_CONNS + " connections, in " + rounds + " round(s)");
        String[] wrong = wrongLines(20_000, 1);
        long[] idle = new long[per * rounds];
        long[] under = new long[per * rounds];
        long floodCount = 0;
        double floodSeconds = 0;
        Map<String, Long> floodReplies = new java.util.TreeMap<>();
        int nextUser = 0;
        for (int round = 0; round < rounds; round++) {
            System.arraycopy(legitimateApart(main, nextUser, per), 0, idle, round * per, per);
            nextUser += per;
            long[][] attacked = new long[1][];
            Load.Throughput[] result = new Load.Throughput[1];
            Thread flooder = new Thread(() -> {
                try {
                    result[0] = Load.run(ATTACK_CONNS, 1000, 3_600_000, cyclingUntil(main.socket, wrong, attacked));
                } catch (IOException e) {
                    failures.add("flood during the latency scenario failed: " + e);
                }
            });
            flooder.start();
            Daemon.sleep(1500);
            long[] samples = legitimateApart(main, nextUser, per);
            nextUser += per;
            attacked[0] = samples;
            try {
                flooder.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            System.arraycopy(samples, 0, under, round * per, per);
            if (result[0] != null) {
                floodCount += result[0].count();
                floodSeconds += result[0].seconds();
                result[0].replies().forEach((k, v) -> floodReplies.merge(k, v, Long::sum));
            }
            long[] a = Load.sorted(idle, (round + 1) * per);
            long[] b = Load.sorted(under, (round + 1) * per);
            Bench.progress(String.format(Locale.ROOT, "  round %d: idle p50 %.2f ms p99 %.2f ms; under attack p50 %.2f ms "
                            + "p99 %.2f ms (all rounds so far), flood %,.0f req/s", round + 1, Load.percentileMs(a, 50),
                    Load.percentileMs(a, 99), Load.percentileMs(b, 50), Load.percentileMs(b, 99),
                    result[0] == null ? Double.NaN : result[0].perSecond()));
        }
        long[] a = Load.sorted(idle, idle.length);
        long[] b = Load.sorted(under, under.length);
        double floodRate = floodSeconds == 0 ? Double.NaN : floodCount / floodSeconds;
        report.add(new Report.Row("Latency under attack: p99 of one legitimate VERIFY (right code) while "
                + ATTACK_CONNS + " connections flood wrong codes", Load.percentileMs(b, 99), "ms",
                Load.percentileMs(a, 99), "p99 on the idle daemon", 5.0, false,
                String.format(Locale.ROOT, "p50 %.2f ms under attack vs %.2f ms idle; %,d samples each, idle and attacked "
                                + "alternating in %d round(s); flood %,.0f req/s, replies %s", Load.percentileMs(b, 50),
                        Load.percentileMs(a, 50), idle.length, rounds, floodRate, floodReplies)));
        report.details.putPOJO("latency", Map.of(
                "idle_ms", Map.of("p50", Load.percentileMs(a, 50), "p99", Load.percentileMs(a, 99),
                        "max", Load.percentileMs(a, 100)),
                "attack_ms", Map.of("p50", Load.percentileMs(b, 50), "p99", Load.percentileMs(b, 99),
                        "max", Load.percentileMs(b, 100)),
                "flood_per_s", floodRate));
    }

    /** Like {@link #cycling}, but stops once {@code stop[0]} is set. */
    private static Load.Workers cyclingUntil(Path socket, String[] lines, long[][] stop) {
        Load.Workers inner = cycling(socket, lines);
        return i -> {
            Load.Worker w = inner.make(i);
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    return stop[0] != null ? null : w.step();
                }

                @Override
                public void close() {
                    w.close();
                }
            };
        };
    }

    /** VERIFY with the right code for users prefix(from) .. prefix(from+n-1), one at a time; the latencies. */
    static long[] legitimate(Path socket, String prefix, int from, int n) throws IOException {
        long[] samples = new long[n];
        try (Conn c = Conn.open(socket)) {
            for (int i = 0; i < n; i++) {
                String user = name(prefix, from + i);
                String code = Totp.code(Totp.secretFor(user), Totp.stepNow() + 1);
                String line = "VERIFY " + user + " " + code + " service=bench";
                long t0 = System.nanoTime();
                String reply = c.call(line);
                samples[i] = System.nanoTime() - t0;
                if (!reply.startsWith("OK")) {
                    throw new IOException("legitimate VERIFY " + user + ": " + reply);
                }
            }
        }
        return samples;
    }

    /**
     * What one durable change costs in the store's log against the floor of the disk: the daemon
     * jar's LogSyncBench, in a JVM of its own, in the work directory (the same file system).
     */
    private void logSync() throws IOException {
        int count = plan.quick() ? 2000 : 10_000;
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", daemonJar.toString(), "org.twofactord.daemon.store.log.LogSyncBench",
                work.resolve("logsync").toString(), Integer.toString(count));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).strip();
        try {
            if (p.waitFor() != 0 || !out.startsWith("log-sync ")) {
                throw new IOException("LogSyncBench failed (exit " + p.exitValue() + "): " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        String[] f = out.split(" ");
        double logP50 = Long.parseLong(f[1]) / 1000.0;
        double bareP50 = Long.parseLong(f[3]) / 1000.0;
        Bench.progress(String.format(Locale.ROOT, "log sync: one entry appended and synced p50 %.3f ms p99 %.3f ms; "
                + "bare write + fdatasync p50 %.3f ms p99 %.3f ms (%,d each)", logP50, Long.parseLong(f[2]) / 1000.0,
                bareP50, Long.parseLong(f[4]) / 1000.0, count));
        report.add(new Report.Row("Log sync: one change made durable in the store's log (one entry appended, fdatasync), p50",
                logP50, "ms", bareP50, "a bare write of as many bytes into a zero-filled file + fdatasync", 1.5, false,
                String.format(Locale.ROOT, "p99 %.3f ms vs %.3f ms", Long.parseLong(f[2]) / 1000.0,
                        Long.parseLong(f[4]) / 1000.0)));
    }

    /**
     * {@link #legitimate} in a JVM of its own (small heap, serial GC), so that pauses of this
     * process's flood threads do not count as the daemon's latency.
     */
    private static long[] legitimateApart(Daemon d, int from, int n) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xms32m", "-Xmx32m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                Bench.class.getName(), "legit", "--socket", d.socket.toString(), "--prefix", "l",
                "--from", Integer.toString(from), "--count", Integer.toString(n));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
        try {
            if (p.waitFor() != 0) {
                throw new IOException("the legitimate client failed (exit " + p.exitValue() + ")");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        long[] samples = out.lines().mapToLong(Long::parseLong).toArray();
        Bench.check(samples.length == n, "the legitimate client gave " + samples.length + " samples, not " + n);
        return samples;
    }

    // ---------------------------------------------------------------- accepted codes

    /** What one accepted-codes run saw. */
    private record Accepted(Load.Throughput throughput, List<long[]> oks, int doubleOks, int racedPairs) {
    }

    /**
     * The two daemons the accepted-codes scenario compares, group commit and {@code group_commit = no},
     * with their user pools ({@code prefix}a, {@code prefix}b), and what they saw. With a proxy
     * (PostgreSQL and {@code --db-latency-us}) both reach their databases through it.
     */
    private static final class AcceptPair {
        final String label;
        final String prefix;
        final Daemon grouped;
        final Daemon single;
        final LatencyProxy proxy;
        final long delayUs;
        final List<Double> groupedRates = new ArrayList<>();
        final List<Double> singleRates = new ArrayList<>();
        final List<Double> heldMedianUs = new ArrayList<>();
        final List<Double> proxyCpuUsPerOk = new ArrayList<>();
        final List<long[]> oks = new ArrayList<>();
        final Map<String, Long> replies = new java.util.TreeMap<>();
        int doubles;
        int raced;
        /** From the check after kill -9: {missing, out of window}. */
        int[] lost;

        AcceptPair(String label, String prefix, Daemon grouped, Daemon single, LatencyProxy proxy, long delayUs) {
            this.label = label;
            this.prefix = prefix;
            this.grouped = grouped;
            this.single = single;
            this.proxy = proxy;
            this.delayUs = delayUs;
        }
    }

    /**
     * Group commit against one commit per request, alternating in rounds on two daemons (each on
     * its own slice of its pool), the group-commit daemon last; then that daemon is killed with
     * SIGKILL while requests are in flight, reopened, and every OK it gave in any round is checked.
     * On PostgreSQL with {@code --db-latency-us 0,250}, the same again for a pair of daemons behind
     * a {@link LatencyProxy} per delay, every pair in every round, so that a noisy neighbour hurts
     * them all alike.
     */
    private Daemon acceptedCodes(Daemon main, Map<String, String> config) throws IOException {
        int rounds = plan.quick ? 1 : 3;
        Map<String, String> noGroup = new LinkedHashMap<>(config);
        noGroup.put("group_commit", "no");
        List<AcceptPair> pairs = new ArrayList<>();
        pairs.add(new AcceptPair("direct", "", main, Daemon.twofactord("nogroup", daemonJar, jvm, work.resolve("nogroup"),
                storeConfig("nogroup", noGroup)), null, 0));
        try {
            pairs.get(0).single.start();
            for (long delayUs : dbLatenciesUs()) {
                // Databases p1, p1nogroup, p2, ... are made by run.sh, a pair for each delay.
                int n = pairs.size();
                java.net.URI url = java.net.URI.create(opts.get("postgres-url-prefix").substring("jdbc:".length()));
                LatencyProxy proxy = new LatencyProxy(url.getHost(), url.getPort(), 0);
                String viaProxy = "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/";
                AcceptPair pair = new AcceptPair(delayUs + " µs", "p" + n,
                        Daemon.twofactord("p" + n, daemonJar, jvm, work.resolve("p" + n),
                                storeConfig("p" + n, config, viaProxy)),
                        Daemon.twofactord("p" + n + "nogroup", daemonJar, jvm, work.resolve("p" + n + "nogroup"),
                                storeConfig("p" + n + "nogroup", noGroup, viaProxy)), proxy, delayUs);
                pairs.add(pair);
                pair.grouped.start();
                pair.single.start();
            }
            for (AcceptPair pair : pairs) {
                // Enrolment is not what is measured: the proxies add nothing to it.
                if (pair.grouped != main) {
                    admin(pair.grouped, "POLICY ENABLE");
                }
                admin(pair.single, "POLICY ENABLE");
                enrol(pair.grouped, pair.prefix + "a", plan.acceptUsers, false);
                enrol(pair.single, pair.prefix + "b", plan.baselineUsers, false);
            }
            for (AcceptPair pair : pairs) {
                if (pair.proxy != null) {
                    pair.proxy.delayMicros(pair.delayUs);
                }
            }
            Bench.progress("accepted codes: " + ACCEPT_CONNS + " connections, a fresh right code for a distinct user each, "
                    + "every 16th sent twice at once; " + rounds + " round(s), then kill -9 while requests are in flight"
                    + (pairs.size() > 1 ? "; the database reached " + pairs.stream().map(p -> p.proxy == null ? "directly"
                            : "through a proxy adding " + p.label + " to each answer").toList() : ""));
            for (int round = 0; round < rounds; round++) {
                boolean last = round == rounds - 1;
                for (AcceptPair pair : pairs) {
                    long[] held = pair.proxy == null ? null : pair.proxy.heldSnapshot();
                    long cpu0 = pair.proxy == null ? 0 : pair.proxy.cpuNanos();
                    Accepted alone = accepted(pair.single, pair.prefix + "b", plan.baselineUsers * round / rounds,
                            plan.baselineUsers * (round + 1) / rounds, null);
                    pair.singleRates.add(alone.throughput.perSecond());
                    if (alone.doubleOks > 0) {
                        failures.add("accepted codes without group commit (" + pair.label + "): " + alone.doubleOks
                                + " codes with two OKs");
                    }
                    long cpu1 = pair.proxy == null ? 0 : pair.proxy.cpuNanos();
                    Accepted grouped = accepted(pair.grouped, pair.prefix + "a", plan.acceptUsers * round / rounds,
                            plan.acceptUsers * (round + 1) / rounds, last ? pair.grouped : null);
                    pair.groupedRates.add(grouped.throughput.perSecond());
                    pair.oks.addAll(grouped.oks);
                    pair.doubles += grouped.doubleOks;
                    pair.raced += grouped.racedPairs;
                    grouped.throughput.replies().forEach((k, v) -> pair.replies.merge(k, v, Long::sum));
                    String proxied = "";
                    if (pair.proxy != null) {
                        long cpu2 = pair.proxy.cpuNanos();
                        double heldUs = pair.proxy.heldMicros(held, 0.5);
                        pair.heldMedianUs.add(heldUs);
                        pair.proxyCpuUsPerOk.add((cpu2 - cpu1) / 1e3 / Math.max(1, grouped.oks.size()));
                        proxied = String.format(Locale.ROOT, "; proxy: answers held %.0f µs (median, p99 %.0f), "
                                        + "proxy CPU %.1f / %.1f µs per OK", heldUs, pair.proxy.heldMicros(held, 0.99),
                                (cpu2 - cpu1) / 1e3 / Math.max(1, grouped.oks.size()),
                                (cpu1 - cpu0) / 1e3 / Math.max(1, alone.oks.size()));
                    }
                    Bench.progress(String.format(Locale.ROOT, "  round %d, %s: group commit %,.0f OK/s %s, "
                                    + "group_commit = no %,.0f OK/s%s", round + 1, pair.label,
                            grouped.throughput.perSecond(), grouped.throughput.replies(), alone.throughput.perSecond(),
                            proxied));
                    if (last) {
                        // At once, while the codes OK'd in this round are still in the window.
                        recheckAfterKill(pair);
                    }
                }
            }
        } finally {
            for (AcceptPair pair : pairs) {
                pair.single.stop();
            }
        }
        Map<String, Object> details = new LinkedHashMap<>();
        for (AcceptPair pair : pairs) {
            int[] lost = pair.lost;
            if (pair.grouped != main) {
                pair.grouped.stop();
                pair.proxy.close();
            }
            String correctness = String.format(Locale.ROOT,
                    "%,d OKs, %d codes with two OKs (of %,d raced pairs), %d OKs missing from the store after kill -9 "
                            + "(USER shows no use, or the code was accepted again), %d re-checks out of the window",
                    pair.oks.size(), pair.doubles, pair.raced, lost[0], lost[1]);
            Bench.progress("  " + pair.label + ": " + correctness);
            if (pair.doubles > 0 || lost[0] > 0) {
                failures.add("accepted codes (" + pair.label + "): " + correctness);
            }
            if (pair.oks.isEmpty()) {
                failures.add("accepted codes (" + pair.label + "): no OK at all");
            }
            double rate = median(pair.groupedRates);
            Map<String, Object> d = new LinkedHashMap<>(Map.of("group_commit_ok_per_s", pair.groupedRates,
                    "no_group_commit_ok_per_s", pair.singleRates, "oks", pair.oks.size(), "double_oks", pair.doubles,
                    "raced_pairs", pair.raced, "lost_after_kill9", lost[0], "recheck_out_of_window", lost[1],
                    "replies", pair.replies));
            if (pair.proxy == null) {
                report.add(new Report.Row("Accepted codes (login burst), " + ACCEPT_CONNS + " connections, each OK durable",
                        rate, "OK/s", Double.NaN, null, Double.NaN, true,
                        "target ≥ 5,000 OK/s: " + (rate >= 5000 ? "met" : "**not met**") + "; " + correctness));
                report.add(new Report.Row("Accepted codes: group commit vs one commit per request", rate, "OK/s",
                        median(pair.singleRates), "group_commit = no", 8.0, true, null));
                report.details.putPOJO("accepted", d);
            } else {
                d.put("delay_us", pair.delayUs);
                d.put("held_median_us", pair.heldMedianUs);
                d.put("proxy_cpu_us_per_ok_group_commit", pair.proxyCpuUsPerOk);
                details.put(Long.toString(pair.delayUs), d);
                report.add(new Report.Row("Accepted codes, database through a proxy adding " + pair.label
                                + " to each answer: group commit vs one commit per request", rate, "OK/s",
                        median(pair.singleRates), "group_commit = no", 4.0, true, String.format(Locale.ROOT,
                                "answers held %.0f µs (median of the rounds' medians); %s", median(pair.heldMedianUs),
                                correctness)));
            }
        }
        if (!details.isEmpty()) {
            report.details.putPOJO("accepted_db_latency", details);
        }
        return main;
    }

    /** Reopens the store the kill left and checks that every OK the pair's group-commit daemon gave is there. */
    private void recheckAfterKill(AcceptPair pair) throws IOException {
        if (pair.proxy != null) {
            pair.proxy.delayMicros(0);
        }
        pair.grouped.start();
        Bench.progress(String.format(Locale.ROOT, "  %s: restarted after kill -9 in %.0f ms; checking all %,d OK'd steps",
                pair.label, pair.grouped.startupMs, pair.oks.size()));
        pair.lost = recheck(pair.grouped, pair.prefix + "a", pair.oks);
    }

    /** {@code --db-latency-us 0,250}: the delays of the proxied pairs (PostgreSQL only; none by default). */
    private List<Long> dbLatenciesUs() {
        String v = opts.get("db-latency-us");
        if (v == null || v.isBlank()) {
            return List.of();
        }
        if (opts.get("postgres-url-prefix") == null) {
            throw new IllegalArgumentException("--db-latency-us needs the PostgreSQL store (run.sh --store postgresql)");
        }
        List<Long> delays = Arrays.stream(v.split(",")).map(String::strip).map(Long::parseLong).toList();
        if (delays.size() > 3 || delays.stream().anyMatch(d -> d < 0)) {
            throw new IllegalArgumentException("--db-latency-us: up to three delays of 0 µs or more, not " + v);
        }
        return delays;
    }

    /**
     * Sends each user of the pool its fresh code once (every 16th twice, back to back, so that two
     * connections race with one code). With {@code kill} set, the load goes on for a moment after the
     * window and the daemon is killed with SIGKILL while requests are in flight.
     */
    private Accepted accepted(Daemon d, String prefix, int from, int to, Daemon kill) throws IOException {
        int users = to - from;
        int[] tasks = new int[users + users / 16 + 1];
        int t = 0;
        for (int u = from; u < to; u++) {
            tasks[t++] = u;
            if (u % 16 == 0) {
                tasks[t++] = u;
            }
        }
        int taskCount = t;
        AtomicInteger next = new AtomicInteger();
        ConcurrentLinkedQueue<long[]> oks = new ConcurrentLinkedQueue<>();
        ConcurrentHashMap<Long, AtomicInteger> okCount = new ConcurrentHashMap<>();
        long measureMs = plan.quick ? 1500 : 3000;
        // Leave users for the tail before the kill: the window ends early if the pool runs out.
        Load.Throughput throughput = Load.run(ACCEPT_CONNS, plan.warmMs, measureMs, kill == null ? 0 : 300, i -> {
            Conn c = Conn.open(d.socket);
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    int k = next.getAndIncrement();
                    if (k >= taskCount) {
                        return null;
                    }
                    int u = tasks[k];
                    String user = name(prefix, u);
                    long step = Totp.stepNow() + 1;
                    String reply = c.call("VERIFY " + user + " " + Totp.code(Totp.secretFor(user), step)
                            + " service=bench");
                    if (reply.startsWith("OK")) {
                        oks.add(new long[] {u, step});
                        okCount.computeIfAbsent(((long) u << 32) | (step & 0xffffffffL), x -> new AtomicInteger())
                                .incrementAndGet();
                    } else if (!reply.startsWith("NO replayed")) {
                        throw new IOException("VERIFY " + user + " with its fresh code: " + reply);
                    }
                    return reply;
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        }, kill == null ? null : kill::kill9);
        int doubles = (int) okCount.values().stream().filter(n -> n.get() > 1).count();
        return new Accepted(throughput, new ArrayList<>(oks), doubles, users / 16 + 1);
    }

    /**
     * After the restart: each OK'd user must show a last use (USER), and its code must now be
     * refused. Returns {missing, out of window}.
     */
    private int[] recheck(Daemon d, String prefix, List<long[]> oks) throws IOException {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger missing = new AtomicInteger();
        AtomicInteger outOfWindow = new AtomicInteger();
        long[][] all = oks.toArray(new long[0][]);
        Load.run(16, 0, 86_400_000L, i -> {
            Conn c = Conn.open(d.socket);
            return new Load.Worker() {
                @Override
                public String step() throws IOException {
                    int k = next.getAndIncrement();
                    if (k >= all.length) {
                        return null;
                    }
                    String user = name(prefix, (int) all[k][0]);
                    String info = c.call("USER " + user);
                    if (!info.startsWith("OK") || info.contains("\"last_used_at\":null")) {
                        missing.incrementAndGet();
                    }
                    String again = c.call("VERIFY " + user + " " + Totp.code(Totp.secretFor(user), all[k][1]));
                    if (again.startsWith("OK")) {
                        missing.incrementAndGet();
                    } else if (!again.startsWith("NO replayed")) {
                        outOfWindow.incrementAndGet();
                    }
                    return again;
                }

                @Override
                public void close() {
                    c.close();
                }
            };
        });
        return new int[] {missing.get(), outOfWindow.get()};
    }

    // ---------------------------------------------------------------- scale

    private void scale() throws IOException {
        int big = plan.scaleUsers;
        boolean postgres = opts.get("postgres-url-prefix") != null;
        Bench.progress(String.format(Locale.ROOT, "scale: stores of %,d and %,d users (10 backup codes each), "
                + "built with IMPORT%s", SMALL_SCALE_USERS, big,
                postgres ? " into MapDB, then store export and store import into PostgreSQL" : ""));
        Map<String, String> config = mainConfig();
        Daemon small = Daemon.twofactord("small", daemonJar, jvm, work.resolve("scale-small"),
                storeConfig("small", config));
        Daemon large = Daemon.twofactord("large", daemonJar, jvm, work.resolve("scale-large"),
                storeConfig("large", config));
        long[] buildPeak = new long[2];
        for (Daemon d : List.of(small, large)) {
            if (postgres) {
                buildPeak[d == small ? 0 : 1] = buildByImport(d, d == small ? SMALL_SCALE_USERS : big, config);
                continue;
            }
            d.start();
            try {
                admin(d, "POLICY ENABLE");
                enrol(d, "s", d == small ? SMALL_SCALE_USERS : big, true);
                buildPeak[d == small ? 0 : 1] = d.rssKb()[1];
            } finally {
                d.stop();
            }
        }
        Map<Daemon, List<Double>> startup = new LinkedHashMap<>();
        Map<Daemon, List<Double>> medians = new LinkedHashMap<>();
        Map<Daemon, long[]> rss = new LinkedHashMap<>();
        for (int round = 0; round < plan.scaleRounds; round++) {
            for (Daemon d : List.of(small, large)) {
                d.start();
                try {
                    startup.computeIfAbsent(d, x -> new ArrayList<>()).add(d.startupMs);
                    int n = d == small ? SMALL_SCALE_USERS : big;
                    double median = verifyMedian(d, n);
                    medians.computeIfAbsent(d, x -> new ArrayList<>()).add(median);
                    long[] now = d.rssKb();
                    long[] before = rss.getOrDefault(d, new long[2]);
                    rss.put(d, new long[] {Math.max(before[0], now[0]), Math.max(before[1], now[1])});
                    Bench.progress(String.format(Locale.ROOT, "  %,d users: start-up %.0f ms, VERIFY median %.3f ms, "
                            + "RSS %,d KiB (peak %,d KiB)", n, d.startupMs, median, now[0], now[1]));
                } finally {
                    d.stop();
                }
            }
        }
        long[] smallDb = postgres ? postgresBytes(small) : null;
        long[] largeDb = postgres ? postgresBytes(large) : null;
        long smallBytes = postgres ? smallDb[0] : storeBytes(small);
        long largeBytes = postgres ? largeDb[0] : storeBytes(large);
        String label = String.format(Locale.ROOT, "%,d users", big);
        report.add(new Report.Row("Scale, " + label + ": peak resident memory of the daemon (VmHWM)",
                rss.get(large)[1] / 1024.0, "MB", Double.NaN, null, Double.NaN, true,
                String.format(Locale.ROOT, "target ≤ 256 MB: %s; VmRSS after the VERIFY run %,d KiB; with %,d users "
                                + "peak %,d KiB; %s peak %,d KiB",
                        rss.get(large)[1] <= 256 * 1024 ? "met" : "**not met**", rss.get(large)[0],
                        SMALL_SCALE_USERS, rss.get(small)[1],
                        postgres ? "twofactord store import (the command line, same JVM options)"
                                : "while building the store (IMPORT)", buildPeak[1])));
        report.add(new Report.Row("Scale, " + label + ": start-up to the first answered request",
                median(startup.get(large)), "ms", median(startup.get(small)),
                String.format(Locale.ROOT, "%,d users", SMALL_SCALE_USERS), 2.0, false, null));
        report.add(new Report.Row("Scale, " + label + ": VERIFY median latency (wrong code, one client, each user read from the "
                + (postgres ? "database)" : "store file)"),
                median(medians.get(large)), "ms", median(medians.get(small)),
                String.format(Locale.ROOT, "%,d users", SMALL_SCALE_USERS), 1.5, false, null));
        double perUser = (double) largeBytes / big;
        report.add(new Report.Row("Scale, " + label + (postgres
                        ? ": database size per user (the tables with their indexes and TOAST)" : ": store file size per user"),
                perUser, "bytes", Double.NaN, null, Double.NaN, true,
                String.format(Locale.ROOT, "target ≤ 300 bytes/user: %s; %,d bytes in all; %,d users: %,d bytes%s",
                        perUser <= 300 ? "met" : "**not met**", largeBytes, SMALL_SCALE_USERS, smallBytes,
                        postgres ? String.format(Locale.ROOT, "; pg_database_size %,d bytes (%,d with %,d users: the "
                                + "catalogue, about 7.5 MB, is in both)", largeDb[1], smallDb[1], SMALL_SCALE_USERS) : "")));
        if (!postgres) {
            checkpointLatency(config, big, label);
        }
        report.details.putPOJO("scale", Map.of("users", big, "startup_ms_small", startup.get(small),
                "startup_ms_large", startup.get(large), "verify_median_ms_small", medians.get(small),
                "verify_median_ms_large", medians.get(large), "rss_kb_large", rss.get(large),
                "rss_kb_small", rss.get(small), "store_bytes_large", largeBytes, "store_bytes_small", smallBytes,
                "build_peak_rss_kb", buildPeak));
    }

    /**
     * Builds {@code target}'s PostgreSQL store of {@code users} users as an operator moving a
     * server to a fleet would: the users IMPORTed into a MapDB store by a daemon of its own (the
     * same records as the MapDB scale stores: ten backup codes each, random order), then
     * {@code twofactord store export} and {@code twofactord store import} into {@code target}'s
     * database, both under the daemon's JVM options. The import's rate is a row of the large
     * store. Returns the import's peak RSS in KiB.
     */
    private long buildByImport(Daemon target, int users, Map<String, String> config) throws IOException {
        Path buildDir = work.resolve("scale-" + target.name + "-mapdb");
        Daemon build = Daemon.twofactord(target.name + "-mapdb", daemonJar, jvm, buildDir, config);
        build.start();
        try {
            admin(build, "POLICY ENABLE");
            enrol(build, "s", users, true);
        } finally {
            build.stop();
        }
        Path file = work.resolve("scale-" + target.name + ".export");
        Daemon.CliRun export = build.cli(jvm, "store", "export", file.toString());
        long fileBytes = Files.size(file);
        Files.createDirectories(target.dir.resolve("state"));
        Files.copy(buildDir.resolve("state").resolve("master.key"), target.dir.resolve("state").resolve("master.key"),
                java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        Daemon.CliRun imported = target.cli(jvm, "store", "import", file.toString());
        Bench.progress(String.format(Locale.ROOT, "  store export: %.1f s (%,d bytes, peak RSS %,d KiB); store import into "
                        + "PostgreSQL: %.1f s, %,.0f users/s (peak RSS %,d KiB): %s", export.seconds(), fileBytes,
                export.peakRssKb(), imported.seconds(), users / imported.seconds(), imported.peakRssKb(),
                lastLine(imported.output())));
        Files.delete(file);
        try (Stream<Path> files = Files.walk(buildDir)) {
            for (Path p : (Iterable<Path>) files.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
        if (users == plan.scaleUsers) {
            report.add(new Report.Row(String.format(Locale.ROOT, "Scale, %,d users: twofactord store import into "
                    + "PostgreSQL (the whole command: start, every secret checked, COPY, commit)", users),
                    users / imported.seconds(), "users/s", Double.NaN, null, Double.NaN, true,
                    String.format(Locale.ROOT, "%.1f s for a %,d-byte export file; store export from MapDB %.1f s; "
                            + "peak RSS of the import %,d KiB, of the export %,d KiB", imported.seconds(), fileBytes,
                            export.seconds(), imported.peakRssKb(), export.peakRssKb())));
            report.details.putPOJO("scale_import", Map.of("users", users, "import_s", imported.seconds(),
                    "export_s", export.seconds(), "export_bytes", fileBytes, "import_peak_rss_kb", imported.peakRssKb(),
                    "export_peak_rss_kb", export.peakRssKb()));
        }
        return imported.peakRssKb();
    }

    /** The summary a command prints last, without the log lines before it. */
    private static String lastLine(String output) {
        String[] lines = output.strip().split("\n");
        return lines[lines.length - 1];
    }

    /**
     * The PostgreSQL store of daemon {@code d} (database bench_NAME): the bytes of its tables with
     * their indexes and TOAST, and {@code pg_database_size}, asked with psql.
     */
    private long[] postgresBytes(Daemon d) throws IOException {
        java.net.URI url = java.net.URI.create(opts.get("postgres-url-prefix").substring("jdbc:".length()));
        ProcessBuilder pb = new ProcessBuilder("psql", "-X", "-At", "-F", " ", "-h", url.getHost(),
                "-p", Integer.toString(url.getPort()), "-U", require("postgres-user"), "-d", "bench_" + d.name, "-c",
                "SELECT sum(pg_total_relation_size(c.oid)), pg_database_size(current_database()) FROM pg_class c "
                        + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'");
        pb.environment().put("PGPASSWORD", Files.readString(Path.of(require("postgres-password-file"))).strip());
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
        try {
            if (p.waitFor() != 0) {
                throw new IOException("psql: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        String[] parts = out.split(" ");
        return new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
    }

    /**
     * Median of single-client VERIFYs with wrong codes, each for a user not asked about since the
     * daemon started, so that every one reads its record from the store file (a user asked about
     * again is served from the daemon's record cache, which would make a small store look faster
     * only because it fits in it). The first 500 users warm the JIT up and are not counted; on the
     * 1,000-user store that leaves 500 samples.
     */
    private double verifyMedian(Daemon d, int users) throws IOException {
        long[] samples = verifySamples(d, users);
        return Load.percentileMs(samples, 50);
    }

    /** The sorted latencies of {@link #verifyMedian}'s VERIFYs, warm-up left out. */
    private long[] verifySamples(Daemon d, int users) throws IOException {
        int warm = 500;
        int n = Math.min(plan.scaleVerifies, users - warm);
        int[] order = new int[users];
        for (int i = 0; i < users; i++) {
            order[i] = i;
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = users - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        String[] lines = new String[warm + n];
        for (int i = 0; i < lines.length; i++) {
            String user = name("s", order[i]);
            lines[i] = "VERIFY " + user + " " + Totp.wrongCode(Totp.secretFor(user), 2);
        }
        long[] samples = new long[n];
        try (Conn c = Conn.open(d.socket)) {
            for (int i = 0; i < lines.length; i++) {
                long t0 = System.nanoTime();
                String reply = c.call(lines[i]);
                if (i >= warm) {
                    samples[i - warm] = System.nanoTime() - t0;
                }
                if (!reply.startsWith("NO")) {
                    throw new IOException("VERIFY with a wrong code: " + reply);
                }
            }
        }
        return Load.sorted(samples, n);
    }

    /**
     * The store of one server writes its checkpoints on a thread of its own: the p99 of a login
     * while a checkpoint of the whole large store is being written ({@code checkpoint_changes = 1}:
     * the first change starts one, and they follow back to back), against the p99 on the same
     * store with no checkpoint due. Each VERIFY is a change (a failure count).
     */
    private void checkpointLatency(Map<String, String> config, int big, String label) throws IOException {
        double[] p99 = new double[2];
        long published = 0;
        for (int pass = 0; pass < 2; pass++) {
            Map<String, String> c = new LinkedHashMap<>(config);
            if (pass == 1) {
                c.put("checkpoint_changes", "1");
            }
            Daemon d = Daemon.twofactord(pass == 0 ? "large-quiet" : "large-checkpointing", daemonJar, jvm,
                    work.resolve("scale-large"), c);
            d.start();
            try {
                p99[pass] = Load.percentileMs(verifySamples(d, big), 99);
                if (pass == 1) {
                    String stats = admin(d, "STATS");
                    published = new ObjectMapper().readTree(stats.substring(3)).path("store").path("checkpoints").asLong();
                }
            } finally {
                d.stop();
            }
            Bench.progress(String.format(Locale.ROOT, "  %s: VERIFY p99 %.2f ms", pass == 0 ? "no checkpoint due"
                    : "checkpoints of the whole store back to back", p99[pass]));
        }
        report.add(new Report.Row("Scale, " + label + ": p99 of a VERIFY while the store writes a checkpoint",
                p99[1], "ms", p99[0], "no checkpoint due", 5.0, false,
                String.format(Locale.ROOT, "checkpoints published by the end of the samples: %d (the first starts with "
                        + "the first change and takes longer than the samples: they all ran during it)", published)));
    }

    /**
     * The store's files: with the store of one server, everything under {@code state/store/} (the
     * live checkpoint and the log segments, zeros they were filled with included); with the
     * MapDB store of earlier versions, the files {@code twofactord.db*} (a baseline of an older build).
     */
    private static long storeBytes(Daemon d) throws IOException {
        long total = 0;
        try (Stream<Path> files = Files.walk(d.dir.resolve("state"))) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path rel = d.dir.resolve("state").relativize(p);
                if (Files.isRegularFile(p) && (rel.startsWith("store") || rel.toString().startsWith("twofactord.db"))) {
                    total += Files.size(p);
                }
            }
        }
        return total;
    }

    // ---------------------------------------------------------------- the end

    private int finish() throws IOException {
        for (Report.Row r : report.rows) {
            if (!r.hasNumbers()) {
                failures.add("no number for: " + r.scenario());
            }
        }
        String[] expected = {"Socket floor", "Wrong codes", "Connection per request", "Latency under attack",
            "Accepted codes (login", "Accepted codes: group", "PAM path", "Scale"};
        String only = opts.get("only");
        if (only == null) {
            for (String prefix : expected) {
                if (report.rows.stream().noneMatch(r -> r.scenario().startsWith(prefix))) {
                    failures.add("scenario did not run: " + prefix);
                }
            }
        }
        Path outDir = Path.of(opts.getOrDefault("out-dir", "."));
        Files.createDirectories(outDir);
        String when = Instant.now().toString();
        String header = String.format(Locale.ROOT, "Run of %s (%s mode), %d cores, daemon JVM options `%s`.",
                when, plan.quick ? "quick" : "full", Runtime.getRuntime().availableProcessors(), String.join(" ", jvm));
        Path md = Path.of(opts.getOrDefault("markdown", outDir.resolve("BENCHMARKS.md").toString()));
        report.writeMarkdown(md, header);
        ObjectNode head = new ObjectMapper().createObjectNode();
        head.put("date", when);
        head.put("mode", plan.quick ? "quick" : "full");
        head.put("cores", Runtime.getRuntime().availableProcessors());
        head.put("daemon_java_opts", String.join(" ", jvm));
        head.putPOJO("failures", failures);
        Path json = Path.of(opts.getOrDefault("json", outDir.resolve("results.json").toString()));
        report.writeJson(json, head);
        System.out.println();
        System.out.print(report.markdown(header));
        System.out.println();
        Bench.progress("wrote " + md + " and " + json);
        if (!failures.isEmpty()) {
            failures.forEach(f -> Bench.progress("FAILED: " + f));
            return 1;
        }
        return 0;
    }
}
