package org.twofactord.protocol;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads request lines from a stream under the framing rules of protocol v1: a line ends in LF,
 * a CR just before the LF is dropped, and a line may hold at most {@link #MAX_LINE_BYTES} bytes,
 * LF included. Never buffers more than that plus one read buffer, whatever the peer sends.
 */
public final class LineReader {
    /** The longest request line, LF included. */
    public static final int MAX_LINE_BYTES = 1024;

    /** What one call to {@link #next()} found. */
    public sealed interface Frame permits Line, TooLong, BadUtf8, End {
    }

    /** A complete line, without its LF (and without a CR before it). */
    public record Line(String text) implements Frame {
        @Override
        public String toString() {
            // A line may carry a code: never print it.
            return "Line[" + text.length() + " chars]";
        }
    }

    /** More than {@link #MAX_LINE_BYTES} bytes without an LF: framing is lost. */
    public record TooLong() implements Frame {
    }

    /** A complete line that is not valid UTF-8. */
    public record BadUtf8() implements Frame {
    }

    /** The peer closed the stream; a partial last line is discarded. */
    public record End() implements Frame {
    }

    private final InputStream in;
    private final int maxLineBytes;
    private final byte[] readBuffer;
    private int readPos;
    private int readLimit;
    private final byte[] line;
    private int lineLength;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    public LineReader(InputStream in) {
        this(in, MAX_LINE_BYTES);
    }

    public LineReader(InputStream in, int maxLineBytes) {
        this(in, new byte[4096], new byte[maxLineBytes]);
    }

    /**
     * A reader on buffers the caller keeps from one stream to the next (a server thread that
     * serves one connection after another): {@code readBuffer} of any size, {@code line} as long
     * as the longest line. Only one reader may use them at a time; their earlier contents are
     * never read.
     */
    public LineReader(InputStream in, byte[] readBuffer, byte[] line) {
        if (readBuffer.length == 0 || line.length == 0) {
            throw new IllegalArgumentException("empty buffer");
        }
        this.in = in;
        this.maxLineBytes = line.length;
        this.readBuffer = readBuffer;
        this.line = line;
    }

    /** True when a partial line has been read but its LF has not arrived yet. */
    public boolean inMidLine() {
        return lineLength > 0;
    }

    /** True when bytes already received wait in the buffer (the peer pipelined). */
    public boolean hasBufferedInput() {
        return readPos < readLimit;
    }

    /** Reads the next frame; blocks until a whole line, too much data, or the end arrives. */
    public Frame next() throws IOException {
        while (true) {
            if (readPos == readLimit) {
                int n = in.read(readBuffer, 0, readBuffer.length);
                if (n < 0) {
                    lineLength = 0;
                    return new End();
                }
                readPos = 0;
                readLimit = n;
                continue;
            }
            byte b = readBuffer[readPos++];
            if (b == '\n') {
                int length = lineLength;
                lineLength = 0;
                if (length > 0 && line[length - 1] == '\r') {
                    length--;
                }
                return decode(length);
            }
            // The LF itself is one of the allowed bytes, so content may fill maxLineBytes - 1.
            if (lineLength == maxLineBytes - 1) {
                lineLength = 0;
                return new TooLong();
            }
            line[lineLength++] = b;
        }
    }

    private Frame decode(int length) {
        try {
            CharBuffer chars = decoder.reset().decode(ByteBuffer.wrap(line, 0, length));
            return new Line(chars.toString());
        } catch (CharacterCodingException e) {
            return new BadUtf8();
        }
    }
}
