package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.DaemonProcess;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.RealUsers;
import org.twofactord.daemon.Totp;

/**
 * Hostile clients against a daemon process with a 64 MB heap, while a legitimate login service
 * keeps asking: every one of its requests must be answered, promptly, and the daemon must live.
 */
class HostileClientsTest {
    Path dir;
    DaemonProcess daemon;
    Thread legit;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong answered = new AtomicLong();
    final AtomicLong worstMs = new AtomicLong();
    final List<String> legitErrors = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        RealUsers.requireRoot(); // the slowloris runs as another uid
        dir = Files.createTempDirectory("tfd-hostile");
        Path pub = dir.resolve("pub");
        Files.createDirectories(pub);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(pub, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path conf = dir.resolve("twofactord.conf");
        Files.writeString(conf, "socket_mode = 0666\nidle_timeout_s = 3\n");
        daemon = DaemonProcess.start(dir.resolve("state"), pub.resolve("tfd.sock"), "--config", conf.toString());
        List<String> secrets = new ArrayList<>();
        try (Client c = daemon.client()) {
            c.call("POLICY ENABLE");
            for (int i = 0; i < 40; i++) {
                String secret = Json.of(c.call("ENROLL legit" + i)).get("secret").asText();
                c.call("CONFIRM legit" + i + " " + Totp.code(secret, Clock.systemUTC(), -1));
                secrets.add(secret);
            }
        }
        legit = new Thread(() -> legitLoop(secrets));
        legit.start();
    }

    /** A login service: CHECK then VERIFY with a fresh code, a new connection each time (as the PAM module). */
    private void legitLoop(List<String> secrets) {
        int next = 0;
        while (!stop.get()) {
            long t0 = System.nanoTime();
            try (Client c = daemon.client()) {
                String user = "legit" + (next % secrets.size());
                String check = c.call("CHECK " + user);
                String verify = next < secrets.size()
                        ? c.call("VERIFY " + user + " " + Totp.code(secrets.get(next), Clock.systemUTC(), 1))
                        : c.call("PING");
                boolean ok = "OK {\"required\":true}".equals(check) && verify != null && verify.startsWith("OK");
                if (!ok) {
                    synchronized (legitErrors) {
                        legitErrors.add(check + " / " + verify);
                    }
                }
                answered.incrementAndGet();
            } catch (IOException e) {
                synchronized (legitErrors) {
                    legitErrors.add(e.toString());
                }
            }
            worstMs.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
            next++;
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @AfterEach
    void finish() throws Exception {
        stop.set(true);
        if (legit != null) {
            legit.join(10_000);
        }
        if (daemon != null) {
            daemon.close();
        }
        if (dir != null) {
            RealUsers.sh("rm", "-rf", dir.toString());
        }
    }

    private void assertLegitServed(String scenario) throws IOException {
        long before = answered.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (answered.get() < before + 5 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertTrue(daemon.alive(), scenario + ": the daemon died: " + daemon.output());
        assertTrue(answered.get() >= before + 5, scenario + ": the login service stopped getting answers");
        synchronized (legitErrors) {
            assertEquals(List.of(), legitErrors, scenario + ": wrong answers to the login service");
        }
        assertTrue(worstMs.get() < 3000, scenario + ": a legitimate request waited " + worstMs.get() + " ms");
    }

    @Test
    void aThousandSilentConnectionsFromOneUidTakeOnlyItsShare() throws Exception {
        String script = String.join("\n",
                "import socket, sys, time",
                "held, busy = [], 0",
                "for i in range(1000):",
                "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                "    try:",
                "        s.connect(sys.argv[1]); held.append(s)",
                "    except OSError:",
                "        busy += 1",
                "time.sleep(2)",
                "refused = 0",
                "for s in held:",
                "    s.settimeout(0.2)",
                "    try:",
                "        if s.recv(100).startswith(b'ERR busy'): refused += 1",
                "    except OSError:",
                "        pass",
                "print(len(held) - refused)");
        Path py = dir.resolve("slowloris.py");
        Files.writeString(py, script);
        Files.setPosixFilePermissions(py, PosixFilePermissions.fromString("rw-r--r--"));
        Process p = new ProcessBuilder("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                "/usr/bin/python3", py.toString(), daemon.socket.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals("16", out, "one ordinary uid keeps at most max_connections_per_uid connections");
        assertLegitServed("slowloris");
    }

    @Test
    void tenMegabytesWithoutANewlineIsCutOffAtTheLimit() throws Exception {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(daemon.socket))) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            byte[] chunk = new byte[64 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'A');
            // Past the limit first, and the reply read before anything more is sent: junixsocket
            // closes the socket on a failed write, so reading afterwards (or racing a reader
            // thread against the writes) could find it closed.
            out.write(chunk, 0, 2048);
            byte[] line = new byte[45];
            int n = s.getInputStream().readNBytes(line, 0, line.length);
            String answer = new String(line, 0, n, StandardCharsets.US_ASCII);
            assertEquals("ERR too-long request line exceeds 1024 bytes\n", answer);
            long sent = 2048;
            try {
                for (int i = 0; i < 160; i++) {
                    out.write(chunk);
                    sent += chunk.length;
                }
            } catch (IOException closed) {
                // the daemon closed the connection: expected long before 10 MB
            }
            assertTrue(sent < 10L * 1024 * 1024, "the daemon read the whole 10 MB");
        }
        assertLegitServed("10 MB line");
    }

    @Test
    void aClientThatPipelinesAndNeverReadsIsStoppedNotBuffered() throws Exception {
        long rssBefore = daemon.residentKb();
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(daemon.socket))) {
            OutputStream out = s.getOutputStream();
            byte[] requests = "STATS\n".repeat(1000).getBytes(StandardCharsets.US_ASCII);
            long sent = 0;
            s.setSoTimeout(2000);
            Thread writer = new Thread(() -> {
                try {
                    for (int i = 0; i < 100; i++) {
                        out.write(requests); // 100,000 requests, never reading a reply
                    }
                } catch (IOException closed) {
                    // the daemon stopped reading and then closed the connection
                }
            });
            writer.start();
            writer.join(20_000);
            assertTrue(!writer.isAlive(), "the writer is unblocked: the daemon closed the stalled connection");
        }
        assertLegitServed("pipelining without reading");
        long rssAfter = daemon.residentKb();
        assertTrue(rssAfter < 256 * 1024, "resident " + rssAfter + " kB (was " + rssBefore + " kB)");
    }

    @Test
    void connectionsDroppedMidLineInATightLoop() throws Exception {
        for (int i = 0; i < 2000; i++) {
            try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(daemon.socket))) {
                s.getOutputStream().write("VERIFY legit1 12".getBytes(StandardCharsets.US_ASCII));
            } catch (IOException busy) {
                // refused while the limit was reached: fine
            }
        }
        assertLegitServed("drop mid-line");
        try (Client c = daemon.client()) {
            assertEquals(0, Json.of(c.call("USER legit1")).get("failures").asInt(), "no half line was taken as a request");
        }
    }
}
