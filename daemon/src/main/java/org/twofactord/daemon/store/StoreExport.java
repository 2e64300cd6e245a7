package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.twofactord.protocol.UserNames;

/**
 * A whole store as one JSON file, to move it between backends ({@code twofactord store export} and
 * {@code import}). Secrets stay sealed: the file holds the same encrypted bytes as the store, the
 * backup-code hashes, the replay and lockout state, the pending enrolments, policy and issuer,
 * and the master key's check value, so that it can only be imported into a store made with the
 * same key. Written with mode 0600 all the same.
 */
public final class StoreExport {
    static final String FORMAT = "twofactord-store-export";
    static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The store and the file are fine, but the move is not done as asked (a store that is not
     * empty, a file from another master key, a file that exists): the caller must change something.
     */
    public static final class Refused extends StoreException {
        public Refused(String message) {
            super(message);
        }
    }

    /** What was moved. */
    public record Counts(int users, int pending, int required) {
        /** "2 users and 1 pending enrolments", with the required marks when there are any. */
        public String describe() {
            return users + " users and " + pending + " pending enrolments"
                    + (required == 0 ? "" : " (" + required + " accounts marked required)");
        }
    }

    private StoreExport() {
    }

    /** Told of each name written or read, for a progress display. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = () -> { };

        void step();
    }

    /** Writes every record of {@code store} into {@code file}, which must not exist. */
    public static Counts write(Store store, MasterKey key, Path file) throws StoreException, IOException {
        return write(store, key, file, Progress.NONE);
    }

    /** As {@link #write(Store, MasterKey, Path)}, telling {@code progress} of each name. */
    public static Counts write(Store store, MasterKey key, Path file, Progress progress)
            throws StoreException, IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT).put("version", VERSION).put("key_check", keyCheck(key));
        ObjectNode meta = root.putObject("meta");
        for (String name : List.of(Store.META_POLICY, Store.META_ISSUER)) {
            store.meta(name).ifPresent(v -> meta.put(name, v));
        }
        ArrayNode users = root.putArray("users");
        ArrayNode pending = root.putArray("pending");
        Base64.Encoder b64 = Base64.getEncoder();
        for (String name : store.names()) {
            Optional<UserRecord> user = store.user(name);
            if (user.isPresent()) {
                UserRecord r = user.get();
                users.addObject().put("name", name).put("sealed_secret", b64.encodeToString(r.sealedSecret()))
                        .put("generation", r.generation()).put("last_step", r.lastStep()).put("failures", r.failures())
                        .put("lockout_level", r.lockoutLevel()).put("locked_until", r.lockedUntil())
                        .put("enrolled_at", r.enrolledAt()).put("last_used_at", r.lastUsedAt())
                        .put("backup_hashes", b64.encodeToString(r.backupHashes())).put("backup_used", r.backupUsed());
            }
            Optional<PendingEnrollment> p = store.pending(name);
            if (p.isPresent()) {
                pending.addObject().put("name", name).put("sealed_secret", b64.encodeToString(p.get().sealedSecret()))
                        .put("created_at", p.get().createdAt()).put("expires_at", p.get().expiresAt());
            }
            progress.step();
        }
        ArrayNode required = root.putArray("required");
        store.requiredNames().forEach(required::add);
        try (OutputStream out = Files.newOutputStream(Files.createFile(file,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
                StandardOpenOption.WRITE)) {
            JSON.writerWithDefaultPrettyPrinter().writeValue(out, root);
        }
        return new Counts(users.size(), pending.size(), required.size());
    }

    /**
     * Reads {@code file} into {@code store}, which must be empty and made with the same master
     * key as the exported store; every secret is checked to open with it before anything is
     * written, and everything is committed at once.
     */
    public static Counts read(Path file, Store store, MasterKey key) throws StoreException, IOException {
        return read(file, store, key, Progress.NONE);
    }

    /** As {@link #read(Path, Store, MasterKey)}, telling {@code progress} of each record checked. */
    public static Counts read(Path file, Store store, MasterKey key, Progress progress)
            throws StoreException, IOException {
        JsonNode root = JSON.readTree(file.toFile());
        if (root == null || !FORMAT.equals(root.path("format").asText()) || root.path("version").asInt() != VERSION) {
            throw new StoreException(file + " is not a twofactord store export of version " + VERSION);
        }
        if (!keyCheck(key).equals(root.path("key_check").asText())) {
            throw new Refused(file + " was exported from a store with another master key; copy that store's "
                    + "master.key here first (every server of a fleet has the same one)");
        }
        if (!store.names().isEmpty() || store.meta(Store.META_POLICY).isPresent() || !store.requiredNames().isEmpty()) {
            throw new Refused("the target store is not empty; import only into a new store");
        }
        Base64.Decoder b64 = Base64.getDecoder();
        java.util.Map<String, UserRecord> users = new java.util.TreeMap<>();
        java.util.Map<String, PendingEnrollment> pending = new java.util.TreeMap<>();
        java.util.Set<String> required = new java.util.TreeSet<>();
        try {
            // Everything is read and checked before anything is written.
            for (JsonNode u : root.path("users")) {
                UserRecord r = new UserRecord(b64.decode(u.path("sealed_secret").asText()), u.path("generation").asInt(),
                        u.path("last_step").asLong(), u.path("failures").asInt(), u.path("lockout_level").asInt(),
                        u.path("locked_until").asLong(), u.path("enrolled_at").asLong(), u.path("last_used_at").asLong(),
                        b64.decode(u.path("backup_hashes").asText()), u.path("backup_used").asInt());
                users.put(openable(key, name(u), r.sealedSecret()), r);
                progress.step();
            }
            for (JsonNode p : root.path("pending")) {
                PendingEnrollment e = new PendingEnrollment(b64.decode(p.path("sealed_secret").asText()),
                        p.path("created_at").asLong(), p.path("expires_at").asLong());
                pending.put(openable(key, name(p), e.sealedSecret()), e);
                progress.step();
            }
            // An export from before required marks has none.
            for (JsonNode r : root.path("required")) {
                required.add(name(r));
            }
        } catch (IllegalArgumentException e) {
            throw new StoreException(file + " is damaged: " + e.getMessage(), e);
        }
        Store tx = store.inTransaction();
        try {
            users.forEach(tx::putUser);
            pending.forEach(tx::putPending);
            required.forEach(name -> tx.setRequired(name, true));
            JsonNode meta = root.path("meta");
            for (String name : List.of(Store.META_POLICY, Store.META_ISSUER)) {
                if (meta.hasNonNull(name)) {
                    tx.putMeta(name, meta.get(name).asText());
                }
            }
        } catch (StoreUnavailable e) {
            throw e.getCause();
        }
        store.commit();
        return new Counts(users.size(), pending.size(), required.size());
    }

    /** The user's name, once the sealed secret has been shown to open with {@code key}. */
    private static String openable(MasterKey key, String name, byte[] sealed) throws StoreException {
        java.util.Arrays.fill(key.open(name, sealed), (byte) 0);
        return name;
    }

    /** A record's name, or a bare string's (the required marks). */
    private static String name(JsonNode record) throws StoreException {
        String name = record.isTextual() ? record.asText() : record.path("name").asText();
        if (!UserNames.isValid(name)) {
            throw new StoreException("the export holds an invalid user name");
        }
        return name;
    }

    private static String keyCheck(MasterKey key) {
        return HexFormat.of().formatHex(key.fingerprint());
    }
}
