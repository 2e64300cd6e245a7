package org.twofactord.bench;

import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One raw connection to a line server (the daemon or the echo server): send a line, read the
 * reply line. No pipelining, no parsing beyond the LF, so the generator adds little of its own.
 *
 * <p>The client side is the JDK's own UNIX-domain {@link SocketChannel} (socket, connect, read,
 * write, close: what a C client such as the PAM module does), not junixsocket, whose connect and
 * close add two getsockopts, a getpeername, two shutdowns and its address objects: measured, 23 µs
 * of the generator's CPU per request on a new connection with junixsocket, 18 µs with the
 * channel (8-9 µs on a persistent connection with either), on the same two cores as the daemon.
 * A load generator should cost what the daemon's real clients cost, not more. The
 * server side of the socket floor's baseline ({@link EchoServer}) stays junixsocket, like the
 * daemon.
 *
 * <p>A channel has no read timeout: a watchdog closes a connection whose call has waited longer
 * than {@link #CALL_TIMEOUT_MS}, and the blocked read then fails, so that a hung server fails the
 * run instead of hanging it.
 */
final class Conn implements AutoCloseable {
    static final long CALL_TIMEOUT_MS = 30_000;
    private static final Set<Conn> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Thread watchdog = new Thread(Conn::watch, "bench-conn-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private final SocketChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(16384);
    private final byte[] bytes = buffer.array();
    private int pos;
    private int limit;
    /** When the call now waiting began (System.nanoTime), or 0 between calls. */
    private volatile long callStarted;

    private Conn(SocketChannel channel) {
        this.channel = channel;
    }

    static Conn open(Path path) throws IOException {
        Conn c = new Conn(SocketChannel.open(UnixDomainSocketAddress.of(path)));
        OPEN.add(c);
        return c;
    }

    /** Sends one request line and returns the reply line (without its LF). */
    String call(String line) throws IOException {
        callStarted = System.nanoTime() | 1;
        try {
            ByteBuffer request = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (request.hasRemaining()) {
                channel.write(request);
            }
            return readLine();
        } finally {
            callStarted = 0;
        }
    }

    private String readLine() throws IOException {
        StringBuilder sb = null;
        while (true) {
            for (int i = pos; i < limit; i++) {
                if (bytes[i] == '\n') {
                    String part = new String(bytes, pos, i - pos, StandardCharsets.UTF_8);
                    pos = i + 1;
                    return sb == null ? part : sb.append(part).toString();
                }
            }
            if (pos < limit) {
                if (sb == null) {
                    sb = new StringBuilder();
                }
                sb.append(new String(bytes, pos, limit - pos, StandardCharsets.UTF_8));
            }
            buffer.clear();
            int n = channel.read(buffer);
            if (n < 0) {
                throw new EOFException("the server closed the connection");
            }
            pos = 0;
            limit = n;
        }
    }

    @Override
    public void close() {
        OPEN.remove(this);
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Closes every connection whose call has waited too long; its read then fails. */
    private static void watch() {
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (Conn c : OPEN) {
                long started = c.callStarted;
                if (started != 0 && now - started > CALL_TIMEOUT_MS * 1_000_000L) {
                    c.close();
                }
            }
        }
    }
}
