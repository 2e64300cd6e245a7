package org.twofactord.weblogin;

import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.regex.Pattern;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient.VerifyResult;

/** Typed codes: what is sent to the daemon, and what the person is told about each answer. */
final class Codes {
    /** cPanel's wording for a wrong code. */
    static final String INVALID = "The security code is invalid.";
    static final String REPLAYED = "The security code is invalid: it was already used. Wait for your app to show the next code.";
    static final String UNAVAILABLE = "The two-factor authentication service is not available. Try again later.";
    /** Six or eight digits, or a backup code of ten digits with its dash: anything else cannot be right. */
    private static final Pattern SHAPE = Pattern.compile("[0-9][0-9-]{5,11}");
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    private Codes() {
    }

    /**
     * The typed code without spaces, if it has a code's shape. A field full of something else is
     * refused here without asking the daemon: it could never be right, so nothing is gained by
     * counting it (and it could not be sent as one token anyway).
     */
    static Optional<String> clean(String typed) {
        String code = typed.replaceAll("\\s+", "");
        return SHAPE.matcher(code).matches() ? Optional.of(code) : Optional.empty();
    }

    /** What to show for a VERIFY that was not accepted. */
    static String refusal(VerifyResult result, Clock clock) {
        if (Reasons.LOCKED.equals(result.reason())) {
            return locked(result.retryAfterS(), clock);
        }
        if (Reasons.REPLAYED.equals(result.reason())) {
            return REPLAYED;
        }
        return INVALID;
    }

    static String locked(long retryAfterS, Clock clock) {
        long s = Math.max(1, retryAfterS);
        return "Too many failed attempts: two-factor authentication for this account is locked. Try again in "
                + s + (s == 1 ? " second" : " seconds") + " (after " + CLOCK.format(clock.instant().plusSeconds(s)) + ").";
    }
}
