package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.StoreException;

/**
 * Records a workload on a real store ({@link RecordingDisk}, {@link CrashWorkload}), builds the
 * crash images of it ({@link CrashImages}), opens each with a real {@link LogStore} and checks it
 * against what was answered.
 */
final class CrashHarness {
    /** Tiny segments so that the log rolls often; checkpoints only when the workload asks. */
    static final LogStore.Settings SETTINGS = new LogStore.Settings(4096, Integer.MAX_VALUE, Long.MAX_VALUE,
            Long.MAX_VALUE);

    /** A crash image that breaks a promise. */
    record Violation(int crashPoint, String image, String lastOp, String problem) {
        @Override
        public String toString() {
            return "crash after " + crashPoint + " ops (last: " + lastOp + "), image '" + image + "': " + problem;
        }
    }

    record Result(String name, int ops, int crashPoints, int images, int opened, List<Violation> violations,
                  long millis) {
        String summary() {
            return String.format("%s: %d ops, %d crash points, %d images (%d distinct, opened), %d violations, %d ms",
                    name, ops, crashPoints, images, opened, violations.size(), millis);
        }

        /** The summary and the first violations, for an assertion's message. */
        String report() {
            StringBuilder b = new StringBuilder(summary());
            violations.stream().limit(5).forEach(v -> b.append("\n  ").append(v));
            return b.toString();
        }
    }

    /** A workload recorded on a live store. */
    record Recording(RecordingDisk disk, CrashWorkload workload, MasterKey key) {
    }

    /**
     * Makes a store in {@code base/live}, then records {@code commits} batches on it.
     *
     * @param dropSyncDir a disk whose directory syncs do nothing (mechanism test)
     * @param wrap        a broken layer between the store and the recording disk (mechanism tests), or identity
     */
    static Recording record(Path base, int commits, boolean pausedCheckpoints, boolean dropSyncDir,
                            UnaryOperator<Disk> wrap, long seed) throws Exception {
        Path live = Files.createDirectories(base).resolve("live");
        byte[] raw = new byte[MasterKey.KEY_BYTES];
        new Random(seed).nextBytes(raw);
        MasterKey key = MasterKey.of(raw, new SecureRandom());
        LogStore.open(live, key, Disk.REAL, SETTINGS).close();
        RecordingDisk disk = new RecordingDisk(live, dropSyncDir);
        Disk recorded = wrap.apply(disk);
        CrashWorkload workload = CrashWorkload.run(settings -> LogStore.open(live, key, recorded, settings), disk, key,
                commits, pausedCheckpoints, seed);
        return new Recording(disk, workload, key);
    }

    /** Opens every distinct crash image of {@code recording} in {@code scratch} and checks it. */
    static Result check(String name, Recording recording, Path scratch, long seed) throws IOException {
        long start = System.nanoTime();
        CrashImages images = new CrashImages(recording.disk(), seed);
        List<Integer> points = images.crashPoints();
        Set<String> seen = new HashSet<>();
        Map<byte[], String> hashed = new IdentityHashMap<>();
        Map<String, byte[]> written = new HashMap<>();
        List<Violation> violations = new ArrayList<>();
        int total = 0;
        for (int n : points) {
            int answered = recording.workload().oracle().answeredAt(n);
            for (CrashImages.Image image : images.imagesAt(n)) {
                total++;
                if (seen.add(digest(image.files(), hashed) + "/" + answered)) {
                    String problem = verify(image, answered, recording, scratch, written);
                    if (problem != null) {
                        violations.add(new Violation(n, image.kind(), images.lastOpBefore(n), problem));
                    }
                }
            }
        }
        Result result = new Result(name, images.opCount(), points.size(), total, seen.size(), violations,
                (System.nanoTime() - start) / 1_000_000);
        System.out.println(result.report());
        return result;
    }

    /** Null if the image opens and keeps every promise answered before its crash; else what is wrong. */
    private static String verify(CrashImages.Image image, int answered, Recording recording, Path dir,
                                 Map<String, byte[]> written) throws IOException {
        Files.createDirectories(dir);
        try (var old = Files.list(dir)) {
            for (Path p : (Iterable<Path>) old::iterator) {
                if (!unchangedCheckpoint(p, image.files(), written)) {
                    Files.delete(p);
                }
            }
        }
        written.clear();
        for (Map.Entry<String, byte[]> f : image.files().entrySet()) {
            Path p = dir.resolve(f.getKey());
            if (!Files.exists(p)) {
                Files.write(p, f.getValue());
            }
            written.put(f.getKey(), f.getValue());
        }
        LogStore store;
        try {
            store = LogStore.open(dir, recording.key(), WITHOUT_SYNCS, SETTINGS);
        } catch (StoreException e) {
            return "the store does not open: " + e.getMessage();
        } catch (RuntimeException e) {
            return "the store does not open, and does not say why: " + e;
        }
        try (store) {
            CrashOracle oracle = recording.workload().oracle();
            Map<String, String> state;
            try {
                state = CrashOracle.stateOf(store);
            } catch (RuntimeException e) {
                return "a record cannot be read: " + e;
            }
            long users = state.keySet().stream().filter(k -> k.startsWith("u:")).count();
            if (store.userCount() != users) {
                return "the user count says " + store.userCount() + " but there are " + users + " users";
            }
            String wrong = oracle.whatIsWrong(state, answered);
            return wrong != null ? wrong : oracle.brokenPromise(store, answered);
        }
    }

    /** Identifies an image by its files' names and contents; a content shared by many images is hashed once. */
    /**
     * Whether {@code p} is a checkpoint file the last image wrote with the contents this one has
     * (the same array): a megabyte that need not be written again. Opening a store never writes to
     * a checkpoint file; it may delete one, and these settings never make it write a new one.
     */
    private static boolean unchangedCheckpoint(Path p, Map<String, byte[]> files, Map<String, byte[]> written)
            throws IOException {
        String name = p.getFileName().toString();
        byte[] bytes = files.get(name);
        return name.startsWith(Checkpoint.PREFIX) && bytes != null && written.get(name) == bytes
                && Files.size(p) == bytes.length;
    }

    private static String digest(Map<String, byte[]> files, Map<byte[], String> hashed) {
        StringBuilder id = new StringBuilder();
        files.forEach((name, bytes) -> id.append(name).append('=')
                .append(bytes.length < 65536 ? sha256(bytes) : hashed.computeIfAbsent(bytes, CrashHarness::sha256))
                .append(' '));
        return id.toString();
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The real disk without its syncs, under the recording (which decides durability from its
     * record) and for opening images (what recovering an image leaves is not checked here).
     */
    static final Disk WITHOUT_SYNCS = new Disk() {
        @Override
        public File create(Path path) throws IOException {
            return unsynced(Disk.REAL.create(path));
        }

        @Override
        public File open(Path path) throws IOException {
            return unsynced(Disk.REAL.open(path));
        }

        @Override
        public void rename(Path from, Path to) throws IOException {
            Disk.REAL.rename(from, to);
        }

        @Override
        public void delete(Path path) throws IOException {
            Disk.REAL.delete(path);
        }

        @Override
        public void syncDir(Path dir) {
        }

        private File unsynced(File file) {
            return new File() {
                @Override
                public void write(long position, ByteBuffer source) throws IOException {
                    file.write(position, source);
                }

                @Override
                public int read(long position, ByteBuffer target) throws IOException {
                    return file.read(position, target);
                }

                @Override
                public long size() throws IOException {
                    return file.size();
                }

                @Override
                public void sync() {
                }

                @Override
                public void close() throws IOException {
                    file.close();
                }
            };
        }
    };
}
