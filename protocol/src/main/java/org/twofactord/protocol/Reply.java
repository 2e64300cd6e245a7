package org.twofactord.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * One reply line: {@code OK [json]}, {@code NO <reason> [json]} or {@code ERR <code> <message>}.
 * Formatting and parsing live here so that the daemon and every Java client agree.
 */
public final class Reply {
    /** The three kinds of reply. */
    public enum Kind { OK, NO, ERR }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Jackson stops after the first value by default; a reply line must hold exactly one. */
    private static final ObjectReader STRICT_JSON = JSON.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Kind kind;
    private final String word;
    private final ObjectNode body;
    private final String message;

    private Reply(Kind kind, String word, ObjectNode body, String message) {
        this.kind = kind;
        this.word = word;
        this.body = body;
        this.message = message;
    }

    public static Reply ok() {
        return new Reply(Kind.OK, null, null, null);
    }

    public static Reply ok(ObjectNode body) {
        return new Reply(Kind.OK, null, body, null);
    }

    public static Reply no(String reason) {
        return new Reply(Kind.NO, reason, null, null);
    }

    public static Reply no(String reason, ObjectNode body) {
        return new Reply(Kind.NO, reason, body, null);
    }

    public static Reply err(String code, String message) {
        return new Reply(Kind.ERR, code, null, message);
    }

    /** A new empty JSON object to fill in for a reply body. */
    public static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /** The shared mapper (thread-safe once configured). */
    public static ObjectMapper mapper() {
        return JSON;
    }

    public Kind kind() {
        return kind;
    }

    public boolean isOk() {
        return kind == Kind.OK;
    }

    /** The reason of a NO, or the code of an ERR; null for OK. */
    public String word() {
        return word;
    }

    /** The JSON object of an OK or NO, or null if it had none. */
    public ObjectNode body() {
        return body;
    }

    /** The human-readable message of an ERR. */
    public String message() {
        return message;
    }

    /** The reply as one line, without its LF. */
    public String format() {
        StringBuilder sb = new StringBuilder(64);
        sb.append(kind.name());
        if (word != null) {
            sb.append(' ').append(word);
        }
        if (kind == Kind.ERR) {
            if (message != null && !message.isEmpty()) {
                sb.append(' ').append(oneLine(message));
            }
        } else if (body != null) {
            try {
                sb.append(' ').append(JSON.writeValueAsString(body));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("reply body cannot be written as JSON", e);
            }
        }
        return sb.toString();
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * Parses a reply line (without its LF).
     *
     * @throws ProtocolException if the line is not a reply of protocol v1
     */
    public static Reply parse(String line) throws ProtocolException {
        Objects.requireNonNull(line, "line");
        int sp = line.indexOf(' ');
        String head = sp < 0 ? line : line.substring(0, sp);
        String rest = sp < 0 ? "" : line.substring(sp + 1);
        switch (head) {
            case "OK":
                return new Reply(Kind.OK, null, rest.isEmpty() ? null : parseObject(rest), null);
            case "NO": {
                if (rest.isEmpty()) {
                    throw new ProtocolException("NO without a reason");
                }
                int sp2 = rest.indexOf(' ');
                String reason = sp2 < 0 ? rest : rest.substring(0, sp2);
                String json = sp2 < 0 ? "" : rest.substring(sp2 + 1);
                return new Reply(Kind.NO, reason, json.isEmpty() ? null : parseObject(json), null);
            }
            case "ERR": {
                if (rest.isEmpty()) {
                    throw new ProtocolException("ERR without a code");
                }
                int sp2 = rest.indexOf(' ');
                String code = sp2 < 0 ? rest : rest.substring(0, sp2);
                String message = sp2 < 0 ? "" : rest.substring(sp2 + 1);
                return new Reply(Kind.ERR, code, null, message);
            }
            default:
                throw new ProtocolException("not a reply line");
        }
    }

    private static ObjectNode parseObject(String json) throws ProtocolException {
        try {
            var node = STRICT_JSON.readTree(json);
            if (node instanceof ObjectNode object) {
                return object;
            }
        } catch (JsonProcessingException e) {
            throw new ProtocolException("reply carries malformed JSON", e);
        }
        throw new ProtocolException("reply JSON is not an object");
    }

    @Override
    public String toString() {
        // Some replies carry secrets or backup codes (ENROLL, CONFIRM, BACKUP): never print bodies.
        return "Reply[" + kind + (word == null ? "" : " " + word) + (body == null ? "" : " {...}") + "]";
    }
}
