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
        try {
            socket.connect(AFUNIXSocketAddress.of(path), 5000);
        } catch (IOException e) {
            socket.close(); // a refused connect must not leak the descriptor
            throw e;
        }
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
                String line = buf.toString(StandardCharsets.UTF_8);
                remember(line);
                return line;
            }
            buf.write(b);
        }
    }

    private static final java.util.regex.Pattern SECRET = java.util.regex.Pattern.compile("\"secret\":\"([A-Z2-7]{16,})\"");
    private static final java.util.regex.Pattern BACKUP = java.util.regex.Pattern.compile("\\b\\d{5}-\\d{5}\\b");
    private static final Path SEEN = Path.of("target", "test-logs", "secrets-seen.txt");

    /**
     * Notes every secret and backup code a reply carries, so that scripts/check-test-logs can
     * prove that none of them ever reached a log line.
     */
    public static synchronized void remember(String reply) {
        if (reply == null || !(reply.contains("\"secret\"") || reply.contains("\"backup_codes\""))) {
            return;
        }
        StringBuilder found = new StringBuilder();
        java.util.regex.Matcher m = SECRET.matcher(reply);
        while (m.find()) {
            found.append(m.group(1)).append('\n');
        }
        m = BACKUP.matcher(reply);
        while (m.find()) {
            found.append(m.group()).append('\n').append(m.group().replace("-", "")).append('\n');
        }
        try {
            java.nio.file.Files.createDirectories(SEEN.getParent());
            java.nio.file.Files.writeString(SEEN, found, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
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
