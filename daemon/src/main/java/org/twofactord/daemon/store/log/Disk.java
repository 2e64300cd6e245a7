package org.twofactord.daemon.store.log;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;

/**
 * Every file operation the log and the checkpoints make: the writes, syncs, renames and deletes
 * whose order decides what a crash leaves. The store uses {@link #REAL}; the crash tests put a
 * recording layer here and build, from what it saw, the images a kernel may leave at each instant.
 */
public interface Disk {
    /** An open file. */
    interface File extends Closeable {
        void write(long position, ByteBuffer source) throws IOException;

        int read(long position, ByteBuffer target) throws IOException;

        long size() throws IOException;

        /** {@code fdatasync}: the data written so far, and the size if it changed. */
        void sync() throws IOException;
    }

    /** Creates a new, empty file (mode 0600); it must not exist. */
    File create(Path path) throws IOException;

    /** Opens an existing file for reading and writing. */
    File open(Path path) throws IOException;

    /** Renames atomically, replacing {@code to} if it exists. */
    void rename(Path from, Path to) throws IOException;

    void delete(Path path) throws IOException;

    /** {@code fsync} of a directory: makes the creations, renames and deletes in it durable. */
    void syncDir(Path dir) throws IOException;

    /**
     * Tells that another library (MapDB) wrote {@code path} whole and closed it; the store then
     * syncs it through {@link #open}. The real disk has nothing to do.
     */
    default void writtenElsewhere(Path path) throws IOException {
    }

    /**
     * Gives a file made in the store the owner of the directory it is in, and mode 0600: a file
     * that root made through an offline command ({@code store check}, {@code store import}) must
     * stay usable by the service user the directory belongs to. Nothing is called when the owner
     * is already right, as it always is for the daemon itself (its unit forbids {@code fchown}).
     */
    static void matchDirectory(Path file) throws IOException {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(Files.isDirectory(file) ? "rwx------" : "rw-------"));
        java.nio.file.attribute.UserPrincipal owner = Files.getOwner(file.getParent());
        if (!Files.getOwner(file).equals(owner)) {
            Files.setOwner(file, owner);
        }
    }

    /** The files and directories of the operating system. */
    Disk REAL = new Disk() {
        @Override
        public File create(Path path) throws IOException {
            Files.createFile(path, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            matchDirectory(path);
            return wrap(FileChannel.open(path, EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE)));
        }

        @Override
        public void writtenElsewhere(Path path) throws IOException {
            matchDirectory(path);
        }

        @Override
        public File open(Path path) throws IOException {
            return wrap(FileChannel.open(path, EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE)));
        }

        @Override
        public void rename(Path from, Path to) throws IOException {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        @Override
        public void delete(Path path) throws IOException {
            Files.deleteIfExists(path);
        }

        @Override
        public void syncDir(Path dir) throws IOException {
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
        }

        private File wrap(FileChannel channel) {
            return new File() {
                @Override
                public void write(long position, ByteBuffer source) throws IOException {
                    long at = position;
                    while (source.hasRemaining()) {
                        at += channel.write(source, at);
                    }
                }

                @Override
                public int read(long position, ByteBuffer target) throws IOException {
                    int total = 0;
                    while (target.hasRemaining()) {
                        int n = channel.read(target, position + total);
                        if (n < 0) {
                            break;
                        }
                        total += n;
                    }
                    return total;
                }

                @Override
                public long size() throws IOException {
                    return channel.size();
                }

                @Override
                public void sync() throws IOException {
                    channel.force(false);
                }

                @Override
                public void close() throws IOException {
                    channel.close();
                }
            };
        }
    };
}
