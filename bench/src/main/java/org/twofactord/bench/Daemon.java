package org.twofactord.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A daemon (or echo server) process started by the suite: its own state directory, socket and
 * configuration file. Every process started is killed at the latest when the suite's JVM exits,
 * and its pid is appended to {@code BENCH_PIDFILE} so that {@code run.sh}'s trap can kill it too.
 */
final class Daemon implements AutoCloseable {
    private static final List<Process> ALL = new CopyOnWriteArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> ALL.forEach(Process::destroyForcibly)));
    }

    final String name;
    final Path dir;
    final Path socket;
    private final List<String> command;
    /** The jar and configuration file of a twofactord, for {@link #cli}; null for the echo server. */
    private final Path jar;
    private final Path conf;
    private Process process;
    /** Milliseconds from spawning the process to the first answered PING. */
    double startupMs;

    private Daemon(String name, Path dir, Path socket, List<String> command, Path jar, Path conf) {
        this.name = name;
        this.dir = dir;
        this.socket = socket;
        this.command = command;
        this.jar = jar;
        this.conf = conf;
    }

    /** A twofactord on {@code dir} with these configuration keys (besides socket and state_dir). */
    static Daemon twofactord(String name, Path jar, List<String> jvmOptions, Path dir, Map<String, String> config)
            throws IOException {
        Files.createDirectories(dir);
        Path socket = dir.resolve("sock");
        Path conf = dir.resolve("twofactord.conf");
        StringBuilder sb = new StringBuilder();
        config.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
        Files.writeString(conf, sb.toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar.toString(), "serve", "--state-dir", dir.resolve("state").toString(),
                "--socket", socket.toString(), "--config", conf.toString()));
        if (!isRoot()) {
            cmd.add("--dev"); // this uid then counts as root, so the suite may IMPORT; --config is still read
        }
        return new Daemon(name, dir, socket, cmd, jar, conf);
    }

    /** What a command-line run printed, how long it took and its peak resident memory. */
    record CliRun(String output, double seconds, long peakRssKb) {
    }

    /**
     * Runs {@code twofactord ARGS} on this daemon's configuration and state directory (a store
     * command such as {@code store import}, with the daemon stopped) under {@code jvmOptions};
     * fails unless it exits 0. The peak RSS is sampled from /proc every 50 ms.
     */
    CliRun cli(List<String> jvmOptions, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBinary());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar.toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--config", conf.toString(), "--state-dir", dir.resolve("state").toString()));
        Path log = dir.resolve(name + "-cli.log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        long t0 = System.nanoTime();
        Process p = pb.start();
        ALL.add(p);
        String pidFile = System.getenv("BENCH_PIDFILE");
        if (pidFile != null) {
            Files.writeString(Path.of(pidFile), p.pid() + "\n", StandardCharsets.US_ASCII,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        long peak = 0;
        try {
            while (!p.waitFor(50, TimeUnit.MILLISECONDS)) {
                try {
                    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                        if (line.startsWith("VmHWM:")) {
                            peak = Math.max(peak, Long.parseLong(line.replaceAll("\\D", "")));
                        }
                    }
                } catch (IOException gone) {
                    // it has just exited
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        } finally {
            ALL.remove(p);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String out = Files.readString(log);
        if (p.exitValue() != 0) {
            throw new IOException("twofactord " + String.join(" ", args) + " exited with " + p.exitValue() + ": " + out);
        }
        return new CliRun(out, seconds, peak);
    }

    /** The echo server of this jar. */
    static Daemon echo(Path dir) throws IOException {
        return benchServer("echo", dir, List.of(), "echo-server");
    }

    /** A do-nothing server of the daemon's shape (ServerShapes, kind threads), for the connection rows. */
    static Daemon shape(Path dir) throws IOException {
        return benchServer("shape", dir, List.of("-XX:TieredStopAtLevel=1"), "server-shape", "--kind", "threads",
                "--socket");
    }

    /** A server of this jar: {@code bench COMMAND... DIR/NAME.sock} in a JVM of its own. */
    private static Daemon benchServer(String name, Path dir, List<String> jvmOptions, String... command)
            throws IOException {
        Files.createDirectories(dir);
        Path socket = dir.resolve(name + ".sock");
        List<String> cmd = new ArrayList<>(List.of(javaBinary(), "-Xmx64m", "-XX:+UseSerialGC"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Bench.class.getName()));
        cmd.addAll(List.of(command));
        cmd.add(socket.toString());
        return new Daemon(name, dir, socket, cmd, null, null);
    }

    static boolean isRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue() == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Starts the process and waits until it answers PING. */
    Daemon start() throws IOException {
        Files.deleteIfExists(socket);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
        long t0 = System.nanoTime();
        process = pb.start();
        ALL.add(process);
        String pidFile = System.getenv("BENCH_PIDFILE");
        if (pidFile != null) {
            Files.writeString(Path.of(pidFile), process.pid() + "\n", StandardCharsets.US_ASCII,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        long deadline = t0 + TimeUnit.SECONDS.toNanos(120);
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with " + process.exitValue() + " during start-up; see "
                        + dir.resolve(name + ".log"));
            }
            if (Files.exists(socket)) {
                try (Conn c = Conn.open(socket)) {
                    String reply = c.call("PING");
                    if (reply.startsWith("OK")) {
                        startupMs = (System.nanoTime() - t0) / 1e6;
                        return this;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(name + " did not answer within 120 s");
            }
            sleep(2);
        }
    }

    long pid() {
        return process.pid();
    }

    /** Resident memory now and at its peak, in KiB, from /proc. */
    long[] rssKb() throws IOException {
        long rss = 0;
        long hwm = 0;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.replaceAll("\\D", ""));
            } else if (line.startsWith("VmHWM:")) {
                hwm = Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return new long[] {rss, hwm};
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill9() {
        process.destroyForcibly();
        waitFor();
    }

    /** SIGTERM (an orderly shutdown that commits and closes the store), then SIGKILL after 30 s. */
    void stop() {
        if (process == null || !process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        waitFor();
    }

    private void waitFor() {
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ALL.remove(process);
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
    }
}
