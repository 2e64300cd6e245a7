package org.twofactord.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reply lines: {@code OK [json]}, {@code NO <reason> [json]}, {@code ERR <code> <message>}. */
class ReplyTest {

    // ---- format --------------------------------------------------------------------------

    @Test
    void okAloneIsJustOk() {
        assertEquals("OK", Reply.ok().format());
    }

    @Test
    void okWithABodyIsOkSpaceCompactJson() {
        ObjectNode body = Reply.object().put("required", true);

        assertEquals("OK {\"required\":true}", Reply.ok(body).format());
    }

    @Test
    void nestedBodyIsWrittenCompactlyInInsertionOrder() {
        ObjectNode body = Reply.object().put("user", "alice").putNull("last_used_at");
        body.putArray("backup_codes").add("12345-67890").add("09876-54321");
        body.putObject("limits").put("retry_after", 60);

        assertEquals("OK {\"user\":\"alice\",\"last_used_at\":null,\"backup_codes\":[\"12345-67890\",\"09876-54321\"],"
                + "\"limits\":{\"retry_after\":60}}", Reply.ok(body).format());
    }

    @Test
    void noWithAReasonIsNoSpaceReason() {
        assertEquals("NO invalid", Reply.no(Reasons.INVALID).format());
    }

    @Test
    void noWithAReasonAndABodyPutsTheJsonAfterTheReason() {
        Reply reply = Reply.no(Reasons.LOCKED, Reply.object().put("retry_after", 60));

        assertEquals("NO locked {\"retry_after\":60}", reply.format());
    }

    @Test
    void errIsCodeThenMessage() {
        Reply reply = Reply.err(ErrorCodes.TOO_LONG, "request line exceeds 1024 bytes");

        assertEquals("ERR too-long request line exceeds 1024 bytes", reply.format());
    }

    @Test
    void errWithAnEmptyMessageIsJustTheCode() {
        assertEquals("ERR busy", Reply.err(ErrorCodes.BUSY, "").format());
        assertEquals("ERR busy", Reply.err(ErrorCodes.BUSY, null).format());
    }

    @Test
    void errMessageWithLineBreaksStaysOnOneLine() {
        String line = Reply.err(ErrorCodes.INTERNAL, "store failed:\r\nOK {}").format();

        assertEquals("ERR internal store failed:  OK {}", line);
    }

    @Test
    void bodyStringsWithLineBreaksAreEscapedSoTheReplyStaysOneLine() {
        ObjectNode body = Reply.object().put("issuer", "Acme\nOK\r");

        String line = Reply.ok(body).format();

        assertFalse(line.contains("\n"), line);
        assertFalse(line.contains("\r"), line);
        assertEquals("OK {\"issuer\":\"Acme\\nOK\\r\"}", line);
    }

    @Test
    void nonAsciiInABodyIsWrittenAsUtf8Text() {
        assertEquals("OK {\"issuer\":\"Café\"}", Reply.ok(Reply.object().put("issuer", "Café")).format());
    }

    // ---- parse ---------------------------------------------------------------------------

    @Test
    void parseOk() throws ProtocolException {
        Reply reply = Reply.parse("OK");

        assertEquals(Reply.Kind.OK, reply.kind());
        assertTrue(reply.isOk());
        assertNull(reply.word());
        assertNull(reply.body());
    }

    @Test
    void parseOkWithBody() throws ProtocolException {
        Reply reply = Reply.parse("OK {\"method\":\"backup\",\"backup_codes_left\":9}");

        assertEquals(Reply.Kind.OK, reply.kind());
        assertEquals("backup", reply.body().path("method").asText());
        assertEquals(9, reply.body().path("backup_codes_left").asInt());
        assertEquals(2, reply.body().size());
    }

    @Test
    void parseOkWithAnEmptyObject() throws ProtocolException {
        Reply reply = Reply.parse("OK {}");

        assertTrue(reply.isOk());
        assertEquals(0, reply.body().size());
    }

    @Test
    void parseNoWithReason() throws ProtocolException {
        Reply reply = Reply.parse("NO replayed");

        assertEquals(Reply.Kind.NO, reply.kind());
        assertFalse(reply.isOk());
        assertEquals(Reasons.REPLAYED, reply.word());
        assertNull(reply.body());
    }

    @Test
    void parseNoWithReasonAndBody() throws ProtocolException {
        Reply reply = Reply.parse("NO invalid {\"clock_skew_s\":-120}");

        assertEquals(Reply.Kind.NO, reply.kind());
        assertEquals(Reasons.INVALID, reply.word());
        assertEquals(-120, reply.body().path("clock_skew_s").asInt());
    }

    @Test
    void parseErrKeepsTheWholeMessageWithItsSpaces() throws ProtocolException {
        Reply reply = Reply.parse("ERR forbidden  only uid 0 may change the policy");

        assertEquals(Reply.Kind.ERR, reply.kind());
        assertFalse(reply.isOk());
        assertEquals(ErrorCodes.FORBIDDEN, reply.word());
        assertEquals(" only uid 0 may change the policy", reply.message());
        assertNull(reply.body());
    }

    @Test
    void parseErrWithoutAMessageHasAnEmptyMessage() throws ProtocolException {
        Reply reply = Reply.parse("ERR busy");

        assertEquals(ErrorCodes.BUSY, reply.word());
        assertEquals("", reply.message());
    }

    @Test
    void parseErrDoesNotTakeJsonFromTheMessage() throws ProtocolException {
        Reply reply = Reply.parse("ERR bad-request {\"not\":\"a body\"}");

        assertNull(reply.body());
        assertEquals("{\"not\":\"a body\"}", reply.message());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        " ",
        "ok",
        "Ok {}",
        "OKAY",
        "OK{}",
        "HELLO 1",
        " OK",
        "+OK",
        "OK garbage",
        "OK {",
        "OK {\"a\":1",
        "OK {\"a\":}",
        "OK [1,2]",
        "OK \"text\"",
        "OK 42",
        "OK null",
        "OK true",
        "OK {} trailing",
        "OK {\"a\":1}}",
        "OK {} {}",
        "NO",
        "NO ",
        "NO locked [60]",
        "NO locked {retry_after:60}",
        "NO locked 60",
        "NO locked {\"retry_after\":60} extra",
        "ERR",
        "ERR ",
        "no invalid",
        "err busy",
    })
    void parseRejectsWhatIsNotAReply(String line) {
        assertThrows(ProtocolException.class, () -> Reply.parse(line), line);
    }

    @Test
    void parseOfNullIsAProgrammingError() {
        assertThrows(NullPointerException.class, () -> Reply.parse(null));
    }

    // ---- round trip ----------------------------------------------------------------------

    @Test
    void everyFormattedReplyParsesBackToTheSameReply() throws ProtocolException {
        Reply[] replies = {
            Reply.ok(),
            Reply.ok(Reply.object().put("protocol", 1).put("server", "twofactord/0.1.0")),
            Reply.no(Reasons.ENROLL_REQUIRED),
            Reply.no(Reasons.LOCKED, Reply.object().put("retry_after", 3600)),
            Reply.err(ErrorCodes.UNKNOWN_COMMAND, "no such command: FROB"),
            Reply.err(ErrorCodes.UNAVAILABLE, ""),
        };
        for (Reply original : replies) {
            String line = original.format();
            Reply parsed = Reply.parse(line);

            assertEquals(original.kind(), parsed.kind(), line);
            assertEquals(original.word(), parsed.word(), line);
            assertEquals(original.body(), parsed.body(), line);
            assertEquals(original.message(), parsed.message(), line);
            assertEquals(line, parsed.format());
        }
    }

    // ---- secrets -------------------------------------------------------------------------

    @Test
    void toStringNeverShowsTheBodyOfAnEnrollReply() {
        ObjectNode body = Reply.object().put("user", "alice").put("secret", "JBSWY3DPEHPK3PXP")
                .put("otpauth_url", "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP");

        String text = Reply.ok(body).toString();

        assertTrue(text.contains("OK"), text);
        assertFalse(text.contains("JBSWY3DPEHPK3PXP"), text);
        assertFalse(text.contains("secret"), text);
    }

    @Test
    void toStringNeverShowsBackupCodesOfAParsedReply() throws ProtocolException {
        String text = Reply.parse("OK {\"backup_codes\":[\"12345-67890\",\"24680-13579\"]}").toString();

        assertFalse(text.contains("12345-67890"), text);
        assertFalse(text.contains("24680"), text);
    }

    @Test
    void toStringOfANoShowsTheReasonButNotTheBody() {
        String text = Reply.no(Reasons.LOCKED, Reply.object().put("retry_after", 4242)).toString();

        assertTrue(text.contains("locked"), text);
        assertFalse(text.contains("4242"), text);
    }
}
