package org.twofactord.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The daemon as a separate JVM process, for tests that kill it or send it signals. */
public final class DaemonProcess implements AutoCloseable {
    public final Path stateDir;
    public final Path socket;
    public final Path log;
    private final Process process;

    private DaemonProcess(Path stateDir, Path socket, Process process, Path log) {
        this.stateDir = stateDir;
        this.socket = socket;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code twofactord serve --dev --state-dir DIR} and waits until it answers PING. */
    public static DaemonProcess start(Path stateDir, String... extraArgs) throws IOException, InterruptedException {
        return start(stateDir, stateDir.resolve("twofactord.sock"), extraArgs);
    }

    /** As {@link #start(Path, String...)}, listening on {@code socket}. */
    public static DaemonProcess start(Path stateDir, Path socket, String... extraArgs)
            throws IOException, InterruptedException {
        Files.createDirectories(stateDir.getParent());
        Path log = stateDir.resolveSibling(stateDir.getFileName() + ".log");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m",
                "-cp", System.getProperty("java.class.path"),
                "org.twofactord.daemon.Main", "serve", "--dev", "--state-dir", stateDir.toString(),
                "--socket", socket.toString()));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        DaemonProcess d = new DaemonProcess(stateDir, socket, p, log);
        d.awaitReady();
        return d;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("daemon exited with " + process.exitValue() + ": " + Files.readString(log));
            }
            if (Files.exists(socket)) {
                try (Client c = new Client(socket)) {
                    if ("OK".equals(c.call("PING"))) {
                        return;
                    }
                } catch (IOException e) {
                    // not yet
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("daemon did not answer within 30 s: " + Files.readString(log));
    }

    public Client client() throws IOException {
        return new Client(socket);
    }

    /** kill -9. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM, then the exit code (or -1 if it did not exit within the timeout). */
    public int terminate(long timeoutS) throws InterruptedException {
        process.destroy();
        return process.waitFor(timeoutS, TimeUnit.SECONDS) ? process.exitValue() : -1;
    }

    /** Resident memory of the daemon process, in kB (VmRSS). */
    public long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS");
    }

    public boolean alive() {
        return process.isAlive();
    }

    public String output() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
