package org.twofactord.daemon.totp;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.OptionalLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * TOTP (RFC 6238) with SHA1 and 30-second steps. Codes are generated for each step of the window
 * (RFC 4226's HMAC-SHA1 and dynamic truncation, a few lines below) and compared in constant time.
 * otp-java was used here before; its generator Base32-decodes the secret and formats the code with
 * {@code String.format} at every step, which made up a tenth of a wrong guess's cost, and its own
 * {@code verify} compares with {@code String.equals} and does not say which step matched.
 */
public final class TotpEngine {
    /** Seconds per time step. */
    public static final int PERIOD_S = 30;

    private static final int[] POWERS = {1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000};
    /** One Mac per thread: Mac.getInstance looks the provider up every time. */
    private static final ThreadLocal<Mac> HMAC_SHA1 = ThreadLocal.withInitial(() -> {
        try {
            return Mac.getInstance("HmacSHA1");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 is missing from this JVM", e);
        }
    });

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
        return new String(code(init(secret), step), StandardCharsets.US_ASCII);
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
        Mac mac = init(secret);
        byte[] typed = code.getBytes(StandardCharsets.US_ASCII);
        long bestAbove = Long.MIN_VALUE;
        long bestAny = Long.MIN_VALUE;
        for (long step = centre - window; step <= centre + window; step++) {
            byte[] expected = code(mac, step);
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

    private static Mac init(byte[] secret) {
        Mac mac = HMAC_SHA1.get();
        try {
            mac.init(new SecretKeySpec(secret, "HmacSHA1"));
        } catch (InvalidKeyException e) {
            throw new IllegalArgumentException("not a usable HMAC-SHA1 key", e);
        }
        return mac;
    }

    /** RFC 4226: HMAC-SHA1 of the 8-byte counter, dynamic truncation, the last {@code digits} digits as ASCII. */
    private byte[] code(Mac mac, long step) {
        byte[] counter = new byte[8];
        for (int i = 7; i >= 0; i--) {
            counter[i] = (byte) step;
            step >>>= 8;
        }
        byte[] hash = mac.doFinal(counter);
        int offset = hash[hash.length - 1] & 0x0f;
        int binary = ((hash[offset] & 0x7f) << 24) | ((hash[offset + 1] & 0xff) << 16)
                | ((hash[offset + 2] & 0xff) << 8) | (hash[offset + 3] & 0xff);
        int value = binary % POWERS[digits];
        byte[] out = new byte[digits];
        for (int i = digits - 1; i >= 0; i--) {
            out[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        return out;
    }
}
