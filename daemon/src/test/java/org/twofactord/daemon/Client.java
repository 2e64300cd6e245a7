package org.twofactord.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** A raw line client for transcript tests: what goes over the wire is exactly what the test wrote. */
public final class Client implements AutoCloseable {
    public final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;

    public Client(Path path) throws IOException {
        socket = AFUNIXSocket.newInstance();
        socket.connect(AFUNIXSocketAddress.of(path), 5000);
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    public void send(String line) throws IOException {
        sendRaw((line + "\n").getBytes(StandardCharsets.UTF_8));
    }

    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** The next reply line, or null if the server closed the connection. */
    public String read() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                return buf.size() == 0 ? null : buf.toString(StandardCharsets.UTF_8);
            }
            if (b == '\n') {
                return buf.toString(StandardCharsets.UTF_8);
            }
            buf.write(b);
        }
    }

    /** C: line, then the reply. */
    public String call(String line) throws IOException {
        send(line);
        return read();
    }

    /** C: request / S: expected, as in a transcript. */
    public void expect(String request, String expectedReply) throws IOException {
        assertEquals(expectedReply, call(request), "reply to: " + request);
    }

    /** True if the server has closed its side (read returns end of stream). */
    public boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
