package org.twofactord.weblogin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import org.twofactord.protocol.UserNames;

/**
 * The demo's first factor: a password file of salted PBKDF2-HMAC-SHA256 hashes, one user a line.
 *
 * <pre>
 * # user:pbkdf2-sha256$iterations$salt$hash   (salt and hash in Base64, 16 and 32 bytes)
 * alice:pbkdf2-sha256$600000$3q2+7w...$Zm9v...
 * </pre>
 *
 * A real panel checks passwords its own way (PAM, its database); the daemon only ever sees the
 * user name and the second factor.
 */
final class PasswordFile {
    static final String SCHEME = "pbkdf2-sha256";
    /** OWASP's figure for PBKDF2-HMAC-SHA256. */
    static final int DEFAULT_ITERATIONS = 600_000;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BITS = 256;
    /**
     * Unknown users are checked against this, so that a wrong name costs as much time as a wrong
     * password and the login page does not tell which names exist.
     */
    private static final Hash DUMMY = new Hash(DEFAULT_ITERATIONS, new byte[SALT_BYTES], new byte[HASH_BITS / 8]);

    private final Map<String, Hash> users;

    private PasswordFile(Map<String, Hash> users) {
        this.users = Collections.unmodifiableMap(users);
    }

    /** Reads a password file; a malformed line is an error naming the file and line. */
    static PasswordFile load(Path file) throws IOException {
        Map<String, Hash> users = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            String name = colon < 0 ? "" : line.substring(0, colon);
            if (!UserNames.isValid(name)) {
                throw new IOException(file + ":" + (i + 1) + ": expected user:" + SCHEME + "$...");
            }
            try {
                users.put(name, Hash.parse(line.substring(colon + 1)));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ":" + (i + 1) + ": " + e.getMessage());
            }
        }
        return new PasswordFile(users);
    }

    static PasswordFile of(Map<String, String> encodedHashes) {
        Map<String, Hash> users = new LinkedHashMap<>();
        encodedHashes.forEach((name, hash) -> users.put(name, Hash.parse(hash)));
        return new PasswordFile(users);
    }

    /** The users of the file, in file order. */
    Set<String> users() {
        return users.keySet();
    }

    /** True only for a known user with the right password. Takes about as long either way. */
    boolean check(String name, char[] password) {
        Hash hash = users.get(name);
        boolean match = (hash == null ? DUMMY : hash).matches(password);
        return hash != null && match;
    }

    /** A new salted hash of {@code password}, as it is written in the file. */
    static String hash(char[] password, int iterations, SecureRandom random) {
        byte[] salt = new byte[SALT_BYTES];
        random.nextBytes(salt);
        return new Hash(iterations, salt, Hash.derive(password, salt, iterations)).encode();
    }

    /** One stored hash. */
    record Hash(int iterations, byte[] salt, byte[] hash) {
        static Hash parse(String text) {
            String[] parts = text.split("\\$", -1);
            if (parts.length != 4 || !parts[0].equals(SCHEME)) {
                throw new IllegalArgumentException("expected " + SCHEME + "$iterations$salt$hash");
            }
            int iterations;
            try {
                iterations = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("iterations is not a number");
            }
            if (iterations < 1_000 || iterations > 10_000_000) {
                throw new IllegalArgumentException("iterations must be 1000 to 10000000");
            }
            Base64.Decoder b64 = Base64.getDecoder();
            byte[] salt = b64.decode(parts[2]);
            byte[] hash = b64.decode(parts[3]);
            if (salt.length < 8 || hash.length != HASH_BITS / 8) {
                throw new IllegalArgumentException("salt or hash has the wrong length");
            }
            return new Hash(iterations, salt, hash);
        }

        String encode() {
            Base64.Encoder b64 = Base64.getEncoder();
            return SCHEME + "$" + iterations + "$" + b64.encodeToString(salt) + "$" + b64.encodeToString(hash);
        }

        boolean matches(char[] password) {
            return MessageDigest.isEqual(derive(password, salt, iterations), hash);
        }

        static byte[] derive(char[] password, byte[] salt, int iterations) {
            PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, HASH_BITS);
            try {
                return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("PBKDF2WithHmacSHA256 is missing from this JDK", e);
            } finally {
                spec.clearPassword();
            }
        }

        @Override
        public String toString() {
            return "Hash[" + SCHEME + ", iterations=" + iterations + ", ***]";
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Hash h && h.iterations == iterations && Arrays.equals(h.salt, salt)
                    && Arrays.equals(h.hash, hash);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(salt) + Arrays.hashCode(hash);
        }
    }
}
