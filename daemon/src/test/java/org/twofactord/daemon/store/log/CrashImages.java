package org.twofactord.daemon.store.log;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.twofactord.daemon.store.log.RecordingDisk.Kind;
import org.twofactord.daemon.store.log.RecordingDisk.Op;

/**
 * The directories a crash may leave, built from a {@link RecordingDisk}'s record, in the usual
 * model of a POSIX file system (as in ALICE, Pillai et al., OSDI 2014): a write or truncation of a
 * file is durable once a later {@code fdatasync} of that file has returned; a creation, rename or
 * delete once a later {@code fsync} of its directory has. Anything else may or may not have reached
 * the disk, in any order, and a write may be torn at a 512-byte sector boundary (a sector is
 * written whole or not at all).
 *
 * <p>Not modelled: a file system that persists a rename before the data of the renamed file (ext4
 * {@code data=writeback} without {@code auto_da_alloc}) is allowed here only when no sync
 * separated them; bit rot and misdirected writes; crashes during recovery itself.
 */
final class CrashImages {
    static final int SECTOR = 512;
    static final int RANDOM_IMAGES = 3;

    /** One possible state of the directory after a crash once {@code crashPoint} operations were done. */
    record Image(int crashPoint, String kind, Map<String, byte[]> files) {
    }

    private final List<Op> ops;
    private final Map<String, Integer> initialNames;
    private final Map<Integer, byte[]> initialContents;
    private final long seed;
    /** For each operation, the index of the first later one that makes it durable (ops.size() if none). */
    private final int[] durableAt;

    CrashImages(RecordingDisk disk, long seed) {
        this.ops = disk.ops();
        this.initialNames = disk.initialNames();
        this.initialContents = disk.initialContents();
        this.seed = seed;
        this.durableAt = new int[ops.size()];
        Arrays.fill(durableAt, ops.size());
        Map<Integer, List<Integer>> unsyncedData = new HashMap<>();
        List<Integer> unsyncedDirectory = new ArrayList<>();
        for (Op op : ops) {
            if (op.kind().changesData()) {
                unsyncedData.computeIfAbsent(op.inode(), i -> new ArrayList<>()).add(op.index());
            } else if (op.kind().changesDirectory()) {
                unsyncedDirectory.add(op.index());
            } else if (op.kind() == Kind.SYNC) {
                for (int i : unsyncedData.getOrDefault(op.inode(), List.of())) {
                    durableAt[i] = op.index();
                }
                unsyncedData.remove(op.inode());
            } else if (op.kind() == Kind.SYNCDIR) {
                unsyncedDirectory.forEach(i -> durableAt[i] = op.index());
                unsyncedDirectory.clear();
            }
        }
    }

    int opCount() {
        return ops.size();
    }

    /** The operation before crash point {@code n}, for reports. */
    String lastOpBefore(int n) {
        return n == 0 ? "(nothing done yet)" : ops.get(n - 1).describe();
    }

    /**
     * Where to crash (after how many operations): both sides of every sync, directory sync and
     * rename, the start and the end, and one in four of the other instants (seeded).
     */
    List<Integer> crashPoints() {
        TreeSet<Integer> points = new TreeSet<>(List.of(0, ops.size()));
        for (Op op : ops) {
            if (op.kind() == Kind.SYNC || op.kind() == Kind.SYNCDIR || op.kind() == Kind.RENAME) {
                points.add(op.index());
                points.add(op.index() + 1);
            }
        }
        Random random = new Random(seed);
        for (int n = 1; n < ops.size(); n++) {
            if (random.nextInt(4) == 0) {
                points.add(n);
            }
        }
        return new ArrayList<>(points);
    }

    /** The images of a crash after {@code n} operations; some may be alike (the caller skips repeats). */
    List<Image> imagesAt(int n) {
        List<Integer> durable = new ArrayList<>();
        List<Integer> pendingData = new ArrayList<>();
        List<Integer> pendingDirectory = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Kind kind = ops.get(i).kind();
            if (kind.changesData() || kind.changesDirectory()) {
                (durableAt[i] < n ? durable : kind.changesData() ? pendingData : pendingDirectory).add(i);
            }
        }
        List<Image> images = new ArrayList<>();
        images.add(build(n, "everything", union(durable, pendingData, pendingDirectory), Map.of()));
        images.add(build(n, "durable only", durable, Map.of()));
        if (!pendingData.isEmpty()) {
            // Directory changes first, then the data in order, the last write torn (or lost, if it fits a sector).
            int last = pendingData.get(pendingData.size() - 1);
            List<Integer> upToTorn = pendingData.subList(0, pendingData.size() - (tearAt(ops.get(last)) < 0 ? 1 : 0));
            images.add(build(n, "torn last write", union(durable, pendingDirectory, upToTorn),
                    Map.of(last, tearAt(ops.get(last)))));
            images.add(build(n, "data, no directory changes", union(durable, pendingData), Map.of()));
        }
        List<Integer> pending = union(pendingData, pendingDirectory);
        if (!pending.isEmpty()) {
            for (int r = 0; r < RANDOM_IMAGES; r++) {
                Random random = new Random(seed * 1_000_003L + n * 31L + r);
                List<Integer> chosen = new ArrayList<>(durable);
                Map<Integer, Long> torn = new HashMap<>();
                for (int i : pending) {
                    if (random.nextBoolean()) {
                        chosen.add(i);
                        long last = tearAt(ops.get(i));
                        if (last > 0 && random.nextInt(4) == 0) { // torn at any sector boundary inside it
                            long first = (ops.get(i).offset() / SECTOR + 1) * SECTOR;
                            torn.put(i, first + random.nextInt((int) ((last - first) / SECTOR + 1)) * SECTOR);
                        }
                    }
                }
                images.add(build(n, "random subset " + r, union(chosen), torn));
            }
        }
        return images;
    }

    @SafeVarargs
    private static List<Integer> union(List<Integer>... lists) {
        TreeSet<Integer> all = new TreeSet<>();
        for (List<Integer> l : lists) {
            all.addAll(l);
        }
        return new ArrayList<>(all);
    }

    /** Where a torn write stops: the last sector boundary inside it, or -1 if it lies in one sector. */
    static long tearAt(Op write) {
        if (write.kind() != Kind.WRITE) {
            return -1;
        }
        long end = write.offset() + write.bytes().length;
        long boundary = (end - 1) / SECTOR * SECTOR;
        return boundary > write.offset() ? boundary : -1;
    }

    /** The initial files with operations {@code apply} done in order; a write in {@code torn} stops where it says. */
    private Image build(int n, String kind, List<Integer> apply, Map<Integer, Long> torn) {
        Map<String, Integer> names = new TreeMap<>(initialNames);
        Map<Integer, byte[]> contents = new HashMap<>(initialContents);
        for (int i : apply) {
            Op op = ops.get(i);
            switch (op.kind()) {
                case CREATE -> {
                    names.put(op.name(), op.inode());
                    contents.putIfAbsent(op.inode(), new byte[0]);
                }
                case WRITE -> {
                    int length = (int) (torn.getOrDefault(i, op.offset() + op.bytes().length) - op.offset());
                    byte[] old = contents.getOrDefault(op.inode(), new byte[0]);
                    if (old.length == 0 && op.offset() == 0 && length == op.bytes().length) {
                        contents.put(op.inode(), op.bytes()); // a whole new file (a checkpoint): shared, never changed
                        continue;
                    }
                    byte[] updated = Arrays.copyOf(old, (int) Math.max(old.length, op.offset() + length));
                    System.arraycopy(op.bytes(), 0, updated, (int) op.offset(), length);
                    contents.put(op.inode(), updated);
                }
                case TRUNCATE -> contents.put(op.inode(),
                        Arrays.copyOf(contents.getOrDefault(op.inode(), new byte[0]), (int) op.offset()));
                case RENAME -> {
                    names.remove(op.name(), op.inode());
                    names.put(op.toName(), op.inode());
                }
                case DELETE -> names.remove(op.name(), op.inode());
                default -> throw new IllegalStateException("not a change: " + op.describe());
            }
        }
        Map<String, byte[]> files = new TreeMap<>();
        names.forEach((name, inode) -> files.put(name, contents.getOrDefault(inode, new byte[0])));
        return new Image(n, kind, files);
    }
}
