package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/**
 * One enrolled user's state. Immutable: a change writes a new record. Times are epoch seconds,
 * 0 meaning "never".
 *
 * @param sealedSecret  the TOTP secret encrypted under the master key (see {@link MasterKey#seal})
 * @param generation    counts confirmed enrolments; a change made against an older secret is void
 * @param lastStep      the last accepted TOTP time step; only later steps are accepted
 * @param failures      failures in a row since the last success or lockout
 * @param lockoutLevel  lockouts in a row; each doubles the next
 * @param lockedUntil   no code is accepted before this
 * @param enrolledAt    when the current secret was confirmed
 * @param lastUsedAt    when a code was last accepted
 * @param backupHashes  {@link #BACKUP_CODES} hashes of {@link MasterKey#BACKUP_HASH_BYTES} bytes each
 * @param backupUsed    bit i set when backup code i has been used
 */
public record UserRecord(byte[] sealedSecret, int generation, long lastStep, int failures, int lockoutLevel,
                         long lockedUntil, long enrolledAt, long lastUsedAt, byte[] backupHashes, int backupUsed) {
    public static final int BACKUP_CODES = 10;
    private static final byte FORMAT = 1;

    public int backupCodesLeft() {
        int count = backupHashes.length / MasterKey.BACKUP_HASH_BYTES;
        return count - Integer.bitCount(backupUsed & ((1 << count) - 1));
    }

    public boolean lockedAt(long nowS) {
        return lockedUntil > nowS;
    }

    public UserRecord accepted(long step, long nowS) {
        return new UserRecord(sealedSecret, generation, Math.max(step, lastStep), 0, 0, 0, enrolledAt, nowS,
                backupHashes, backupUsed);
    }

    public UserRecord backupUsed(int index, long nowS) {
        return new UserRecord(sealedSecret, generation, lastStep, 0, 0, 0, enrolledAt, nowS, backupHashes,
                backupUsed | (1 << index));
    }

    public UserRecord withFailures(int newFailures, int newLevel, long newLockedUntil) {
        return new UserRecord(sealedSecret, generation, lastStep, newFailures, newLevel, newLockedUntil, enrolledAt,
                lastUsedAt, backupHashes, backupUsed);
    }

    public UserRecord withBackup(byte[] hashes) {
        return new UserRecord(sealedSecret, generation, lastStep, failures, lockoutLevel, lockedUntil, enrolledAt,
                lastUsedAt, hashes, 0);
    }

    public UserRecord unlocked() {
        return withFailures(0, 0, 0);
    }

    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(96 + backupHashes.length);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(FORMAT);
            out.writeByte(sealedSecret.length);
            out.write(sealedSecret);
            out.writeInt(generation);
            out.writeLong(lastStep);
            out.writeShort(failures);
            out.writeByte(lockoutLevel);
            out.writeLong(lockedUntil);
            out.writeLong(enrolledAt);
            out.writeLong(lastUsedAt);
            out.writeShort(backupHashes.length);
            out.write(backupHashes);
            out.writeShort(backupUsed);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return bytes.toByteArray();
    }

    public static UserRecord decode(byte[] data) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            byte format = in.readByte();
            if (format != FORMAT) {
                throw new IllegalStateException("unknown user record format " + format);
            }
            byte[] secret = in.readNBytes(in.readUnsignedByte());
            int generation = in.readInt();
            long lastStep = in.readLong();
            int failures = in.readUnsignedShort();
            int level = in.readUnsignedByte();
            long lockedUntil = in.readLong();
            long enrolledAt = in.readLong();
            long lastUsedAt = in.readLong();
            byte[] hashes = in.readNBytes(in.readUnsignedShort());
            int used = in.readUnsignedShort();
            return new UserRecord(secret, generation, lastStep, failures, level, lockedUntil, enrolledAt, lastUsedAt,
                    hashes, used);
        } catch (IOException e) {
            throw new IllegalStateException("a user record is truncated", e);
        }
    }

    @Override
    public String toString() {
        return "UserRecord[secret=***, generation=" + generation + ", lastStep=" + lastStep + ", failures=" + failures
                + ", lockoutLevel=" + lockoutLevel + ", lockedUntil=" + lockedUntil + ", backupLeft="
                + backupCodesLeft() + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UserRecord other && java.util.Arrays.equals(encode(), other.encode());
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(encode());
    }
}
