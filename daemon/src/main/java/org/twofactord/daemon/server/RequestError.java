package org.twofactord.daemon.server;

import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Reply;

/** A request that cannot be carried out as written; the reply says why. Nothing was changed. */
final class RequestError extends RuntimeException {
    final transient Reply reply;

    RequestError(String code, String message) {
        super(message, null, false, false);
        this.reply = Reply.err(code, message);
    }

    static RequestError badRequest(String message) {
        return new RequestError(ErrorCodes.BAD_REQUEST, message);
    }
}
