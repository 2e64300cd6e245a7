package org.twofactord.protocol;

/** The codes that follow {@code ERR} in a reply. */
public final class ErrorCodes {
    public static final String BAD_REQUEST = "bad-request";
    public static final String UNKNOWN_COMMAND = "unknown-command";
    public static final String BAD_USER = "bad-user";
    public static final String FORBIDDEN = "forbidden";
    public static final String TOO_LONG = "too-long";
    public static final String BUSY = "busy";
    /** The store cannot be read or written: the daemon fails closed. */
    public static final String UNAVAILABLE = "unavailable";
    public static final String INTERNAL = "internal";

    private ErrorCodes() {
    }
}
