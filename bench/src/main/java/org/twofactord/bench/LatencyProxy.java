package org.twofactord.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP proxy on 127.0.0.1 in front of the PostgreSQL server that holds every chunk the server
 * sends back for a set time before passing it on, so that daemons on this host see their database
 * as a fleet's daemons see one on another host.
 *
 * <p>Only the answers are delayed; what the client sends goes through at once. For a
 * request/response protocol, which PostgreSQL's is (a client waits for the answer before it sends
 * what depends on it), a one-way delay of D on the answers costs each round trip D, as a network
 * with a round-trip time of D would, and a row lock held across round trips is held as long. It is
 * not a network in every respect: messages a client sends without waiting (a pipelined JDBC batch)
 * reach the server D/2 sooner than they would, and bandwidth is not limited.
 *
 * <p>Each server-to-client chunk is stamped when read and written out by a second thread once its
 * time has come (parked, not spun, and never per byte); chunks leave in the order they came, since
 * every deadline is its arrival plus the same delay. Parking overshoots by the timer's slack, so
 * the proxy records how long each chunk was actually held ({@link #heldMicros}). With a delay of 0
 * the chunks take the same path, and what is left is the proxy's own cost: one more hop and a
 * thread hand-off per answer. Its threads are daemon threads, so it ends with the suite's JVM
 * whatever happens; {@link #close} ends it sooner.
 */
final class LatencyProxy implements AutoCloseable {
    /** Held times are counted in 10 µs buckets up to 100 ms. */
    private static final int BUCKET_US = 10;
    private static final int BUCKETS = 10_000;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final ServerSocket listener;
    private final String targetHost;
    private final int targetPort;
    private volatile long delayNanos;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final AtomicLong finishedCpuNanos = new AtomicLong();
    private final AtomicLong chunks = new AtomicLong();
    private final AtomicLongArray held = new AtomicLongArray(BUCKETS);

    /** A chunk of an answer and when it arrived from the server. */
    private record Chunk(byte[] bytes, long arrivedNanos) {
    }

    private static final Chunk END = new Chunk(new byte[0], 0);

    LatencyProxy(String targetHost, int targetPort, long delayMicros) throws IOException {
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        delayMicros(delayMicros);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        start(this::accept, "latency-proxy");
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Sets the delay of the answers from now on (enrolment runs at 0, the measurement at the set delay). */
    void delayMicros(long micros) {
        if (micros < 0) {
            throw new IllegalArgumentException("a delay is 0 or more µs, not " + micros);
        }
        delayNanos = micros * 1000;
    }

    /** Answer chunks passed on so far. */
    long chunks() {
        return chunks.get();
    }

    /** CPU time of the proxy's threads so far, the ones still running and the ones that ended. */
    long cpuNanos() {
        long sum = finishedCpuNanos.get();
        for (Thread t : threads) {
            long n = THREADS.getThreadCpuTime(t.getId());
            if (n > 0) {
                sum += n;
            }
        }
        return sum;
    }

    /** A copy of the held-time histogram, to subtract from a later one (see {@link #heldMicros}). */
    long[] heldSnapshot() {
        long[] a = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            a[i] = held.get(i);
        }
        return a;
    }

    /**
     * The {@code quantile} (0.5 for the median) of how long the chunks passed on since
     * {@code before} were held, from arrival to written, in µs; NaN if none were.
     */
    double heldMicros(long[] before, double quantile) {
        long[] d = heldSnapshot();
        long total = 0;
        for (int i = 0; i < BUCKETS; i++) {
            d[i] -= before[i];
            total += d[i];
        }
        if (total == 0) {
            return Double.NaN;
        }
        long rank = (long) Math.ceil(quantile * total);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += d[i];
            if (seen >= rank) {
                return (i + 0.5) * BUCKET_US;
            }
        }
        return BUCKETS * BUCKET_US;
    }

    private void accept() {
        while (!listener.isClosed()) {
            Socket client;
            Socket server;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            try {
                server = new Socket(targetHost, targetPort);
            } catch (IOException e) {
                close(client); // the client sees the connection refused, as it would without the proxy
                continue;
            }
            try {
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
            } catch (IOException e) {
                close(client);
                close(server);
                continue;
            }
            open.add(client);
            open.add(server);
            BlockingQueue<Chunk> answers = new LinkedBlockingQueue<>();
            start(() -> forward(client, server), "latency-proxy-request");
            start(() -> readAnswers(server, client, answers), "latency-proxy-answer-read");
            start(() -> writeAnswers(answers, client, server), "latency-proxy-answer-write");
        }
    }

    /** Client to server: at once. */
    private void forward(Socket client, Socket server) {
        byte[] buffer = new byte[65536];
        try (InputStream in = client.getInputStream(); OutputStream out = server.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // one side closed
        } finally {
            close(client);
            close(server);
        }
    }

    private void readAnswers(Socket server, Socket client, BlockingQueue<Chunk> answers) {
        byte[] buffer = new byte[65536];
        try (InputStream in = server.getInputStream()) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                answers.add(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()));
            }
        } catch (IOException e) {
            // one side closed
        } finally {
            answers.add(END);
        }
    }

    private void writeAnswers(BlockingQueue<Chunk> answers, Socket client, Socket server) {
        try (OutputStream out = client.getOutputStream()) {
            while (true) {
                Chunk c = answers.take();
                if (c == END) {
                    return;
                }
                long due = c.arrivedNanos + delayNanos;
                for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                    LockSupport.parkNanos(wait);
                }
                out.write(c.bytes);
                out.flush();
                long heldUs = (System.nanoTime() - c.arrivedNanos) / 1000;
                held.incrementAndGet((int) Math.min(BUCKETS - 1, heldUs / BUCKET_US));
                chunks.incrementAndGet();
            }
        } catch (IOException e) {
            // the client closed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            close(client);
            close(server);
        }
    }

    private void start(Runnable body, String name) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } finally {
                finishedCpuNanos.addAndGet(Math.max(0, THREADS.getCurrentThreadCpuTime()));
                threads.remove(Thread.currentThread());
            }
        }, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        open.forEach(LatencyProxy::close);
    }
}
