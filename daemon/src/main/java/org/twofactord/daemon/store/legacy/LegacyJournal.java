package org.twofactord.daemon.store.legacy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * An append-only file of user records written since the last MapDB commit: what makes an accepted
 * code durable with one append and one {@code fdatasync} instead of a MapDB commit (two fsyncs
 * and the re-creation of its write-ahead log file). Each entry is the user's whole record as it
 * was in memory (or its removal), tagged with the number of the commit it follows. A commit
 * stores its own number in the store, so at start-up only the entries tagged with the store's
 * last commit are newer than it and are replayed, in order; older entries are ignored, and the
 * file is emptied after each commit only to reclaim space (that need not be durable).
 *
 * <p>Entry: {@code int length, int crc32c, long commit, short nameLength, name (UTF-8), int
 * recordLength (-1: removed), record}. A torn last entry (a crash while appending) fails its
 * checksum and ends the replay; it was never acknowledged, since an OK waits for the sync.
 */
final class LegacyJournal implements AutoCloseable {
    /** One entry: a user's record after the change, or null if the user was removed. */
    record Entry(long commit, String name, byte[] record) {
        @Override
        public String toString() {
            return "Entry[commit=" + commit + ", name=" + name + (record == null ? ", removed]" : "]");
        }
    }

    private static final int MAX_ENTRY = 64 * 1024;

    private final Path path;
    private final FileChannel channel;

    private LegacyJournal(Path path, FileChannel channel) {
        this.path = path;
        this.channel = channel;
    }

    /** Opens (or creates, mode 0600) the journal; appends go to its end. */
    static LegacyJournal open(Path path) throws IOException {
        if (!Files.exists(path)) {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        FileChannel channel = FileChannel.open(path, EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        channel.position(channel.size());
        return new LegacyJournal(path, channel);
    }

    Path path() {
        return path;
    }

    /** Every whole entry from the start, up to the first torn or damaged one. */
    List<Entry> read() throws IOException {
        List<Entry> entries = new ArrayList<>();
        long size = channel.size();
        ByteBuffer all = ByteBuffer.allocate((int) Math.min(size, Integer.MAX_VALUE - 16));
        channel.read(all, 0);
        all.flip();
        while (all.remaining() >= 8) {
            int length = all.getInt();
            int crc = all.getInt();
            if (length < 14 || length > MAX_ENTRY || length > all.remaining()) {
                break;
            }
            byte[] body = new byte[length];
            all.get(body);
            CRC32C check = new CRC32C();
            check.update(body);
            if ((int) check.getValue() != crc) {
                break;
            }
            ByteBuffer b = ByteBuffer.wrap(body);
            long commit = b.getLong();
            byte[] name = new byte[b.getShort() & 0xffff];
            b.get(name);
            int recordLength = b.getInt();
            byte[] record = null;
            if (recordLength >= 0) {
                record = new byte[recordLength];
                b.get(record);
            }
            entries.add(new Entry(commit, new String(name, StandardCharsets.UTF_8), record));
        }
        return entries;
    }

    /** Appends the entries and waits until they are on the disk (fdatasync). */
    void appendAndSync(List<Entry> entries) throws IOException {
        int total = 0;
        List<byte[]> bodies = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            int recordLength = e.record() == null ? 0 : e.record().length;
            ByteBuffer b = ByteBuffer.allocate(8 + 2 + name.length + 4 + recordLength);
            b.putLong(e.commit()).putShort((short) name.length).put(name)
                    .putInt(e.record() == null ? -1 : e.record().length);
            if (e.record() != null) {
                b.put(e.record());
            }
            bodies.add(b.array());
            total += 8 + b.capacity();
        }
        ByteBuffer out = ByteBuffer.allocate(total);
        for (byte[] body : bodies) {
            CRC32C crc = new CRC32C();
            crc.update(body);
            out.putInt(body.length).putInt((int) crc.getValue()).put(body);
        }
        out.flip();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        channel.force(false);
    }

    /** Empties the file (after a commit has covered every entry); need not be durable. */
    void clear() throws IOException {
        channel.truncate(0);
        channel.position(0);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
