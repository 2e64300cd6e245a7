package org.twofactord.bench;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Closed-loop load: N threads, each with its own worker, each sending its next request as soon as
 * the last reply arrived. A warm-up runs first; only requests completed inside the measured
 * window count. A worker may say it has run out of work, which ends the window early.
 */
final class Load {
    /** One thread's share of a scenario. */
    interface Worker extends AutoCloseable {
        /**
         * Sends one request (or one unit of work) and returns the reply line, or null when there is
         * no work left.
         */
        String step() throws IOException;

        @Override
        default void close() {
        }
    }

    /** Makes the worker of thread {@code index}. */
    interface Workers {
        Worker make(int index) throws IOException;
    }

    /** What a throughput run measured. */
    record Throughput(double perSecond, long count, double seconds, Map<String, Long> replies) {
    }

    private static final int WARMUP = 0;
    private static final int MEASURE = 1;
    /** Not counted any more, but still sending (see {@code tailMs}). */
    private static final int TAIL = 2;
    private static final int DONE = 3;

    private Load() {
    }

    static Throughput run(int threads, long warmupMs, long measureMs, Workers workers) throws IOException {
        return run(threads, warmupMs, measureMs, 0, workers, null);
    }

    /**
     * @param tailMs how long the workers go on after the window closes (the accepted-codes scenario
     *               kills the daemon then, while requests are in flight); 0 stops them at once
     * @param atTail  run at the end of the tail, before the workers are stopped (or null)
     */
    static Throughput run(int threads, long warmupMs, long measureMs, long tailMs, Workers workers, Runnable atTail)
            throws IOException {
        AtomicInteger phase = new AtomicInteger(WARMUP);
        long[][] counts = new long[threads][8]; // padded against false sharing
        @SuppressWarnings("unchecked")
        Map<String, Long>[] tallies = new Map[threads];
        AtomicBoolean exhausted = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch finished = new CountDownLatch(threads);
        Thread[] pool = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            int index = i;
            tallies[i] = new HashMap<>();
            pool[i] = new Thread(() -> {
                try (Worker w = workers.make(index)) {
                    ready.countDown();
                    while (phase.get() != DONE) {
                        String reply = w.step();
                        if (reply == null) {
                            exhausted.set(true);
                            return;
                        }
                        if (phase.get() == MEASURE) {
                            counts[index][0]++;
                            tallies[index].merge(kind(reply), 1L, Long::sum);
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    exhausted.set(true);
                } finally {
                    ready.countDown();
                    finished.countDown();
                }
            }, "load-" + i);
            pool[i].setDaemon(true);
            pool[i].start();
        }
        await(ready);
        long t0;
        long t1;
        waitUntil(System.nanoTime() + warmupMs * 1_000_000, exhausted);
        phase.set(MEASURE);
        t0 = System.nanoTime();
        waitUntil(t0 + measureMs * 1_000_000, exhausted);
        t1 = System.nanoTime();
        phase.set(TAIL);
        if (tailMs > 0) {
            Daemon.sleep(tailMs);
        }
        if (atTail != null) {
            atTail.run();
        }
        phase.set(DONE);
        try {
            finished.await(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure.get();
        if (t != null && atTail == null) {
            throw new IOException("a load thread failed: " + t, t);
        }
        long total = 0;
        Map<String, Long> replies = new TreeMap<>();
        for (int i = 0; i < threads; i++) {
            total += counts[i][0];
            tallies[i].forEach((k, v) -> replies.merge(k, v, Long::sum));
        }
        double seconds = (t1 - t0) / 1e9;
        return new Throughput(total / seconds, total, seconds, replies);
    }

    private static void waitUntil(long deadlineNanos, AtomicBoolean exhausted) {
        while (!exhausted.get()) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Daemon.sleep(Math.max(1, Math.min(5, left / 1_000_000)));
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The first words of a reply: "OK", "NO invalid", "ERR busy". */
    static String kind(String reply) {
        int sp = reply.indexOf(' ');
        if (reply.startsWith("OK") || sp < 0) {
            return sp < 0 ? reply : reply.substring(0, sp);
        }
        int sp2 = reply.indexOf(' ', sp + 1);
        return sp2 < 0 ? reply : reply.substring(0, sp2);
    }

    /** Percentile (0-100) of sorted nanosecond samples, in milliseconds. */
    static double percentileMs(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }

    static long[] sorted(long[] samples, int n) {
        long[] copy = Arrays.copyOf(samples, n);
        Arrays.sort(copy);
        return copy;
    }
}
