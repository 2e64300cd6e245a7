package org.twofactord.daemon.totp;

import com.bastiaanjansen.otp.HMACAlgorithm;
import com.bastiaanjansen.otp.HOTPGenerator;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.OptionalLong;

/**
 * TOTP (RFC 6238) with SHA1 and 30-second steps. Codes are generated for each step of the window
 * with otp-java's HOTP generator and compared in constant time; otp-java's own {@code verify}
 * is not used because it compares with {@code String.equals} and does not say which step matched.
 */
public final class TotpEngine {
    /** Seconds per time step. */
    public static final int PERIOD_S = 30;

    private final int digits;
    private final Clock clock;

    public TotpEngine(int digits, Clock clock) {
        if (digits != 6 && digits != 8) {
            throw new IllegalArgumentException("digits must be 6 or 8");
        }
        this.digits = digits;
        this.clock = clock;
    }

    public int digits() {
        return digits;
    }

    /** The time step of the clock's now. */
    public long currentStep() {
        return Math.floorDiv(clock.instant().getEpochSecond(), PERIOD_S);
    }

    /** True if {@code code} has the shape of a TOTP code (exactly {@code digits} ASCII digits). */
    public boolean isTotpShape(String code) {
        if (code.length() != digits) {
            return false;
        }
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** The code for one step. */
    public String codeAt(byte[] secret, long step) {
        return generator(secret).generate(step);
    }

    /**
     * Finds the steps in {@code centre-window .. centre+window} whose code equals {@code code}.
     * Every step is compared, so the time taken does not depend on which one matched.
     *
     * @return the highest matching step above {@code above}, or, if none is above it, the highest
     *         matching step at all; empty if no step matches
     */
    public OptionalLong match(byte[] secret, String code, long centre, int window, long above) {
        if (!isTotpShape(code)) {
            return OptionalLong.empty();
        }
        HOTPGenerator generator = generator(secret);
        byte[] typed = code.getBytes(StandardCharsets.US_ASCII);
        long bestAbove = Long.MIN_VALUE;
        long bestAny = Long.MIN_VALUE;
        for (long step = centre - window; step <= centre + window; step++) {
            byte[] expected = generator.generate(step).getBytes(StandardCharsets.US_ASCII);
            boolean equal = MessageDigest.isEqual(expected, typed);
            if (equal) {
                bestAny = Math.max(bestAny, step);
                if (step > above) {
                    bestAbove = Math.max(bestAbove, step);
                }
            }
        }
        if (bestAbove != Long.MIN_VALUE) {
            return OptionalLong.of(bestAbove);
        }
        return bestAny == Long.MIN_VALUE ? OptionalLong.empty() : OptionalLong.of(bestAny);
    }

    private HOTPGenerator generator(byte[] secret) {
        // otp-java takes the Base32 text of the secret, as bytes, and keeps that very array (it
        // decodes it at each generate), so the array must not be wiped while the generator lives.
        byte[] base32 = Base32.encode(secret).getBytes(StandardCharsets.US_ASCII);
        return new HOTPGenerator.Builder(base32)
                .withPasswordLength(digits)
                .withAlgorithm(HMACAlgorithm.SHA1)
                .build();
    }
}
