package org.twofactord.daemon.store.key;

import org.twofactord.daemon.store.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The master key in {@code state_dir/master.key}: 32 random bytes, mode 0600. Two keys are derived
 * from it (HMAC-SHA256 over a label), one to encrypt TOTP secrets with AES-256-GCM (the user name
 * is the associated data, so a secret cannot be moved to another user), one to hash backup codes.
 */
public final class MasterKey {
    public static final int KEY_BYTES = 32;
    static final int NONCE_BYTES = 12;
    static final int TAG_BITS = 128;
    /** Backup code hashes are HMAC-SHA256 cut to this many bytes (96 bits). */
    public static final int BACKUP_HASH_BYTES = 12;

    private final SecretKeySpec secretsKey;
    private final SecretKeySpec backupKey;
    private final SecureRandom random;
    /** For a key not yet in its file (see {@link #unsaved}): the file and the bytes; else null. */
    private Path unsavedFile;
    private byte[] unsavedBytes;

    private MasterKey(byte[] master, SecureRandom random) {
        this.secretsKey = new SecretKeySpec(derive(master, "twofactord secrets v1"), "AES");
        this.backupKey = new SecretKeySpec(derive(master, "twofactord backup codes v1"), "HmacSHA256");
        this.random = random;
    }

    /**
     * A new key for {@code file}, held in memory until {@link #save} writes it: for a shared store
     * (PostgreSQL), which is new, and so may get a new key, only if no other server has claimed it.
     * The store saves the key when it claims the database for it and refuses an unsaved key
     * otherwise, so a key file is never made beside an existing database.
     */
    public static MasterKey unsaved(Path file, SecureRandom random) {
        byte[] bytes = new byte[KEY_BYTES];
        random.nextBytes(bytes);
        MasterKey key = new MasterKey(bytes, random);
        key.unsavedFile = file;
        key.unsavedBytes = bytes;
        return key;
    }

    /** Whether this key is in its file (every key but an {@link #unsaved} one before {@link #save}). */
    public synchronized boolean saved() {
        return unsavedBytes == null;
    }

    /** The file an {@link #unsaved} key is for, or null. */
    public synchronized Path unsavedFile() {
        return unsavedFile;
    }

    /** Writes an {@link #unsaved} key to its file (mode 0600, a new file); nothing for a saved key. */
    public synchronized void save() throws StoreException {
        if (unsavedBytes == null) {
            return;
        }
        write(unsavedFile, unsavedBytes);
        Arrays.fill(unsavedBytes, (byte) 0);
        unsavedBytes = null;
    }

    /** A key from raw bytes (tests). */
    public static MasterKey of(byte[] master, SecureRandom random) {
        if (master.length != KEY_BYTES) {
            throw new IllegalArgumentException("a master key is " + KEY_BYTES + " bytes");
        }
        return new MasterKey(master, random);
    }

    /**
     * Loads the key file, or creates it when {@code mayCreate} (a new store). An existing store
     * without its key is an error: making a new key would silently orphan every secret.
     */
    public static MasterKey loadOrCreate(Path file, boolean mayCreate, SecureRandom random) throws StoreException {
        if (Files.exists(file)) {
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(file);
            } catch (IOException e) {
                throw new StoreException("master key " + file + " cannot be read: " + e.getMessage(), e);
            }
            if (bytes.length != KEY_BYTES) {
                throw new StoreException("master key " + file + " is " + bytes.length + " bytes, expected "
                        + KEY_BYTES + "; restore it from the backup taken with the store");
            }
            try {
                return new MasterKey(bytes, random);
            } finally {
                Arrays.fill(bytes, (byte) 0);
            }
        }
        if (!mayCreate) {
            throw new StoreException("master key " + file + " is missing but the store exists; restore the key "
                    + "from the backup taken with the store (a new key could not decrypt any secret)");
        }
        byte[] bytes = new byte[KEY_BYTES];
        random.nextBytes(bytes);
        try {
            write(file, bytes);
            return new MasterKey(bytes, random);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    private static void write(Path file, byte[] bytes) throws StoreException {
        try (FileChannel ch = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            ch.write(ByteBuffer.wrap(bytes));
            ch.force(true);
        } catch (FileAlreadyExistsException e) {
            throw new StoreException("master key " + file + " appeared while it was being created", e);
        } catch (IOException e) {
            throw new StoreException("master key " + file + " cannot be written: " + e.getMessage(), e);
        }
    }

    private static byte[] derive(byte[] master, String label) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(master, "HmacSHA256"));
            return mac.doFinal(label.getBytes(StandardCharsets.US_ASCII));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
        }
    }

    /** Encrypts a TOTP secret for {@code user}: nonce followed by ciphertext and tag. */
    public byte[] seal(String user, byte[] secret) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, secretsKey, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(user.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = cipher.doFinal(secret);
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM failed", e);
        }
    }

    /**
     * Decrypts what {@link #seal} made for the same user.
     *
     * @throws StoreException if the key is wrong or the bytes were altered
     */
    public byte[] open(String user, byte[] sealed) throws StoreException {
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, secretsKey, new GCMParameterSpec(TAG_BITS, sealed, 0, NONCE_BYTES));
            cipher.updateAAD(user.getBytes(StandardCharsets.UTF_8));
            return cipher.doFinal(sealed, NONCE_BYTES, sealed.length - NONCE_BYTES);
        } catch (GeneralSecurityException e) {
            throw new StoreException("a secret cannot be decrypted with this master key (wrong key, or the store was altered)", e);
        }
    }

    /** The stored form of a backup code (its 10 digits, no dash) for {@code user}. */
    public byte[] backupHash(String user, String digits) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(backupKey);
            mac.update(user.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) 0);
            return Arrays.copyOf(mac.doFinal(digits.getBytes(StandardCharsets.US_ASCII)), BACKUP_HASH_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 failed", e);
        }
    }

    /** A check value stored beside the data, so a wrong key is found at start, not at first login. */
    public byte[] fingerprint() {
        return Arrays.copyOf(backupHash("", "twofactord key check"), BACKUP_HASH_BYTES);
    }

    @Override
    public String toString() {
        return "MasterKey[***]";
    }
}
