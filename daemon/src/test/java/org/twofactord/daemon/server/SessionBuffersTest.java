package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.twofactord.protocol.LineReader;

/**
 * A session's kept buffers hold nothing of a connection once it ends, although {@code wipe}
 * clears only the part the connection used: requests read in pieces and pipelined, a line longer
 * than one read, replies larger than the reply buffer and replies after a flush.
 */
class SessionBuffersTest {
    /** Hands out at most {@code chunk} bytes per read, as a socket may, and notes each read. */
    private static InputStream noted(SessionBuffers buffers, byte[] bytes, int chunk) {
        InputStream raw = new ByteArrayInputStream(bytes);
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = raw.read(b, off, Math.min(len, chunk));
                buffers.noteRead(b, off, n);
                return n;
            }
        };
    }

    private static void assertAllZero(byte[] array, String what) {
        for (int i = 0; i < array.length; i++) {
            assertEquals(0, array[i], what + " keeps a byte at " + i);
        }
    }

    private static void serveAndWipe(SessionBuffers buffers, String input, int chunk, String... replies)
            throws IOException {
        LineReader reader = new LineReader(noted(buffers, input.getBytes(StandardCharsets.UTF_8), chunk),
                buffers.read, buffers.line);
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        OutputStream out = buffers.output(sent);
        int lines = 0;
        while (reader.next() instanceof LineReader.Line) {
            lines++;
        }
        for (String reply : replies) {
            out.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
            if (reply.startsWith("flush")) {
                out.flush();
            }
        }
        out.flush();
        assertTrue(lines > 0 || input.isEmpty());
        assertEquals(String.join("\n", replies) + (replies.length > 0 ? "\n" : ""), sent.toString(StandardCharsets.UTF_8),
                "the replies go out whole");
        buffers.wipe();
        assertAllZero(buffers.read, "the read buffer");
        assertAllZero(buffers.line, "the line buffer");
        assertAllZero(buffers.out, "the reply buffer");
    }

    @Test
    void nothingOfAConnectionIsLeftForTheNext() throws IOException {
        SessionBuffers buffers = new SessionBuffers();
        // Pipelined requests in pieces of 7 bytes; a code among them.
        serveAndWipe(buffers, "VERIFY alice 123456 service=sshd\nCHECK bob\nPING\n", 7,
                "OK {\"method\":\"totp\"}", "OK {\"required\":true}", "OK pong");
        // A long line across many reads (the line buffer used further than any one read).
        serveAndWipe(buffers, "X" + "9".repeat(900) + "\n", 64, "ERR unknown-command");
        // A reply after a flush, a reply longer than the buffer, one that fills it past a flush.
        serveAndWipe(buffers, "ENROLL carol\n", 4096, "flush OK {\"secret\":\"JBSWY3DPEHPK3PXP\"}", "short",
                "B".repeat(9000), "C".repeat(8000), "tail");
        // A whole 4 KB read of requests.
        StringBuilder many = new StringBuilder();
        while (many.length() < 5000) {
            many.append("VERIFY dave 654321\n");
        }
        serveAndWipe(buffers, many.toString(), 4096, "NO invalid");
    }
}
