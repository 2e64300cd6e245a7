package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The write-ahead log: every change the store makes, in order, in segment files of a fixed size
 * ({@code journal-<first lsn, hex>.log}) that are filled with zeros before they are used, so that
 * appending never changes a file's size and each sync is a data-only {@code fdatasync}.
 *
 * <p>A segment starts with a header: magic, the LSN of its first entry, and the last LSN that
 * was durable when it was made (a segment may follow a torn or failed tail of the one before: the
 * log continues from any LSN between the two), with a CRC. Then entries: {@code int length, int
 * crc32c(body), body = long lsn, long first and long last LSN of its write, byte table, short keyLength, key, int valueLength (-1: removed),
 * value}. Reading a segment stops at the first entry that is zero, torn, fails its CRC or does not
 * carry the next LSN: nothing after it in that segment was ever answered, since every answer waits
 * for the sync that covers it. Each entry also carries the first and the last LSN of the write it
 * was part of (one commit: every change of a writer batch). A write is replayed whole or not at all,
 * so a crash never leaves half of a batch (a CONFIRM's new user record without the removal of its
 * pending enrolment, say). And the first LSN tells a torn end from damage in the middle: a sound
 * entry of a later write found after the broken one means the broken one had been synced (a write
 * is only made after the one before was synced), and the segment is refused as damaged. A new segment is made at every start, after a failed write and when
 * one is full; it becomes visible (renamed into place, directory synced) only once its header and
 * zeros are on the disk.
 */
final class Journal implements AutoCloseable {
    static final String PREFIX = "journal-";
    static final String SUFFIX = ".log";
    private static final byte[] MAGIC = "TFDLOG01".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER = 64;
    private static final int ENTRY_OVERHEAD = 8 + 8 + 8 + 8 + 1 + 2 + 4;
    /** The largest entry: a user record is a few hundred bytes. */
    static final int MAX_ENTRY = 64 * 1024;
    /** Only the crash tests change this, to show that without the CRC a torn entry would be replayed. */
    static boolean checkCrc = true;

    /** A segment file and the first LSN it holds. */
    record Segment(Path path, long firstLsn) {
    }

    /** What the replay found: the last LSN of the log, and the segments there are. */
    record Replayed(long lastLsn, List<Segment> segments) {
    }

    private final Disk disk;
    private final Path dir;
    private final long segmentBytes;
    private final List<Segment> segments; // guarded by itself; the last is the one appended to
    private Disk.File current;
    /** The next segment's zeros, being made on {@link #preparer}. */
    private java.util.concurrent.Future<Path> spare;
    private final java.util.concurrent.atomic.AtomicLong spares = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.ExecutorService preparer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "twofactord-log-segment");
        t.setDaemon(true);
        return t;
    });
    private long position;
    private long nextLsn;
    private long durableLsn;
    private long bytesAppended;

    private Journal(Disk disk, Path dir, long segmentBytes, List<Segment> segments, long lastLsn) {
        this.disk = disk;
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.segments = new ArrayList<>(segments);
        this.nextLsn = lastLsn + 1;
        this.durableLsn = lastLsn;
    }

    static Path segmentPath(Path dir, long firstLsn) {
        return dir.resolve(String.format("%s%016x%s", PREFIX, firstLsn, SUFFIX));
    }

    /** The segments in {@code dir}, in log order. */
    static List<Segment> list(Path dir) throws IOException {
        List<Segment> found = new ArrayList<>();
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (name.startsWith(PREFIX) && name.endsWith(SUFFIX)) {
                    String hex = name.substring(PREFIX.length(), name.length() - SUFFIX.length());
                    try {
                        found.add(new Segment(p, Long.parseUnsignedLong(hex, 16)));
                    } catch (NumberFormatException e) {
                        throw new IOException("journal segment " + p + " has a name that is not an LSN");
                    }
                }
            }
        }
        found.sort(java.util.Comparator.comparingLong(Segment::firstLsn));
        return found;
    }

    /**
     * Reads the log in {@code dir} and hands every entry after {@code afterLsn} to {@code apply},
     * in order, a whole write at a time.
     *
     * @throws IOException if a segment's header is damaged or entries are missing between two
     *                     segments: the log cannot be trusted, and the store must be restored
     */
    static Replayed replay(Disk disk, Path dir, long afterLsn, Consumer<List<LogEntry>> apply) throws IOException {
        List<Segment> segments = list(dir);
        long next = afterLsn + 1;
        for (Segment segment : segments) {
            ByteBuffer all;
            try (Disk.File file = disk.open(segment.path())) {
                all = ByteBuffer.allocate((int) Math.min(file.size(), Integer.MAX_VALUE - 16));
                file.read(0, all);
            }
            all.flip();
            long[] header = header(all, segment.path());
            long firstLsn = header[0];
            long prevLsn = header[1];
            if (firstLsn != segment.firstLsn()) {
                throw new IOException("journal segment " + segment.path() + " says it starts at LSN " + firstLsn);
            }
            if (firstLsn > next) {
                if (prevLsn > next - 1) {
                    throw new IOException("journal segment " + segment.path() + " starts at LSN " + firstLsn
                            + " but the log before it ends at " + (next - 1) + ": entries are missing");
                }
                next = firstLsn;
            }
            all.position(HEADER);
            long expected = firstLsn;
            List<LogEntry> write = new ArrayList<>(); // the entries of a write not yet read whole
            Read read;
            while ((read = readEntry(all, expected)) != null) {
                write.add(read.entry());
                if (read.entry().lsn() == read.writeLast()) {
                    long from = next;
                    List<LogEntry> fresh = write.stream().filter(e -> e.lsn() >= from).toList();
                    if (!fresh.isEmpty()) {
                        apply.accept(fresh);
                        next = fresh.get(fresh.size() - 1).lsn() + 1;
                    }
                    write.clear();
                }
                expected++;
            }
            // A write cut short (a crash before its sync returned) is dropped whole: never answered.
            if (laterWriteAfter(all, all.position() + 1, expected)) {
                throw new IOException("journal segment " + segment.path() + " is damaged at byte " + all.position()
                        + ": a sound entry follows a broken one (a torn end is followed by nothing)");
            }
        }
        return new Replayed(next - 1, segments);
    }

    /**
     * Whether a sound entry of a write that began after {@code lsn} starts anywhere from
     * {@code from} on: then the entry {@code lsn} where reading stopped had been synced, and was
     * damaged afterwards. Entries of its own write may follow it soundly (sectors of an unsynced
     * write reach the disk in any order): that is a torn end, never answered.
     */
    private static boolean laterWriteAfter(ByteBuffer all, int from, long lsn) {
        for (int at = from; at + 8 + ENTRY_OVERHEAD - 8 <= all.limit(); at++) {
            int length = all.getInt(at);
            if (length < ENTRY_OVERHEAD - 8 || length > MAX_ENTRY || at + 8L + length > all.limit()) {
                continue;
            }
            CRC32C crc = new CRC32C();
            crc.update(all.slice(at + 8, length));
            if ((int) crc.getValue() == all.getInt(at + 4) && all.getLong(at + 16) > lsn) { // a later write
                return true;
            }
        }
        return false;
    }

    /** {firstLsn, prevLsn} from a segment's header. */
    private static long[] header(ByteBuffer all, Path path) throws IOException {
        if (all.remaining() < HEADER) {
            throw new IOException("journal segment " + path + " is shorter than its header");
        }
        byte[] magic = new byte[MAGIC.length];
        all.get(0, magic);
        CRC32C crc = new CRC32C();
        crc.update(all.slice(0, 24));
        if (!java.util.Arrays.equals(magic, MAGIC) || (int) crc.getValue() != all.getInt(24)) {
            throw new IOException("journal segment " + path + " has a damaged header");
        }
        return new long[] {all.getLong(8), all.getLong(16)};
    }

    /** The entry at the buffer's position if it is whole, sound and carries {@code lsn}; else null. */
    private static Read readEntry(ByteBuffer all, long lsn) {
        if (all.remaining() < 8) {
            return null;
        }
        int at = all.position();
        int length = all.getInt(at);
        if (length < ENTRY_OVERHEAD - 8 || length > MAX_ENTRY || length > all.remaining() - 8) {
            return null;
        }
        CRC32C crc = new CRC32C();
        crc.update(all.slice(at + 8, length));
        if (checkCrc && (int) crc.getValue() != all.getInt(at + 4)) {
            return null;
        }
        ByteBuffer body = all.slice(at + 8, length);
        if (body.getLong() != lsn) {
            return null;
        }
        body.getLong(); // the first LSN of its write
        long writeLast = body.getLong();
        if (writeLast < lsn) {
            return null;
        }
        byte table = body.get();
        byte[] key = new byte[body.getShort() & 0xffff];
        body.get(key);
        int valueLength = body.getInt();
        byte[] value = null;
        if (valueLength >= 0) {
            value = new byte[valueLength];
            body.get(value);
        }
        all.position(at + 8 + length);
        return new Read(new LogEntry(lsn, table, new String(key, StandardCharsets.UTF_8), value), writeLast);
    }

    /** An entry as read, with the last LSN of the write it belongs to. */
    private record Read(LogEntry entry, long writeLast) {
    }

    /**
     * Opens the log for appending after {@code replayed}: syncs the segment the replay ended in
     * (what a crashed process left in the page cache and the replay used must not be lost now), then
     * starts a new segment.
     */
    static Journal openForAppend(Disk disk, Path dir, long segmentBytes, Replayed replayed) throws IOException {
        if (!replayed.segments().isEmpty()) {
            try (Disk.File last = disk.open(replayed.segments().get(replayed.segments().size() - 1).path())) {
                last.sync();
            }
        }
        Journal journal = new Journal(disk, dir, segmentBytes, replayed.segments(), replayed.lastLsn());
        try {
            journal.roll();
        } catch (IOException e) {
            // A full disk: the store opens and answers reads; every change is refused (the next
            // append tries to make the segment again) until there is space.
            org.slf4j.LoggerFactory.getLogger(Journal.class).warn("no new log segment can be made in {} ({}); "
                    + "changes are refused until there is space", dir, e.getMessage());
        }
        return journal;
    }

    /** The last LSN known to be on the disk. */
    long durableLsn() {
        return durableLsn;
    }

    /** Bytes appended since this journal was opened. */
    long bytesAppended() {
        return bytesAppended;
    }

    /**
     * Gives the entries their LSNs, writes them and waits for the disk (one {@code fdatasync}).
     * If anything fails, the current segment is abandoned (the next append starts a new one) and
     * the LSNs given stay used: whether the entries reached the disk is unknown, so the log must
     * read the same either way.
     *
     * @return the entries with their LSNs
     */
    List<LogEntry> append(List<LogEntry> entries) throws IOException {
        List<LogEntry> numbered = new ArrayList<>(entries.size());
        List<byte[]> encoded = new ArrayList<>(entries.size());
        int total = 0;
        for (LogEntry e : entries) {
            LogEntry n = e.withLsn(nextLsn + numbered.size());
            byte[] bytes = encode(n, nextLsn, nextLsn + entries.size() - 1);
            numbered.add(n);
            encoded.add(bytes);
            total += bytes.length;
        }
        if (current == null || position + total > segmentBytes) {
            if (HEADER + (long) total > segmentBytes) {
                // Larger than a segment (a bulk import): written as several appends.
                return appendInParts(entries);
            }
            roll();
        }
        ByteBuffer out = ByteBuffer.allocate(total);
        encoded.forEach(out::put);
        out.flip();
        long firstLsn = nextLsn;
        nextLsn += numbered.size();
        try {
            current.write(position, out);
            current.sync();
        } catch (IOException e) {
            abandon();
            throw e;
        }
        position += total;
        bytesAppended += total;
        durableLsn = nextLsn - 1;
        assert numbered.get(0).lsn() == firstLsn;
        return numbered;
    }

    private List<LogEntry> appendInParts(List<LogEntry> entries) throws IOException {
        List<LogEntry> numbered = new ArrayList<>(entries.size());
        int half = entries.size() / 2;
        if (half == 0) {
            throw new IOException("a journal entry of over " + segmentBytes + " bytes");
        }
        numbered.addAll(append(entries.subList(0, half)));
        numbered.addAll(append(entries.subList(half, entries.size())));
        return numbered;
    }

    private void abandon() {
        try {
            if (current != null) {
                current.close();
            }
        } catch (IOException ignored) {
            // abandoned anyway
        }
        current = null;
    }

    static byte[] encode(LogEntry e, long writeFirstLsn, long writeLastLsn) {
        byte[] key = e.key().getBytes(StandardCharsets.UTF_8);
        int valueLength = e.value() == null ? 0 : e.value().length;
        int bodyLength = 8 + 8 + 8 + 1 + 2 + key.length + 4 + valueLength;
        if (key.length > 0xffff || bodyLength > MAX_ENTRY) {
            throw new IllegalArgumentException("a journal entry of " + bodyLength + " bytes");
        }
        ByteBuffer b = ByteBuffer.allocate(8 + bodyLength);
        b.position(8);
        b.putLong(e.lsn()).putLong(writeFirstLsn).putLong(writeLastLsn).put(e.table()).putShort((short) key.length).put(key)
                .putInt(e.value() == null ? -1 : e.value().length);
        if (e.value() != null) {
            b.put(e.value());
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 8, bodyLength);
        b.putInt(0, bodyLength).putInt(4, (int) crc.getValue());
        return b.array();
    }

    /**
     * Starts a new segment for the next entry: a file of {@code segmentBytes} zeros with its
     * header, synced under a temporary name, then renamed into place and the directory synced.
     */
    void roll() throws IOException {
        Path tmp = takeSpare();
        Path path = segmentPath(dir, nextLsn);
        Disk.File file = disk.open(tmp);
        try {
            ByteBuffer header = ByteBuffer.allocate(HEADER);
            header.put(MAGIC).putLong(nextLsn).putLong(durableLsn);
            CRC32C crc = new CRC32C();
            crc.update(header.array(), 0, 24);
            header.putInt((int) crc.getValue());
            header.clear();
            file.write(0, header);
            file.sync();
            disk.rename(tmp, path);
            disk.syncDir(dir);
        } catch (IOException e) {
            file.close();
            disk.delete(tmp);
            throw e;
        }
        // Only now is the segment before given up: a roll that failed (a full disk) leaves the
        // current segment in use, with the room it still has.
        abandon();
        synchronized (segments) {
            segments.removeIf(s -> s.path().equals(path)); // an empty one left by a failed start
            segments.add(new Segment(path, nextLsn));
        }
        current = file;
        position = HEADER;
    }

    /**
     * A file of {@code segmentBytes} zeros, synced: the next segment. One is made ahead on a thread
     * of its own, so that a full segment costs the writer a header write and a rename, not
     * megabytes of zeros; if none is ready (the first, or its making failed: a full disk), one is
     * made now.
     */
    private Path takeSpare() throws IOException {
        java.util.concurrent.Future<Path> ready = spare;
        spare = null;
        Path tmp = null;
        if (ready != null) {
            try {
                tmp = ready.get();
            } catch (java.util.concurrent.ExecutionException e) {
                tmp = null; // made again below, and its failure reported from there
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while making a log segment");
            }
        }
        if (tmp == null) {
            tmp = makeSpare();
        }
        spare = preparer.submit(this::makeSpare);
        return tmp;
    }

    private Path makeSpare() throws IOException {
        Path tmp = dir.resolve("journal-spare-" + spares.incrementAndGet() + ".tmp");
        disk.delete(tmp);
        try (Disk.File file = disk.create(tmp)) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            for (long at = 0; at < segmentBytes; at += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), segmentBytes - at));
                file.write(at, zeros);
            }
            file.sync();
        } catch (IOException e) {
            disk.delete(tmp);
            throw e;
        }
        return tmp;
    }

    /**
     * Deletes the segments whose every entry is at or before {@code lsn} (a published checkpoint
     * covers them), never the one being appended to.
     */
    void deleteThrough(long lsn) throws IOException {
        List<Segment> covered = new ArrayList<>();
        synchronized (segments) {
            for (int i = 0; i + 1 < segments.size(); i++) {
                if (segments.get(i + 1).firstLsn() <= lsn + 1) {
                    covered.add(segments.get(i));
                }
            }
            segments.removeAll(covered);
        }
        for (Segment s : covered) {
            disk.delete(s.path());
        }
        if (!covered.isEmpty()) {
            disk.syncDir(dir);
        }
    }

    /** The segment files there are now. */
    List<Path> paths() {
        synchronized (segments) {
            return segments.stream().map(Segment::path).toList();
        }
    }

    @Override
    public void close() {
        abandon();
        preparer.shutdownNow();
        try {
            preparer.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
