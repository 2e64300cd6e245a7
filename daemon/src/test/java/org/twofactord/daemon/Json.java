package org.twofactord.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Reads the JSON part of a reply line in tests. */
public final class Json {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {
    }

    /** The JSON object after "OK " or "NO reason ". */
    public static JsonNode of(String replyLine) {
        int brace = replyLine.indexOf('{');
        if (brace < 0) {
            throw new AssertionError("no JSON in reply: " + replyLine);
        }
        try {
            return MAPPER.readTree(replyLine.substring(brace));
        } catch (Exception e) {
            throw new AssertionError("bad JSON in reply: " + replyLine, e);
        }
    }
}
