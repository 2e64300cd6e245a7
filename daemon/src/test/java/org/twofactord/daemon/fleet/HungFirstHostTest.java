package org.twofactord.daemon.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.LogCapture;
import org.twofactord.daemon.MutableClock;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.store.PostgresServer;
import org.twofactord.daemon.store.postgres.PostgresStore;

/**
 * A daemon on a two-host URL whose first host hangs, as an old primary does after a failover that
 * did not fence it: it starts, and serves through the second host without a single
 * {@code ERR unavailable}, also while pgjdbc probes the hung host again (every
 * {@code hostRecheckSeconds}, 10 s) for the new connections the daemon makes after its connections
 * are broken every 2 s. The hung host is a listening socket that accepts and never answers (as the
 * kernel does for a stopped server), or one whose queue is full, so that a connect gets no answer
 * at all (as from a machine powered off). With a 1 s login timeout for the whole URL the daemon
 * did not even start: the hung host used it up.
 */
class HungFirstHostTest {
    /** The PAM module's reply timeout: no request may take longer. */
    static final int CLIENT_TIMEOUT_MS = 5000;
    /** Long enough for two re-probes of the hung host after pgjdbc marked it failed (10 s each). */
    static final long RUN_MS = 22_000;
    /** Long enough for one: a connect that gets no answer costs what a read that gets none does. */
    static final long SHORT_RUN_MS = 12_000;
    static final long BREAK_EVERY_MS = 2000;

    @TempDir
    Path dir;
    PostgresServer postgres;
    TestDaemon daemon;
    ServerSocket hung;
    final List<Socket> held = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger probes = new AtomicInteger();
    LogCapture storeLog;

    @BeforeEach
    void start() throws Exception {
        postgres = PostgresServer.shared();
        storeLog = LogCapture.start(PostgresStore.class, Level.INFO);
    }

    @AfterEach
    void stop() throws Exception {
        storeLog.close();
        if (daemon != null) {
            daemon.close();
        }
        if (hung != null) {
            hung.close();
        }
        synchronized (held) {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /** Accepts every connection and never reads or writes: a server that is stopped. */
    private int silentServer() throws IOException {
        hung = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!hung.isClosed()) {
                try {
                    held.add(hung.accept());
                    probes.incrementAndGet();
                } catch (IOException e) {
                    return; // closed
                }
            }
        }, "hung-first-host");
        t.setDaemon(true);
        t.start();
        return hung.getLocalPort();
    }

    /** Listens with a full queue and never accepts: a connect gets no answer, as from a machine that is off. */
    private int blackHole() throws IOException {
        hung = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        // Connections queue until the queue is full (Linux: backlog + 1); the SYNs after are dropped.
        for (int i = 0; ; i++) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), hung.getLocalPort()), 300);
            } catch (SocketTimeoutException full) {
                s.close();
                return hung.getLocalPort();
            }
            held.add(s);
            if (i == 10) {
                throw new IllegalStateException("the listening queue does not fill up");
            }
        }
    }


    @Test
    void aFirstHostThatAcceptsAndNeverAnswersCostsNoUnavailable() throws Exception {
        run(silentServer(), true, RUN_MS);
    }

    @Test
    void aFirstHostThatNeverAnswersAConnectCostsNoUnavailable() throws Exception {
        run(blackHole(), false, SHORT_RUN_MS);
    }

    private void run(int hungPort, boolean countProbes, long runMs) throws Exception {
        String db = postgres.createDatabase();
        String name = db.substring(db.lastIndexOf('/') + 1);
        String url = "jdbc:postgresql://127.0.0.1:" + hungPort + ",127.0.0.1:" + postgres.port + "/" + name
                + "?targetServerType=primary";
        daemon = new TestDaemon(dir.resolve("d"), MutableClock.atStepStart());
        PostgresServer.configure(daemon, url, dir.resolve("d"));
        long startedAt = System.nanoTime();
        daemon.start(); // a StoreException here: the hung host used up the login
        long startMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
        int probesAtStart = probes.get();

        int requests = 0;
        int breaks = 0;
        long slowestMs = 0;
        List<String> wrong = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(runMs);
        long nextBreak = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BREAK_EVERY_MS);
        try (Client c = daemon.client(); Connection admin = postgres.superuser("postgres");
             PreparedStatement terminate = admin.prepareStatement("SELECT count(pg_terminate_backend(pid)) "
                     + "FROM pg_stat_activity WHERE datname = ? AND application_name = 'twofactord'")) {
            c.socket.setSoTimeout(CLIENT_TIMEOUT_MS); // a later reply fails the test
            terminate.setString(1, name);
            while (System.nanoTime() < end) {
                if (System.nanoTime() > nextBreak) {
                    // Every connection of the daemon breaks: the next requests need new ones.
                    terminate.executeQuery().close();
                    breaks++;
                    nextBreak = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BREAK_EVERY_MS);
                }
                // A read on a pooled connection, then a commit on the writer's.
                for (String request : List.of("CHECK alice", requests % 4 == 0 ? "POLICY REQUIRE" : "POLICY ENABLE")) {
                    long sent = System.nanoTime();
                    String reply = c.call(request);
                    slowestMs = Math.max(slowestMs, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent));
                    requests++;
                    if (reply.startsWith("ERR")) {
                        wrong.add(request + ": " + reply);
                    }
                }
                Thread.sleep(100);
            }
        }
        long lost = storeLog.events().stream().filter(e -> e.getFormattedMessage().startsWith("lost the database")).count();
        System.out.printf("hung first host (%s): started in %d ms; %d requests, %d answered ERR, slowest %d ms; "
                + "connections broken %d times; connections to the hung host %s; %d losses logged%n",
                countProbes ? "accepts, never answers" : "connect never answered", startMs, requests, wrong.size(),
                slowestMs, breaks,
                countProbes ? probesAtStart + " at start, " + (probes.get() - probesAtStart) + " after" : "?", lost);
        assertEquals(List.of(), wrong.subList(0, Math.min(10, wrong.size())), wrong.size() + " replies were ERR");
        assertEquals(0, lost, "losses logged");
        if (countProbes) {
            // Probed at start, then again each time pgjdbc's 10 s of trusting its ConnectFail run out
            // while connections are made; none after the start would mean the test saw no re-probe.
            assertTrue(probes.get() > probesAtStart, "the hung host was probed again after the start: "
                    + probesAtStart + " connections at start, " + probes.get() + " in all");
        }
    }
}
