package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * {@code CURRENT}: the one small file that says which checkpoint is live, the last LSN it covers,
 * and its size and CRC, so that a checkpoint that is not whole is found before it is used. It is
 * replaced by writing {@code CURRENT.tmp}, syncing it, renaming it over {@code CURRENT} and syncing
 * the directory: a crash leaves either the old pointer or the new one, each pointing at a
 * checkpoint that was synced before the pointer was written.
 *
 * <p>One line: {@code twofactord-store 1 <checkpoint file> <lsn> <size> <crc32c hex> <crc32c hex of
 * what precedes>}.
 */
record Pointer(String checkpoint, long lsn, long size, int crc) {
    static final String NAME = "CURRENT";
    private static final String MAGIC = "twofactord-store 1";

    String line() {
        String body = String.format("%s %s %d %d %08x", MAGIC, checkpoint, lsn, size, crc);
        return body + String.format(" %08x", crcOf(body)) + "\n";
    }

    private static int crcOf(String s) {
        CRC32C crc = new CRC32C();
        crc.update(s.getBytes(StandardCharsets.UTF_8));
        return (int) crc.getValue();
    }

    /** Reads {@code dir/CURRENT}; empty if there is none. */
    static java.util.Optional<Pointer> read(Path dir) throws IOException {
        Path file = dir.resolve(NAME);
        if (!Files.exists(file)) {
            return java.util.Optional.empty();
        }
        String text = Files.readString(file, StandardCharsets.UTF_8).strip();
        String[] parts = text.split(" ");
        if (parts.length != 7 || !(parts[0] + " " + parts[1]).equals(MAGIC)) {
            throw new IOException(file + " is not a twofactord store pointer");
        }
        String body = text.substring(0, text.lastIndexOf(' '));
        try {
            if ((int) Long.parseLong(parts[6], 16) != crcOf(body)) {
                throw new IOException(file + " is damaged (its check value does not match)");
            }
            return java.util.Optional.of(new Pointer(parts[2], Long.parseLong(parts[3]), Long.parseLong(parts[4]),
                    (int) Long.parseLong(parts[5], 16)));
        } catch (NumberFormatException e) {
            throw new IOException(file + " is damaged: " + e.getMessage());
        }
    }

    /** Publishes this pointer: temporary file, sync, rename over CURRENT, directory sync. */
    void publish(Disk disk, Path dir) throws IOException {
        Path tmp = dir.resolve(NAME + ".tmp");
        disk.delete(tmp);
        try (Disk.File file = disk.create(tmp)) {
            file.write(0, ByteBuffer.wrap(line().getBytes(StandardCharsets.UTF_8)));
            file.sync();
        }
        disk.rename(tmp, dir.resolve(NAME));
        disk.syncDir(dir);
    }
}
