package org.twofactord.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A minimal reproduction, to report upstream, of what junixsocket 2.11.1 costs per accepted
 * connection: {@code AFSocketImpl.accept0} calls {@code getLocalSocketAddress()} on every accept,
 * which resolves the socket's name through {@code AFSocketAddress.resolveAddress}. Its address
 * cache never hits (the key is stored after {@code key.put(direct)} without a {@code flip()}, so
 * every stored key has nothing remaining and equals no lookup), so each accept builds a new
 * {@code AFUNIXSocketAddress}, whose constructor calls {@code new InetSocketAddress(String, int)}
 * with a host name like {@code [%2Ftmp%2Fx.sock].un.junixsocket}: {@code InetAddress.getByName}
 * throws an {@code UnknownHostException} ("invalid IPv6 address"), which is caught. Run with
 * {@code -Xlog:exceptions=info} to see one per accept.
 *
 * <p>{@code bench accept-cost [--seconds 2] [--rounds 3] [--dir DIR]} prints: the cost of one
 * {@code AFUNIXSocketAddress.of(path)} (the same path each time, so a working cache would make it
 * a map lookup) and whether two such calls return the same instance; and accepts per second of
 * junixsocket's {@code AFUNIXServerSocket} against the JDK's own UNIX-domain
 * {@code ServerSocketChannel}, the same JDK client connecting and closing in a loop, alternating.
 */
final class AcceptCost {
    private AcceptCost() {
    }

    static void run(java.util.Map<String, String> o) throws Exception {
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "2"));
        int rounds = Integer.parseInt(o.getOrDefault("rounds", "3"));
        Path dir = Files.createTempDirectory(Path.of(o.getOrDefault("dir", System.getProperty("java.io.tmpdir"))),
                "accept-cost");
        try {
            addressCost(dir.resolve("address.sock"));
            List<Double> junix = new ArrayList<>();
            List<Double> jdk = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                junix.add(acceptsPerSecond(dir.resolve("j" + r + ".sock"), true, seconds));
                jdk.add(acceptsPerSecond(dir.resolve("k" + r + ".sock"), false, seconds));
                System.out.printf(Locale.ROOT, "round %d: junixsocket %,.0f accepts/s, JDK %,.0f accepts/s%n", r + 1,
                        junix.get(r), jdk.get(r));
            }
            double j = median(junix);
            double k = median(jdk);
            System.out.printf(Locale.ROOT, "median: junixsocket %,.0f accepts/s (%.1f µs each), JDK %,.0f accepts/s "
                    + "(%.1f µs each): ratio %.2f, %.1f µs more per accept%n", j, 1e6 / j, k, 1e6 / k, j / k,
                    1e6 / j - 1e6 / k);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** What accept0's getLocalSocketAddress() costs: the same address resolved again and again. */
    private static void addressCost(Path path) throws IOException {
        AFUNIXSocketAddress first = AFUNIXSocketAddress.of(path);
        AFUNIXSocketAddress second = AFUNIXSocketAddress.of(path);
        System.out.println("AFUNIXSocketAddress.of(same path) twice returns the same (cached) instance: "
                + (first == second));
        String host = first.getHostString();
        int n = 200_000;
        for (int warm = 0; warm < 2; warm++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (AFUNIXSocketAddress.of(path) == null) {
                    throw new AssertionError();
                }
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (new InetSocketAddress(host, 0).getPort() != 0) {
                    throw new AssertionError();
                }
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                if (InetSocketAddress.createUnresolved(host, 0).getPort() != 0) {
                    throw new AssertionError();
                }
            }
            long t3 = System.nanoTime();
            if (warm == 1) {
                System.out.printf(Locale.ROOT, "AFUNIXSocketAddress.of(path): %.2f µs; new InetSocketAddress(\"%s\", 0) "
                        + "(throws and catches UnknownHostException): %.2f µs; InetSocketAddress.createUnresolved: "
                        + "%.3f µs%n", (t1 - t0) / 1e3 / n, host, (t2 - t1) / 1e3 / n, (t3 - t2) / 1e3 / n);
            }
        }
    }

    /** A server thread accepts and closes; this thread connects and closes, with the JDK's client. */
    private static double acceptsPerSecond(Path path, boolean junixsocket, double seconds) throws Exception {
        AutoCloseable server;
        Thread acceptor;
        long[] accepted = {0};
        if (junixsocket) {
            AFUNIXServerSocket s = AFUNIXServerSocket.newInstance();
            s.bind(AFUNIXSocketAddress.of(path), 128);
            server = s;
            acceptor = new Thread(() -> {
                try {
                    while (true) {
                        AFUNIXSocket c = s.accept();
                        c.close();
                        accepted[0]++;
                    }
                } catch (IOException end) {
                    // closed
                }
            });
        } else {
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            s.bind(UnixDomainSocketAddress.of(path), 128);
            server = s;
            acceptor = new Thread(() -> {
                try {
                    while (true) {
                        SocketChannel c = s.accept();
                        c.close();
                        accepted[0]++;
                    }
                } catch (IOException end) {
                    // closed
                }
            });
        }
        acceptor.start();
        UnixDomainSocketAddress to = UnixDomainSocketAddress.of(path);
        long warmEnd = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < warmEnd) {
            SocketChannel.open(to).close();
        }
        long n = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        long now;
        while ((now = System.nanoTime()) < end) {
            SocketChannel.open(to).close();
            n++;
        }
        server.close();
        acceptor.join(2000);
        return n / ((now - t0) / 1e9);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
