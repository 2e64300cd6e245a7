package org.twofactord.protocol;

import java.io.IOException;

/**
 * The daemon answered {@code ERR} (the request could not be carried out) or {@code NO} to a
 * command whose typed method has no "no" in its result. {@link #word()} is the error code or the
 * reason, as listed in {@link ErrorCodes} and {@link Reasons}.
 */
public class TwoFactorException extends IOException {
    private final Reply reply;

    public TwoFactorException(Reply reply) {
        super(describe(reply));
        this.reply = reply;
    }

    private static String describe(Reply reply) {
        if (reply.kind() == Reply.Kind.ERR) {
            return "ERR " + reply.word() + (reply.message().isEmpty() ? "" : ": " + reply.message());
        }
        return "NO " + reply.word();
    }

    /** The reply as received; its body never holds a secret (only OK replies do). */
    public Reply reply() {
        return reply;
    }

    /** True for {@code NO}, false for {@code ERR}. */
    public boolean isRefusal() {
        return reply.kind() == Reply.Kind.NO;
    }

    /** The error code of an {@code ERR} or the reason of a {@code NO}. */
    public String word() {
        return reply.word();
    }
}
