package org.twofactord.daemon.store;

import java.nio.ByteBuffer;

/**
 * A secret handed out by ENROLL and not yet confirmed.
 *
 * @param sealedSecret the new secret, encrypted like {@link UserRecord#sealedSecret()}
 * @param createdAt    epoch seconds
 * @param expiresAt    epoch seconds; CONFIRM after this finds no pending enrolment
 */
public record PendingEnrollment(byte[] sealedSecret, long createdAt, long expiresAt) {
    public boolean expiredAt(long nowS) {
        return nowS >= expiresAt;
    }

    public byte[] encode() {
        return ByteBuffer.allocate(1 + 16 + sealedSecret.length).put((byte) 1).putLong(createdAt).putLong(expiresAt)
                .put(sealedSecret).array();
    }

    public static PendingEnrollment decode(byte[] data) {
        ByteBuffer buf = ByteBuffer.wrap(data);
        if (buf.get() != 1) {
            throw new IllegalStateException("unknown pending record format");
        }
        long created = buf.getLong();
        long expires = buf.getLong();
        byte[] secret = new byte[buf.remaining()];
        buf.get(secret);
        return new PendingEnrollment(secret, created, expires);
    }

    @Override
    public String toString() {
        return "PendingEnrollment[secret=***, expiresAt=" + expiresAt + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PendingEnrollment other && java.util.Arrays.equals(encode(), other.encode());
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(encode());
    }
}
