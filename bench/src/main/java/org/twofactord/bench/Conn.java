package org.twofactord.bench;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * One raw connection to a line server (the daemon or the echo server): send a line, read the
 * reply line. No pipelining, no parsing beyond the LF, so the generator adds little of its own.
 */
final class Conn implements AutoCloseable {
    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] buffer = new byte[16384];
    private int pos;
    private int limit;

    private Conn(AFUNIXSocket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /**
     * Addresses made once per path: junixsocket 2.11.1 builds each new AFUNIXSocketAddress through
     * InetSocketAddress(String, int), which throws and catches an UnknownHostException (its address
     * cache never hits, see AcceptCost), a cost a C client such as the PAM module does not pay.
     */
    private static final ConcurrentHashMap<Path, AFUNIXSocketAddress> ADDRESSES = new ConcurrentHashMap<>();

    static Conn open(Path path) throws IOException {
        AFUNIXSocketAddress address = ADDRESSES.get(path);
        if (address == null) {
            address = AFUNIXSocketAddress.of(path);
            ADDRESSES.putIfAbsent(path, address);
        }
        AFUNIXSocket socket = AFUNIXSocket.newInstance();
        try {
            socket.connect(address);
            socket.setSoTimeout(30_000);
            return new Conn(socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** Sends one request line and returns the reply line (without its LF). */
    String call(String line) throws IOException {
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        out.write(bytes);
        out.flush();
        return readLine();
    }

    private String readLine() throws IOException {
        StringBuilder sb = null;
        while (true) {
            for (int i = pos; i < limit; i++) {
                if (buffer[i] == '\n') {
                    String part = new String(buffer, pos, i - pos, StandardCharsets.UTF_8);
                    pos = i + 1;
                    return sb == null ? part : sb.append(part).toString();
                }
            }
            if (pos < limit) {
                if (sb == null) {
                    sb = new StringBuilder();
                }
                sb.append(new String(buffer, pos, limit - pos, StandardCharsets.UTF_8));
            }
            int n = in.read(buffer, 0, buffer.length);
            if (n < 0) {
                throw new EOFException("the server closed the connection");
            }
            pos = 0;
            limit = n;
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
