package org.twofactord.protocol;

import java.io.IOException;

/** The peer said something that is not protocol v1. */
public class ProtocolException extends IOException {
    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
