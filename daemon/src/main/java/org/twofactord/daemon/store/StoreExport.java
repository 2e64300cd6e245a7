package org.twofactord.daemon.store;

import org.twofactord.daemon.store.key.MasterKey;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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

    /**
     * As {@link #write(Store, MasterKey, Path)}, telling {@code progress} of each name. The file is
     * written as the records are read, one at a time, so that a store of a million users fits
     * the command line's heap; a failed export leaves no file.
     */
    public static Counts write(Store store, MasterKey key, Path file, Progress progress)
            throws StoreException, IOException {
        int users = 0;
        int pending = 0;
        int required = 0;
        boolean done = false;
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(Files.createFile(file,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))),
                StandardOpenOption.WRITE), 1 << 16);
             JsonGenerator g = JSON.getFactory().createGenerator(out)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("format", FORMAT);
            g.writeNumberField("version", VERSION);
            g.writeStringField("key_check", keyCheck(key));
            g.writeObjectFieldStart("meta");
            for (String name : List.of(Store.META_POLICY, Store.META_ISSUER)) {
                Optional<String> value = store.meta(name);
                if (value.isPresent()) {
                    g.writeStringField(name, value.get());
                }
            }
            g.writeEndObject();
            Base64.Encoder b64 = Base64.getEncoder();
            g.writeArrayFieldStart("users");
            for (Map.Entry<String, UserRecord> user : store.users()) {
                String name = user.getKey();
                UserRecord r = user.getValue();
                g.writeStartObject();
                g.writeStringField("name", name);
                g.writeStringField("sealed_secret", b64.encodeToString(r.sealedSecret()));
                g.writeNumberField("generation", r.generation());
                g.writeNumberField("last_step", r.lastStep());
                g.writeNumberField("failures", r.failures());
                g.writeNumberField("lockout_level", r.lockoutLevel());
                g.writeNumberField("locked_until", r.lockedUntil());
                g.writeNumberField("enrolled_at", r.enrolledAt());
                g.writeNumberField("last_used_at", r.lastUsedAt());
                g.writeStringField("backup_hashes", b64.encodeToString(r.backupHashes()));
                g.writeNumberField("backup_used", r.backupUsed());
                g.writeEndObject();
                users++;
                progress.step();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("pending");
            for (String name : store.pendingNames()) {
                Optional<PendingEnrollment> p = store.pending(name);
                if (p.isPresent()) {
                    g.writeStartObject();
                    g.writeStringField("name", name);
                    g.writeStringField("sealed_secret", b64.encodeToString(p.get().sealedSecret()));
                    g.writeNumberField("created_at", p.get().createdAt());
                    g.writeNumberField("expires_at", p.get().expiresAt());
                    g.writeEndObject();
                    pending++;
                }
            }
            g.writeEndArray();
            g.writeArrayFieldStart("required");
            for (String name : store.requiredNames()) {
                g.writeString(name);
                required++;
            }
            g.writeEndArray();
            g.writeEndObject();
            done = true;
        } catch (StoreUnavailable e) {
            throw e.getCause();
        } finally {
            if (!done) {
                Files.deleteIfExists(file);
            }
        }
        return new Counts(users, pending, required);
    }

    /**
     * Reads {@code file} into {@code store}, which must be empty and made with the same master
     * key as the exported store; every secret is checked to open with it before anything is
     * written, and everything is committed at once.
     */
    public static Counts read(Path file, Store store, MasterKey key) throws StoreException, IOException {
        return read(file, store, key, Progress.NONE);
    }

    /**
     * As {@link #read(Path, Store, MasterKey)}, telling {@code progress} of each record checked.
     * The file is read three times, one record at a time, so that a million users need no more
     * heap than ten: its header, then every record checked, then every record written.
     */
    public static Counts read(Path file, Store store, MasterKey key, Progress progress)
            throws StoreException, IOException {
        JsonNode header = header(file);
        if (!FORMAT.equals(header.path("format").asText()) || header.path("version").asInt() != VERSION) {
            throw new StoreException(file + " is not a twofactord store export of version " + VERSION);
        }
        if (!keyCheck(key).equals(header.path("key_check").asText())) {
            throw new Refused(file + " was exported from a store with another master key; copy that store's "
                    + "master.key here first (every server of a fleet has the same one)");
        }
        if (!store.names().isEmpty() || store.meta(Store.META_POLICY).isPresent() || !store.requiredNames().isEmpty()) {
            throw new Refused("the target store is not empty; import only into a new store");
        }
        int[] counts = new int[3];
        // Everything is read and checked before anything is written.
        records(file, new Records() {
            @Override
            public void users(Iterable<Map.Entry<String, UserRecord>> users) throws StoreException {
                counts[0] = checkAll(users, key, progress);
            }

            @Override
            public void pending(String name, PendingEnrollment p) throws StoreException {
                openable(key, name, p.sealedSecret());
                counts[1]++;
                progress.step();
            }

            @Override
            public void required(String name) {
                counts[2]++;
            }
        });
        Store tx = store.inTransaction();
        try {
            JsonNode meta = header.path("meta");
            for (String name : List.of(Store.META_POLICY, Store.META_ISSUER)) {
                if (meta.hasNonNull(name)) {
                    tx.putMeta(name, meta.get(name).asText());
                }
            }
            records(file, new Records() {
                @Override
                public void users(Iterable<Map.Entry<String, UserRecord>> users) {
                    store.putUsers(users);
                }

                @Override
                public void pending(String name, PendingEnrollment p) {
                    tx.putPending(name, p);
                }

                @Override
                public void required(String name) {
                    tx.setRequired(name, true);
                }
            });
        } catch (StoreUnavailable e) {
            store.rollback();
            throw e.getCause();
        } catch (StoreException | IOException | RuntimeException e) {
            store.rollback();
            throw e;
        }
        store.commit();
        return new Counts(counts[0], counts[1], counts[2]);
    }

    /** Users per task of {@link #checkAll}. */
    private static final int CHECK_BATCH = 1000;

    /**
     * Checks that every user's secret opens with {@code key}, a batch at a time on a thread per
     * processor while this one reads the file on: AES-GCM without the JIT's intrinsics (the
     * launcher's C1) was two thirds of an import's time. The first failure in the file's order
     * is the one reported. Returns how many were checked.
     */
    private static int checkAll(Iterable<Map.Entry<String, UserRecord>> users, MasterKey key, Progress progress)
            throws StoreException {
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService pool = Executors.newFixedThreadPool(threads, task -> {
            Thread t = new Thread(task, "import-check");
            t.setDaemon(true);
            return t;
        });
        ArrayDeque<Future<Integer>> inFlight = new ArrayDeque<>();
        int checked = 0;
        try {
            List<Map.Entry<String, UserRecord>> batch = new ArrayList<>(CHECK_BATCH);
            for (Map.Entry<String, UserRecord> u : users) {
                batch.add(u);
                if (batch.size() == CHECK_BATCH) {
                    inFlight.add(pool.submit(check(batch, key)));
                    batch = new ArrayList<>(CHECK_BATCH);
                    if (inFlight.size() >= 2 * threads) {
                        checked += checked(inFlight.poll(), progress); // bounds what waits in memory
                    }
                }
            }
            if (!batch.isEmpty()) {
                inFlight.add(pool.submit(check(batch, key)));
            }
            while (!inFlight.isEmpty()) {
                checked += checked(inFlight.poll(), progress);
            }
            return checked;
        } finally {
            pool.shutdownNow();
        }
    }

    private static Callable<Integer> check(List<Map.Entry<String, UserRecord>> batch, MasterKey key) {
        return () -> {
            for (Map.Entry<String, UserRecord> u : batch) {
                openable(key, u.getKey(), u.getValue().sealedSecret());
            }
            return batch.size();
        };
    }

    /** How many a batch checked, once it has; its failure, if it failed. */
    private static int checked(Future<Integer> batch, Progress progress) throws StoreException {
        try {
            int n = batch.get();
            for (int i = 0; i < n; i++) {
                progress.step();
            }
            return n;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StoreException failure) {
                throw failure;
            }
            throw new IllegalStateException("checking the secrets failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while checking the secrets", e);
        }
    }

    /** What a pass over the file's records is told, in the file's order. */
    private interface Records {
        /** The users, read from the file as they are iterated, once. */
        void users(Iterable<Map.Entry<String, UserRecord>> users) throws StoreException;

        void pending(String name, PendingEnrollment pending) throws StoreException;

        void required(String name) throws StoreException;
    }

    /** The file's top-level fields but its three lists of records. */
    private static JsonNode header(Path file) throws StoreException, IOException {
        ObjectNode header = JSON.createObjectNode();
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new StoreException(file + " is not a twofactord store export of version " + VERSION);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (RECORD_LISTS.contains(field)) {
                    p.skipChildren();
                } else {
                    header.set(field, p.readValueAsTree());
                }
            }
        } catch (JsonProcessingException e) {
            throw new StoreException(file + " is damaged: " + e.getOriginalMessage(), e);
        }
        return header;
    }

    private static final List<String> RECORD_LISTS = List.of("users", "pending", "required");

    /** One pass over the file's records, each decoded and its name checked. */
    private static void records(Path file, Records to) throws StoreException, IOException {
        Base64.Decoder b64 = Base64.getDecoder();
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            p.nextToken();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken start = p.nextToken();
                if (!RECORD_LISTS.contains(field)) {
                    p.skipChildren();
                    continue;
                }
                if (start != JsonToken.START_ARRAY) {
                    throw new StoreException(file + " is damaged: " + field + " is not a list");
                }
                switch (field) {
                    case "users" -> {
                        boolean[] used = new boolean[1];
                        to.users(() -> {
                            if (used[0]) {
                                throw new IllegalStateException("the users of an export are read once");
                            }
                            used[0] = true;
                            return new UserReader(file, p, b64);
                        });
                        // Whatever the receiver left unread (nothing, unless it failed) is skipped.
                        while (p.currentToken() != JsonToken.END_ARRAY && p.nextToken() != null) {
                            p.skipChildren();
                        }
                    }
                    case "pending" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            JsonNode e = p.readValueAsTree();
                            to.pending(name(e), new PendingEnrollment(decode(b64, e, "sealed_secret"),
                                    e.path("created_at").asLong(), e.path("expires_at").asLong()));
                        }
                    }
                    default -> {
                        while (p.nextToken() == JsonToken.VALUE_STRING) {
                            to.required(name(p.readValueAsTree()));
                        }
                    }
                }
                if (p.currentToken() != JsonToken.END_ARRAY) {
                    throw new StoreException(file + " is damaged: an entry of " + field + " is not a record");
                }
            }
        } catch (JsonProcessingException e) {
            throw new StoreException(file + " is damaged: " + e.getOriginalMessage(), e);
        } catch (Damaged e) {
            throw e.getCause();
        }
    }

    /** A store failure or damaged file met while a store iterates the users: unwrapped by {@link #records}. */
    private static final class Damaged extends RuntimeException {
        Damaged(StoreException cause) {
            super(cause);
        }

        @Override
        public synchronized StoreException getCause() {
            return (StoreException) super.getCause();
        }
    }

    /** The users of the file, read one at a time as they are asked for. */
    private static final class UserReader implements java.util.Iterator<Map.Entry<String, UserRecord>> {
        private final Path file;
        private final JsonParser p;
        private final Base64.Decoder b64;
        private Map.Entry<String, UserRecord> next;
        private boolean ended;

        UserReader(Path file, JsonParser p, Base64.Decoder b64) {
            this.file = file;
            this.p = p;
            this.b64 = b64;
        }

        @Override
        public boolean hasNext() {
            if (next == null && !ended) {
                try {
                    JsonToken t = p.nextToken();
                    if (t != JsonToken.START_OBJECT) {
                        ended = true;
                        if (t != JsonToken.END_ARRAY) {
                            throw new StoreException(file + " is damaged: an entry of users is not a record");
                        }
                        return false;
                    }
                    JsonNode u = p.readValueAsTree();
                    next = Map.entry(name(u), new UserRecord(decode(b64, u, "sealed_secret"),
                            u.path("generation").asInt(), u.path("last_step").asLong(), u.path("failures").asInt(),
                            u.path("lockout_level").asInt(), u.path("locked_until").asLong(),
                            u.path("enrolled_at").asLong(), u.path("last_used_at").asLong(),
                            decode(b64, u, "backup_hashes"), u.path("backup_used").asInt()));
                } catch (StoreException e) {
                    throw new Damaged(e);
                } catch (IOException e) {
                    throw new Damaged(new StoreException(file + " is damaged: " + e.getMessage(), e));
                }
            }
            return next != null;
        }

        @Override
        public Map.Entry<String, UserRecord> next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            Map.Entry<String, UserRecord> n = next;
            next = null;
            return n;
        }
    }

    private static byte[] decode(Base64.Decoder b64, JsonNode record, String field) throws StoreException {
        try {
            return b64.decode(record.path(field).asText());
        } catch (IllegalArgumentException e) {
            throw new StoreException("the export is damaged: " + field + " of a record: " + e.getMessage(), e);
        }
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
