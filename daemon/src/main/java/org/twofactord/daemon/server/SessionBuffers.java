package org.twofactord.daemon.server;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import org.twofactord.protocol.LineReader;

/**
 * The buffers one session thread reuses from one connection to the next (read, line, reply), and
 * how much of each a connection used, so that {@link #wipe} clears that much and no more. What a
 * connection sent (codes) and was sent (an enrolment's secret, backup codes) does not wait in
 * memory for the next one; clearing the whole 13 KB per connection, compiled by C1 as a plain
 * loop, was the largest part of a short connection's own CPU in the daemon (perf: {@code
 * Session.run} 4.5% of the samples). Used by one thread at a time.
 */
final class SessionBuffers {
    final byte[] read = new byte[4096];
    final byte[] line = new byte[LineReader.MAX_LINE_BYTES];
    final byte[] out = new byte[8192];
    /** How far into {@link #read} any read of this connection wrote. */
    private int readUsed;
    /** Bytes read in all: no line, so no part of {@link #line} in use, can be longer. */
    private long bytesIn;
    /** How far into {@link #out} any reply of this connection was written. */
    private int outUsed;

    /** Notes a read of {@code n} bytes (or -1) into {@code b} at {@code off}. */
    void noteRead(byte[] b, int off, int n) {
        if (n > 0) {
            if (b == read) {
                readUsed = Math.max(readUsed, off + n);
            }
            bytesIn += n;
        }
    }

    /** A buffered stream to {@code raw} on {@link #out}, which notes how far replies filled it. */
    OutputStream output(OutputStream raw) {
        return new KeptBufferOutput(raw);
    }

    /** Clears what this connection used of the three buffers, for the next connection. */
    void wipe() {
        Arrays.fill(read, 0, readUsed, (byte) 0);
        Arrays.fill(line, 0, (int) Math.min(line.length, bytesIn), (byte) 0);
        Arrays.fill(out, 0, outUsed, (byte) 0);
        readUsed = 0;
        bytesIn = 0;
        outUsed = 0;
    }

    /** A BufferedOutputStream on {@link #out} ({@code buf} is protected for that). */
    private final class KeptBufferOutput extends BufferedOutputStream {
        KeptBufferOutput(OutputStream raw) {
            super(raw, 1);
            this.buf = SessionBuffers.this.out;
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            super.write(b, off, len);
            outUsed = Math.max(outUsed, count); // count grows only here: the most it ever reached
        }

        @Override
        public synchronized void write(int b) throws IOException {
            super.write(b);
            outUsed = Math.max(outUsed, count);
        }
    }
}
