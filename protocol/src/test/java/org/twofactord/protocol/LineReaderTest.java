package org.twofactord.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The request framing of protocol v1. Every framing test runs twice: once with the whole input in
 * one buffer, and once through a stream that hands over a single byte per read, so that no result
 * may depend on where the socket happens to split the bytes.
 */
class LineReaderTest {

    /** How the bytes reach the reader. */
    enum Delivery {
        WHOLE_BUFFER {
            @Override
            InputStream open(byte[] bytes) {
                return new ByteArrayInputStream(bytes);
            }
        },
        ONE_BYTE_PER_READ {
            @Override
            InputStream open(byte[] bytes) {
                return new OneBytePerReadInputStream(bytes);
            }
        };

        abstract InputStream open(byte[] bytes);
    }

    // ---- the 1024-byte limit -------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void lineOfExactly1024BytesIsAccepted(Delivery delivery) throws IOException {
        String content = "a".repeat(1023);
        LineReader reader = reader(delivery, utf8(content + "\n"));

        assertLine(content, reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void lineOf1025BytesIsRefusedAsTooLong(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("a".repeat(1024) + "\n"));

        assertInstanceOf(LineReader.TooLong.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void lineOf1022BytesPlusCrLfIsAcceptedWithoutTheCr(Delivery delivery) throws IOException {
        String content = "b".repeat(1022);
        LineReader reader = reader(delivery, utf8(content + "\r\n"));

        assertLine(content, reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void crCountsTowardsTheLimitSo1023BytesPlusCrLfIsTooLong(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("c".repeat(1023) + "\r\n"));

        assertInstanceOf(LineReader.TooLong.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void tooLongIsReportedAsSoonAs1024BytesArriveWithoutLf(Delivery delivery) throws IOException {
        // Past the 1024th byte the stream would fail the test: the reader must not wait for an LF
        // that a hostile peer may never send.
        InputStream in = new SequenceInputStream(delivery.open(utf8("d".repeat(1024))), new PoisonInputStream());
        LineReader reader = new LineReader(in);

        assertInstanceOf(LineReader.TooLong.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void multiByteUtf8IsCountedInBytesNotChars(Delivery delivery) throws IOException {
        // 511 x "é" (2 bytes each) + "a" = 1023 bytes, 512 chars: fits.
        String twoByteFits = "é".repeat(511) + "a";
        // 512 x "é" = 1024 bytes but only 512 chars: too long.
        String twoByteTooLong = "é".repeat(512);
        // 341 x "€" (3 bytes each) = 1023 bytes: fits.
        String threeByteFits = "€".repeat(341);
        // 256 x U+1F510 (4 bytes each, 2 chars) = 1024 bytes, 512 chars: too long.
        String fourByteTooLong = "\uD83D\uDD10".repeat(256);
        LineReader reader = reader(delivery, utf8(
                twoByteFits + "\n" + twoByteTooLong + "\n" + threeByteFits + "\n" + fourByteTooLong + "\n"));

        assertLine(twoByteFits, reader.next());
        assertInstanceOf(LineReader.TooLong.class, reader.next());
        // The reader is reset after TooLong; what remains of that line is the LF alone.
        assertLine("", reader.next());
        assertLine(threeByteFits, reader.next());
        assertInstanceOf(LineReader.TooLong.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void multiByteCharacterSplitAcrossReadsIsDecodedWhole(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("ISSUER SET Café Ünïcode \uD83D\uDD10\n"));

        assertLine("ISSUER SET Café Ünïcode \uD83D\uDD10", reader.next());
    }

    @Test
    void aSmallerLimitGivenToTheConstructorIsHonoured() throws IOException {
        LineReader reader = new LineReader(new ByteArrayInputStream(utf8("1234567\n12345678\n")), 8);

        assertLine("1234567", reader.next());
        assertInstanceOf(LineReader.TooLong.class, reader.next());
    }

    // ---- after TooLong -------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void afterTooLongTheReaderStartsAFreshLine(Delivery delivery) throws IOException {
        // The 1024th byte trips the limit, so the next byte starts a new line.
        LineReader reader = reader(delivery, utf8("x".repeat(1024) + "PING\n"));

        assertInstanceOf(LineReader.TooLong.class, reader.next());
        assertFalse(reader.inMidLine(), "no partial line may survive TooLong");
        assertLine("PING", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void everyFurther1024BytesWithoutLfIsAnotherTooLong(Delivery delivery) throws IOException {
        // The buffer never grows: 2048 bytes without an LF are two refusals, not one big line.
        LineReader reader = reader(delivery, utf8("x".repeat(2048) + "QUIT\n"));

        assertInstanceOf(LineReader.TooLong.class, reader.next());
        assertInstanceOf(LineReader.TooLong.class, reader.next());
        assertLine("QUIT", reader.next());
    }

    // ---- UTF-8 ---------------------------------------------------------------------------

    static Stream<Arguments> invalidUtf8() {
        List<Arguments> cases = new ArrayList<>();
        String[][] sequences = {
            {"C3 28", "lead byte followed by ASCII"},
            {"FF", "0xFF never appears in UTF-8"},
            {"80", "lone continuation byte"},
            {"C0 AF", "overlong encoding of '/'"},
            {"ED A0 80", "UTF-16 surrogate U+D800"},
            {"F4 90 80 80", "beyond U+10FFFF"},
            {"56 45 52 49 46 59 20 C3", "truncated sequence at the end of the line"},
            {"C3 0D", "truncated sequence before the CR of CRLF"},
        };
        for (Delivery delivery : Delivery.values()) {
            for (String[] s : sequences) {
                cases.add(Arguments.of(delivery, s[0], s[1]));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}: {1} ({2})")
    @MethodSource("invalidUtf8")
    void invalidUtf8IsBadUtf8AndTheNextLineIsStillRead(Delivery delivery, String hex, String why)
            throws IOException {
        byte[] bad = HexFormat.ofDelimiter(" ").withUpperCase().parseHex(hex);
        LineReader reader = reader(delivery, concat(utf8("PING\n"), bad, utf8("\nVERIFY alice 123456\r\n")));

        assertLine("PING", reader.next());
        assertInstanceOf(LineReader.BadUtf8.class, reader.next(), why);
        assertLine("VERIFY alice 123456", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void twoBadLinesInARowAreEachReportedOnce(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, concat(new byte[] {(byte) 0xFF, '\n', (byte) 0xC3, 0x28, '\r', '\n'},
                utf8("ping\n")));

        assertInstanceOf(LineReader.BadUtf8.class, reader.next());
        assertInstanceOf(LineReader.BadUtf8.class, reader.next());
        assertLine("ping", reader.next());
    }

    // ---- CR, LF and empty lines ----------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void crlfAndBareLfLinesMayBeMixed(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("HELLO 1\r\nPING\nQUIT\r\n"));

        assertLine("HELLO 1", reader.next());
        assertLine("PING", reader.next());
        assertLine("QUIT", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void onlyTheOneCrJustBeforeLfIsDropped(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("A\rB\r\r\n"));

        assertLine("A\rB\r", reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void aLoneCrDoesNotEndALine(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("PING\rQUIT\n"));

        assertLine("PING\rQUIT", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void emptyLinesAreReturnedAsEmptyLinesAndDoNotSwallowTheNextOne(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("\n\r\n   \nPING\n"));

        assertLine("", reader.next());
        assertLine("", reader.next());
        assertLine("   ", reader.next());
        assertLine("PING", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void tabsAndSpacesInsideALineAreKeptForTheTokenizer(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("\tVERIFY\t alice  123456 \n"));

        assertLine("\tVERIFY\t alice  123456 ", reader.next());
    }

    // ---- pipelining and buffer boundaries ------------------------------------------------

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void pipelinedLinesComeOutInOrder(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("HELLO 1\nCHECK alice\nVERIFY alice 123456\nQUIT\n"));

        assertLine("HELLO 1", reader.next());
        assertLine("CHECK alice", reader.next());
        assertLine("VERIFY alice 123456", reader.next());
        assertLine("QUIT", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @Test
    void pipelinedLinesInOneBufferAreReportedAsBufferedInput() throws IOException {
        LineReader reader = new LineReader(new ByteArrayInputStream(utf8("PING\nPING\n")));

        assertFalse(reader.hasBufferedInput(), "nothing has been read yet");
        assertLine("PING", reader.next());
        assertTrue(reader.hasBufferedInput(), "the second PING is already in the buffer");
        assertLine("PING", reader.next());
        assertFalse(reader.hasBufferedInput(), "both lines are consumed");
    }

    @Test
    void aLineDeliveredAloneLeavesNothingBuffered() throws IOException {
        LineReader reader = new LineReader(new OneBytePerReadInputStream(utf8("PING\nPING\n")));

        assertLine("PING", reader.next());
        assertFalse(reader.hasBufferedInput());
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void linesStraddlingTheInternalReadBufferAreReadWhole(Delivery delivery) throws IOException {
        // Ten distinct lines of 1022 bytes, LF and CRLF in turn: several of them cross the
        // reader's 4096-byte read buffer, some with the CR and the LF on either side of it.
        List<String> lines = new ArrayList<>();
        StringBuilder input = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            String line = ("line" + i + " ").repeat(200).substring(0, 1022);
            lines.add(line);
            input.append(line).append(i % 2 == 0 ? "\n" : "\r\n");
        }
        LineReader reader = reader(delivery, utf8(input.toString()));

        for (String line : lines) {
            assertLine(line, reader.next());
        }
        assertInstanceOf(LineReader.End.class, reader.next());
    }

    @Test
    void crAtTheEndOfOneReadAndLfAtTheStartOfTheNextAreStillOneCrLf() throws IOException {
        String full = "a".repeat(1023);
        String prefix = (full + "\n").repeat(3) + "\n";
        String crlfLine = "b".repeat(1022);
        byte[] input = utf8(prefix + crlfLine + "\r\nPING\n");
        assertEquals('\r', input[4095], "the CR must be the last byte of the first 4096-byte read");
        assertEquals('\n', input[4096]);
        LineReader reader = new LineReader(new ByteArrayInputStream(input));

        for (int i = 0; i < 3; i++) {
            assertLine(full, reader.next());
        }
        assertLine("", reader.next());
        assertLine(crlfLine, reader.next());
        assertLine("PING", reader.next());
    }

    @Test
    void aTwoByteCharacterSplitBetweenTwoReadsIsDecodedWhole() throws IOException {
        String full = "a".repeat(1023);
        String prefix = (full + "\n").repeat(3) + "c".repeat(1022) + "\n";
        byte[] input = utf8(prefix + "é\n");
        assertEquals((byte) 0xC3, input[4095], "the lead byte must be the last byte of the first read");
        LineReader reader = new LineReader(new ByteArrayInputStream(input));

        for (int i = 0; i < 4; i++) {
            reader.next();
        }
        assertLine("é", reader.next());
    }

    // ---- end of stream and interrupted reads ---------------------------------------------

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void anEmptyStreamIsEnd(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, new byte[0]);

        assertInstanceOf(LineReader.End.class, reader.next());
        assertInstanceOf(LineReader.End.class, reader.next(), "End stays End");
    }

    @ParameterizedTest
    @EnumSource(Delivery.class)
    void aPartialLastLineWithoutLfIsDiscardedAtEnd(Delivery delivery) throws IOException {
        LineReader reader = reader(delivery, utf8("PING\nVERIFY alice 1234"));

        assertLine("PING", reader.next());
        assertInstanceOf(LineReader.End.class, reader.next());
        assertFalse(reader.inMidLine());
    }

    @Test
    void aReadTimeoutInMidLineLeavesThePartialLineInPlace() throws IOException {
        // The daemon closes a peer that stalls mid-line; it needs to know that it did, and a read
        // that resumes must not lose the bytes already received.
        ScriptedInputStream in = new ScriptedInputStream();
        in.add(utf8("PI"));
        in.addTimeout();
        in.add(utf8("NG\n"));
        LineReader reader = new LineReader(in);

        assertFalse(reader.inMidLine());
        assertThrows(SocketTimeoutException.class, reader::next);
        assertTrue(reader.inMidLine(), "two bytes of a line are waiting for their LF");
        assertLine("PING", reader.next());
        assertFalse(reader.inMidLine());
    }

    @Test
    void aReadTimeoutBetweenLinesIsNotMidLine() throws IOException {
        ScriptedInputStream in = new ScriptedInputStream();
        in.add(utf8("PING\n"));
        in.addTimeout();
        LineReader reader = new LineReader(in);

        assertLine("PING", reader.next());
        assertThrows(SocketTimeoutException.class, reader::next);
        assertFalse(reader.inMidLine());
    }

    // ---- secrets -------------------------------------------------------------------------

    @Test
    void aLinesToStringDoesNotShowItsText() {
        String text = new LineReader.Line("VERIFY alice 492039").toString();

        assertFalse(text.contains("492039"), text);
        assertFalse(text.contains("alice"), text);
    }

    // ---- helpers -------------------------------------------------------------------------

    /**
     * A server thread keeps its buffers from one connection to the next: what an earlier
     * connection left in them (a half line, a long one, a code) never shows in the next one's.
     */
    @Test
    void keptBuffersCarryNothingFromOneStreamToTheNext() throws IOException {
        byte[] read = new byte[64];
        byte[] line = new byte[LineReader.MAX_LINE_BYTES];
        LineReader first = new LineReader(new ByteArrayInputStream(utf8("VERIFY alice 123456\nVERIFY bob 65")),
                read, line);
        assertLine("VERIFY alice 123456", first.next());
        assertInstanceOf(LineReader.End.class, first.next()); // "VERIFY bob 65" is left in the buffers
        LineReader second = new LineReader(new ByteArrayInputStream(utf8("PING\n\n")), read, line);
        assertFalse(second.inMidLine());
        assertFalse(second.hasBufferedInput());
        assertLine("PING", second.next());
        assertLine("", second.next());
        assertInstanceOf(LineReader.End.class, second.next());
        LineReader third = new LineReader(new ByteArrayInputStream(new byte[LineReader.MAX_LINE_BYTES + 1]), read, line);
        assertInstanceOf(LineReader.TooLong.class, third.next(), "the limit is the line buffer's length");
    }

    private static LineReader reader(Delivery delivery, byte[] bytes) {
        return new LineReader(delivery.open(bytes));
    }

    private static void assertLine(String expected, LineReader.Frame frame) {
        LineReader.Line line = assertInstanceOf(LineReader.Line.class, frame);
        assertEquals(expected, line.text());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** Hands over at most one byte per read call, as a slow peer on a socket may. */
    static final class OneBytePerReadInputStream extends InputStream {
        private final byte[] bytes;
        private int pos;

        OneBytePerReadInputStream(byte[] bytes) {
            this.bytes = bytes;
        }

        @Override
        public int read() {
            return pos < bytes.length ? bytes[pos++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (len == 0) {
                return 0;
            }
            int c = read();
            if (c < 0) {
                return -1;
            }
            b[off] = (byte) c;
            return 1;
        }
    }

    /** Fails the test if anyone reads from it. */
    static final class PoisonInputStream extends InputStream {
        @Override
        public int read() {
            throw new AssertionError("read past the point where the answer was already known");
        }
    }

    /** Returns the chunks it was given, one per read, with a read timeout where asked. */
    static final class ScriptedInputStream extends InputStream {
        private final Deque<byte[]> chunks = new ArrayDeque<>();

        void add(byte[] chunk) {
            chunks.add(chunk);
        }

        void addTimeout() {
            chunks.add(new byte[0]);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            byte[] chunk = chunks.poll();
            if (chunk == null) {
                return -1;
            }
            if (chunk.length == 0) {
                throw new SocketTimeoutException("scripted timeout");
            }
            if (chunk.length > len) {
                throw new AssertionError("scripted chunk larger than the reader's buffer");
            }
            System.arraycopy(chunk, 0, b, off, chunk.length);
            return chunk.length;
        }
    }
}
