package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.TestDaemon;

/**
 * A thousand connections opened and closed in a tight loop by one ordinary uid (half of them
 * after a PING, half with no request at all) must leave nothing behind in the daemon: no file
 * descriptor, no thread, no memory, no count against that uid's connection limit; and a verifier
 * logging users in on new connections meanwhile, as the PAM module does, must get every answer.
 * The daemon runs in this JVM, so /proc/self/fd and this JVM's threads are the daemon's.
 */
class ConnectionChurnLeaksNothingTest {
    static final String CHURNER = RealUsers.name("churn");
    static final int CONNECTIONS = 1000;
    /** The default max_connections_per_uid, set here so that the test says it. */
    static final int PER_UID = 16;

    Path dir;
    TestDaemon daemon;

    @BeforeAll
    static void account() throws Exception {
        RealUsers.requireRoot();
        RealUsers.user(CHURNER);
    }

    @AfterAll
    static void removeAccount() throws Exception {
        if (TestDaemon.currentUid() == 0) {
            RealUsers.removeAll(List.of(CHURNER), List.of());
        }
    }

    @BeforeEach
    void start() throws Exception {
        dir = Files.createTempDirectory("tfd-churn");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("Churn.java"), CHURN_CLIENT);
        daemon = new TestDaemon(dir.resolve("d")).rootUid(0).set("socket_mode", "0666")
                .set("max_connections_per_uid", Integer.toString(PER_UID)).start();
        Files.setPosixFilePermissions(dir.resolve("d"), PosixFilePermissions.fromString("rwxr-xr-x"));
        try (Client root = daemon.client()) {
            root.send("POLICY ENABLE");
            assertTrue(root.read().startsWith("OK"));
            root.send("IMPORT alice JBSWY3DPEHPK3PXPJBSWY3DP");
            assertTrue(root.read().startsWith("OK"));
        }
    }

    @AfterEach
    void stop() throws Exception {
        daemon.close();
        RealUsers.sh("rm", "-rf", dir.toString());
    }

    @Test
    void aThousandConnectionsOfOneUidLeakNothingAndNeverStarveAVerifier() throws Exception {
        // Warm up: the accepting threads exist, classes are loaded, the uid's entry was made once.
        assertEquals("done 20", runAs("churn", 20));
        Snapshot before = Snapshot.settled(null);

        AtomicBoolean churning = new AtomicBoolean(true);
        AtomicInteger logins = new AtomicInteger();
        AtomicReference<String> starved = new AtomicReference<>();
        Thread verifier = new Thread(() -> {
            while (churning.get() && starved.get() == null) {
                try {
                    String check;
                    try (Client c = daemon.client()) {
                        c.send("CHECK alice");
                        check = c.read();
                    }
                    String verify;
                    try (Client c = daemon.client()) {
                        c.send("VERIFY alice 000000 service=churn");
                        verify = c.read();
                    }
                    if (check == null || !check.startsWith("OK") || verify == null || !verify.startsWith("NO ")) {
                        starved.set("CHECK: " + check + ", VERIFY: " + verify);
                    }
                    logins.incrementAndGet();
                } catch (IOException e) {
                    starved.set(e.toString()); // a timeout (10 s) included
                }
            }
        }, "verifier");
        verifier.start();
        String churned;
        try {
            churned = runAs("churn", CONNECTIONS);
        } finally {
            churning.set(false);
            verifier.join(30_000);
        }
        assertEquals("done " + CONNECTIONS, churned, "every PING of the churning uid was answered");
        assertEquals(null, starved.get(), "the verifier got every answer");
        assertTrue(logins.get() > 0, "the verifier logged in while the uid churned");

        Snapshot after = Snapshot.settled(before);
        assertTrue(after.fds <= before.fds + 2, "file descriptors: " + before.fds + " before, " + after.fds + " after");
        // A pool keeps a thread idle for a minute after its last task: those are not leaks, and
        // are not counted; every other thread (accepting, serving, anything stuck) is.
        assertTrue(after.busyThreads <= before.busyThreads,
                "threads not idle in a pool: " + before.busyThreads + " before, " + after.busyThreads + " after: "
                        + Snapshot.busyThreadNames());
        assertTrue(after.heapBytes <= before.heapBytes + (4L << 20),
                "heap in use after GC: " + before.heapBytes + " before, " + after.heapBytes + " after");
        // Nothing was left counted against the uid: it may still hold its whole allowance at once.
        assertEquals("held " + PER_UID, runAs("hold", PER_UID));
    }

    /** Runs the client below as the churning uid (JDK UNIX-domain sockets, no junixsocket). */
    private String runAs(String mode, int count) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder("setpriv", "--reuid=" + CHURNER, "--regid=" + CHURNER, "--init-groups",
                java, "-Xshare:auto", dir.resolve("Churn.java").toString(), mode, daemon.socket().toString(),
                Integer.toString(count)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the client finished");
        assertEquals(0, p.exitValue(), "the client failed: " + out);
        return out;
    }

    /**
     * File descriptors, threads not idle in a pool and heap in use (after GC) of this JVM, the
     * daemon's.
     */
    private record Snapshot(long fds, long busyThreads, long heapBytes) {
        static Snapshot now() throws IOException {
            System.gc();
            System.gc();
            long fds;
            try (var list = Files.list(Path.of("/proc/self/fd"))) {
                fds = list.count();
            }
            return new Snapshot(fds, busy().count(), ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }

        /** Threads, but those waiting in a pool for a task (ThreadPoolExecutor.getTask). */
        private static java.util.stream.Stream<Thread> busy() {
            return Thread.getAllStackTraces().entrySet().stream()
                    .filter(e -> java.util.Arrays.stream(e.getValue()).noneMatch(f -> f.getMethodName().equals("getTask")
                            && f.getClassName().equals(java.util.concurrent.ThreadPoolExecutor.class.getName())))
                    .map(java.util.Map.Entry::getKey);
        }

        static String busyThreadNames() {
            return busy().map(Thread::getName).sorted().toList().toString();
        }

        /**
         * Waits (at most 10 s) for the daemon's side of closed connections to end: the figures
         * stop falling, or come back to {@code before}'s.
         */
        static Snapshot settled(Snapshot before) throws IOException, InterruptedException {
            Snapshot last = now();
            for (int i = 0; i < 50; i++) {
                Thread.sleep(200);
                Snapshot next = now();
                boolean back = before != null && next.fds <= before.fds && next.busyThreads <= before.busyThreads;
                if (back || (next.fds == last.fds && next.busyThreads == last.busyThreads && i >= 2)) {
                    return next;
                }
                last = next;
            }
            return last;
        }
    }

    /** The churning client, run by the JDK's source launcher as the ordinary uid. */
    private static final String CHURN_CLIENT = """
            import java.net.StandardProtocolFamily;
            import java.net.UnixDomainSocketAddress;
            import java.nio.ByteBuffer;
            import java.nio.channels.SocketChannel;
            import java.nio.charset.StandardCharsets;
            import java.util.ArrayList;
            import java.util.List;

            public class Churn {
                public static void main(String[] args) throws Exception {
                    UnixDomainSocketAddress to = UnixDomainSocketAddress.of(args[1]);
                    int n = Integer.parseInt(args[2]);
                    if (args[0].equals("hold")) {
                        List<SocketChannel> held = new ArrayList<>();
                        for (int i = 0; i < n; i++) {
                            SocketChannel c = SocketChannel.open(to);
                            held.add(c);
                            String reply = ping(c);
                            if (!reply.equals("OK\\n")) {
                                System.out.println("connection " + i + " of " + n + " held at once: " + reply);
                                System.exit(1);
                            }
                        }
                        System.out.println("held " + n);
                        return;
                    }
                    for (int i = 0; i < n; i++) {
                        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                            c.connect(to);
                            if (i % 2 == 0) {
                                String reply = ping(c);
                                if (!reply.equals("OK\\n")) {
                                    System.out.println("connection " + i + ": " + reply);
                                    System.exit(1);
                                }
                            }
                        }
                    }
                    System.out.println("done " + n);
                }

                static String ping(SocketChannel c) throws Exception {
                    c.write(ByteBuffer.wrap("PING\\n".getBytes(StandardCharsets.US_ASCII)));
                    ByteBuffer in = ByteBuffer.allocate(256);
                    while (in.position() == 0 || in.get(in.position() - 1) != '\\n') {
                        if (c.read(in) < 0) {
                            break;
                        }
                    }
                    return new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII);
                }
            }
            """;
}
