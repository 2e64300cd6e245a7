package org.twofactord.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Entry point: {@code suite} runs every scenario (what bench/run.sh calls), {@code echo-server}
 * is the socket floor's server. Options are {@code --name value} pairs.
 */
public final class Bench {
    private static final long STARTED = System.nanoTime();

    private Bench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: bench suite [--quick] --work DIR --daemon-jar JAR --out-dir DIR [...]\n"
                    + "       bench echo-server SOCKET\n"
                    + "       bench accept-cost [--seconds 2] [--rounds 3] [--dir DIR]\n"
                    + "       bench server-shape --kind threads|threads-jdk|loop --socket PATH [--threads 8]\n"
                    + "       bench load --socket PATH --lines FILE [--conns 16] [--seconds 10] [--fresh]");
            System.exit(2);
        }
        switch (args[0]) {
            case "echo-server" -> EchoServer.run(Path.of(args[1]));
            case "suite" -> System.exit(new Suite(options(Arrays.copyOfRange(args, 1, args.length))).run());
            case "load" -> load(options(Arrays.copyOfRange(args, 1, args.length)));
            case "legit" -> legit(options(Arrays.copyOfRange(args, 1, args.length)));
            case "accept-cost" -> AcceptCost.run(options(Arrays.copyOfRange(args, 1, args.length)));
            case "server-shape" -> {
                Map<String, String> o = options(Arrays.copyOfRange(args, 1, args.length));
                ServerShapes.run(o.getOrDefault("kind", "threads"), Path.of(o.get("socket")),
                        Integer.parseInt(o.getOrDefault("threads", "8")));
            }
            default -> {
                System.err.println("unknown command " + args[0]);
                System.exit(2);
            }
        }
    }

    /**
     * For profiling by hand: sends the lines of a file in turn over N connections for a while and
     * prints the rate. {@code bench load --socket S --lines FILE [--conns 16] [--seconds 10] [--fresh]}
     */
    private static void load(Map<String, String> o) throws IOException {
        Path socket = Path.of(o.get("socket"));
        String[] lines = java.nio.file.Files.readAllLines(Path.of(o.get("lines"))).toArray(new String[0]);
        int conns = Integer.parseInt(o.getOrDefault("conns", "16"));
        long ms = (long) (Double.parseDouble(o.getOrDefault("seconds", "10")) * 1000);
        boolean fresh = o.containsKey("fresh"); // a new connection for every request
        Load.Throughput t = Load.run(conns, 1000, ms, fresh ? i -> () -> {
            try (Conn c = Conn.open(socket)) {
                return c.call(lines[java.util.concurrent.ThreadLocalRandom.current().nextInt(lines.length)]);
            }
        } : i -> {
            Conn c = Conn.open(socket);
            int[] at = {java.util.concurrent.ThreadLocalRandom.current().nextInt(lines.length)};
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
        });
        System.out.printf("%,.0f req/s %s%n", t.perSecond(), t.replies());
    }

    /**
     * The legitimate client of the latency scenario, in a JVM of its own so that the flood
     * generator's garbage collections are not counted as the daemon's latency: VERIFYs the right
     * code of users prefix(from) .. prefix(from+count-1) one at a time, prints each latency in ns.
     */
    private static void legit(Map<String, String> o) throws IOException {
        Path socket = Path.of(o.get("socket"));
        int from = Integer.parseInt(o.get("from"));
        int count = Integer.parseInt(o.get("count"));
        long[] samples = Suite.legitimate(socket, o.getOrDefault("prefix", "l"), from, count);
        StringBuilder sb = new StringBuilder();
        for (long sample : samples) {
            sb.append(sample).append('\n');
        }
        System.out.print(sb);
        System.out.flush();
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> map = new HashMap<>();
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        for (int i = 0; i < rest.size(); i++) {
            String a = rest.get(i);
            if (!a.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + a);
            }
            String key = a.substring(2);
            if (i + 1 < rest.size() && !rest.get(i + 1).startsWith("--")) {
                map.put(key, rest.get(++i));
            } else {
                map.put(key, "true");
            }
        }
        return map;
    }

    /** One line of progress on the terminal, with the seconds since start. */
    static void progress(String line) {
        System.out.printf("[%4ds] %s%n", (System.nanoTime() - STARTED) / 1_000_000_000L, line);
        System.out.flush();
    }

    static void check(boolean condition, String what) throws IOException {
        if (!condition) {
            throw new IOException(what);
        }
    }
}
