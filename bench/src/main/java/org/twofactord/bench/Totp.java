package org.twofactord.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * RFC 6238 codes for the load generator (SHA1, 30-second steps, 6 digits), and the secret of
 * each benchmark user: HMAC-SHA256 of its name under a fixed key, so that every process of a run
 * knows every user's secret without a file.
 */
final class Totp {
    static final int PERIOD_S = 30;
    private static final byte[] SEED = "twofactord-bench-secrets".getBytes(StandardCharsets.US_ASCII);
    private static final ThreadLocal<Mac> SHA1 = ThreadLocal.withInitial(() -> mac("HmacSHA1"));
    private static final ThreadLocal<Mac> SHA256 = ThreadLocal.withInitial(() -> mac("HmacSHA256"));
    private static final String BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private Totp() {
    }

    private static Mac mac(String algorithm) {
        try {
            return Mac.getInstance(algorithm);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The 20-byte secret of a benchmark user. */
    static byte[] secretFor(String user) {
        try {
            Mac mac = SHA256.get();
            mac.init(new SecretKeySpec(SEED, "HmacSHA256"));
            return Arrays.copyOf(mac.doFinal(user.getBytes(StandardCharsets.US_ASCII)), 20);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static long stepNow() {
        return Math.floorDiv(System.currentTimeMillis() / 1000, PERIOD_S);
    }

    /** The 6-digit code of {@code secret} at {@code step}. */
    static String code(byte[] secret, long step) {
        try {
            Mac mac = SHA1.get();
            mac.init(new SecretKeySpec(secret, "HmacSHA1"));
            byte[] h = mac.doFinal(ByteBuffer.allocate(8).putLong(step).array());
            int off = h[h.length - 1] & 0x0f;
            int bin = ((h[off] & 0x7f) << 24) | ((h[off + 1] & 0xff) << 16) | ((h[off + 2] & 0xff) << 8)
                    | (h[off + 3] & 0xff);
            return String.format("%06d", bin % 1_000_000);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A 6-digit code that is wrong for every step within {@code window} (plus one) of now. */
    static String wrongCode(byte[] secret, int window) {
        long now = stepNow();
        while (true) {
            String guess = String.format("%06d", ThreadLocalRandom.current().nextInt(1_000_000));
            boolean right = false;
            for (long s = now - window - 1; s <= now + window + 1 && !right; s++) {
                right = code(secret, s).equals(guess);
            }
            if (!right) {
                return guess;
            }
        }
    }

    static String base32(byte[] data) {
        StringBuilder sb = new StringBuilder();
        int buffer = 0;
        int bits = 0;
        for (byte b : data) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                sb.append(BASE32.charAt((buffer >> (bits - 5)) & 31));
                bits -= 5;
            }
        }
        if (bits > 0) {
            sb.append(BASE32.charAt((buffer << (5 - bits)) & 31));
        }
        return sb.toString();
    }
}
