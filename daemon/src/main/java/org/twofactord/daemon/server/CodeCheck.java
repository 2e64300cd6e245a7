package org.twofactord.daemon.server;

import org.twofactord.daemon.store.Writer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.OptionalLong;
import org.twofactord.daemon.policy.Lockout;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.Reply;

/**
 * Checks one code for one enrolled user and consumes it: the decision VERIFY makes, and the proof a
 * self caller gives for ENROLL, REMOVE and BACKUP. The matching step (or used backup code) is
 * written by the {@link org.twofactord.daemon.store.Writer} and made durable (committed, or the
 * user's record synced to the store's journal) before the OK is returned, under a precondition
 * re-checked there, so two requests with one fresh code get one OK.
 */
final class CodeCheck {
    private final Services services;

    CodeCheck(Services services) {
        this.services = services;
    }

    /** The outcome: the reply to send, and whether it is a yes. */
    record Outcome(Reply reply, boolean accepted) {
    }

    Outcome check(String name, UserRecord record, String code) throws StoreException {
        long now = services.nowS();
        if (record.lockedAt(now)) {
            return counted(locked(record, now));
        }
        String backupDigits = backupDigits(code, services.totp.digits());
        if (!services.totp.isTotpShape(code)) {
            if (backupDigits == null) {
                return counted(services.writeLazy(name, store -> fail(store, name, record.generation(), Reasons.INVALID, now)));
            }
            return counted(useBackup(name, record, backupDigits, now));
        }
        byte[] secret = services.key.open(name, record.sealedSecret());
        OptionalLong step;
        try {
            step = services.totp.match(secret, code, services.totp.currentStep(), services.config.window(),
                    record.lastStep());
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
        if (step.isEmpty()) {
            if (backupDigits != null) {
                // With 8-digit TOTP, an imported 8-digit scratch code has the same shape.
                return counted(useBackup(name, record, backupDigits, now));
            }
            return counted(services.writeLazy(name, store -> fail(store, name, record.generation(), Reasons.INVALID, now)));
        }
        long matched = step.getAsLong();
        return counted(services.writeSynced(name, store -> accept(store, name, record.generation(), matched, now)));
    }

    private Outcome useBackup(String name, UserRecord record, String digits, long now) throws StoreException {
        byte[] hash = services.key.backupHash(name, digits);
        return services.writeSynced(name, store -> useBackup(store, name, record.generation(), hash, now));
    }

    private Outcome counted(Outcome outcome) {
        (outcome.accepted() ? services.stats.verifyOk : services.stats.verifyNo).incrementAndGet();
        return outcome;
    }

    /**
     * The digits of a backup code, if {@code code} has the shape of one: 10 digits, shown
     * {@code 12345-67890} and accepted with or without the dash; or 8 digits, the scratch codes
     * imported from google-authenticator (when TOTP codes are 6 digits, an 8-digit code is
     * always a scratch code; with 8-digit TOTP it is tried as a scratch code after the TOTP check).
     */
    static String backupDigits(String code, int totpDigits) {
        String digits = code.length() == 11 && code.charAt(5) == '-' ? code.substring(0, 5) + code.substring(6) : code;
        if (digits.length() != 10 && digits.length() != 8) {
            return null;
        }
        for (int i = 0; i < digits.length(); i++) {
            if (digits.charAt(i) < '0' || digits.charAt(i) > '9') {
                return null;
            }
        }
        return digits;
    }

    private static Outcome locked(UserRecord record, long now) {
        var body = Reply.object().put(Keys.RETRY_AFTER, Math.max(1, record.lockedUntil() - now));
        return new Outcome(Reply.no(Reasons.LOCKED, body), false);
    }

    // The changes below run on the writer thread, against the store as it is then.

    private Outcome accept(Store store, String name, int generation, long step, long now) {
        // One conditional write decides, so that with a shared database one daemon's OK is
        // every other daemon's replay.
        if (store.acceptStep(name, generation, step, now)) {
            return new Outcome(Reply.ok(Reply.object().put(Keys.METHOD, "totp")), true);
        }
        UserRecord current = store.user(name).orElse(null);
        if (current == null || current.generation() != generation) {
            return new Outcome(Reply.no(Reasons.INVALID), false); // the secret changed meanwhile
        }
        if (current.lockedAt(now)) {
            return locked(current, now);
        }
        return fail(store, name, generation, Reasons.REPLAYED, now);
    }

    private Outcome useBackup(Store store, String name, int generation, byte[] hash, long now) {
        UserRecord current = store.user(name).orElse(null);
        if (current == null || current.generation() != generation) {
            return new Outcome(Reply.no(Reasons.INVALID), false);
        }
        if (current.lockedAt(now)) {
            return locked(current, now);
        }
        int index = findBackup(current, hash);
        if (index < 0 || !store.useBackupCode(name, generation, index, now)) {
            return fail(store, name, generation, Reasons.INVALID, now);
        }
        UserRecord updated = current.backupUsed(index, now);
        return new Outcome(Reply.ok(Reply.object().put(Keys.METHOD, "backup")
                .put(Keys.BACKUP_CODES_LEFT, updated.backupCodesLeft())), true);
    }

    /** The index of the unused backup code with this hash, or -1; every slot is compared. */
    private static int findBackup(UserRecord record, byte[] hash) {
        int size = MasterKey.BACKUP_HASH_BYTES;
        int found = -1;
        for (int i = 0; i * size < record.backupHashes().length; i++) {
            byte[] slot = Arrays.copyOfRange(record.backupHashes(), i * size, (i + 1) * size);
            if (MessageDigest.isEqual(slot, hash) && (record.backupUsed() & (1 << i)) == 0) {
                found = i;
            }
        }
        return found;
    }

    private Outcome fail(Store store, String name, int generation, String reason, long now) {
        UserRecord current = store.user(name).orElse(null);
        if (current == null || current.generation() != generation) {
            return new Outcome(Reply.no(reason), false);
        }
        if (current.lockedAt(now)) {
            return locked(current, now);
        }
        Lockout.State after = services.lockout.afterFailure(
                new Lockout.State(current.failures(), current.lockoutLevel(), current.lockedUntil()), now);
        if (after.lockedAt(now)) {
            services.stats.lockouts.incrementAndGet();
        }
        if (Reasons.REPLAYED.equals(reason)) {
            services.stats.replays.incrementAndGet();
        }
        store.putUser(name, current.withFailures(after.failures(), after.level(), after.lockedUntil()));
        return new Outcome(Reply.no(reason), false);
    }
}
