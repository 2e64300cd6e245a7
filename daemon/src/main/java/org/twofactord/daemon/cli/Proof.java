package org.twofactord.daemon.cli;

import java.io.IOException;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorException;

/**
 * Runs a change that a self caller must prove with a code: first as given, and when the daemon
 * answers {@code NO code-required}, again with a code asked for (or taken from {@code --code}).
 */
final class Proof {
    /** A change that may need a code. */
    @FunctionalInterface
    interface Change<T> {
        T run(String code) throws IOException;
    }

    private Proof() {
    }

    static <T> T run(Io io, String givenCode, Change<T> change) throws IOException {
        try {
            return change.run(givenCode);
        } catch (TwoFactorException e) {
            if (givenCode != null || !e.isRefusal() || !Reasons.CODE_REQUIRED.equals(e.word())) {
                throw e;
            }
        }
        String code = io.ask("This account has two-factor authentication. Enter a current code or a backup code: ");
        if (code == null || code.isEmpty()) {
            throw new TwoFactorException(org.twofactord.protocol.Reply.no(Reasons.CODE_REQUIRED));
        }
        return change.run(code.replace(" ", "")); // as the app shows it: "123 456"
    }
}
