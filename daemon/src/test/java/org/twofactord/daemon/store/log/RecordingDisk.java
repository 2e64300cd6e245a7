package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The real files of one store directory, with a record of every operation that changes what a
 * crash leaves, in the order they happened (from every thread). Files are followed by inode, as a
 * kernel does: a write goes to the file that was opened, whatever name it has by then.
 * {@link CrashImages} builds, from the record, the directories a crash after any operation may leave.
 */
final class RecordingDisk implements Disk {
    enum Kind {
        /** A name is made for a new, empty file. */
        CREATE,
        /** Bytes written into a file. */
        WRITE,
        /** A file cut to {@code offset} bytes (only the in-place pointer of a mechanism test does this). */
        TRUNCATE,
        /** {@code fdatasync} of a file. */
        SYNC,
        /** {@code name} renamed to {@code toName}, replacing it. */
        RENAME,
        /** {@code name} unlinked ({@code inode} -1 if there was no such file). */
        DELETE,
        /** {@code fsync} of the store directory. */
        SYNCDIR;

        boolean changesData() {
            return this == WRITE || this == TRUNCATE;
        }

        boolean changesDirectory() {
            return this == CREATE || this == RENAME || this == DELETE;
        }
    }

    /** One operation; {@code inode} is the file it concerns, {@code name} the name it had. */
    record Op(int index, Kind kind, String name, String toName, int inode, long offset, byte[] bytes, String thread) {
        String describe() {
            return "#" + index + " " + switch (kind) {
                case CREATE -> "create " + name;
                case WRITE -> "write " + name + " [" + offset + ".." + (offset + bytes.length) + ")";
                case TRUNCATE -> "truncate " + name + " to " + offset;
                case SYNC -> "fdatasync " + name;
                case RENAME -> "rename " + name + " -> " + toName;
                case DELETE -> "delete " + name + (inode < 0 ? " (absent)" : "");
                case SYNCDIR -> "fsync dir";
            } + " [" + thread + "]";
        }
    }

    /**
     * The real files, without waiting for the disk: what is durable is decided from the record,
     * so the live directory's own fsyncs would only cost time.
     */
    private final Disk real = CrashHarness.WITHOUT_SYNCS;
    private final Path dir;
    private final boolean dropSyncDir;
    private final List<Op> ops = new ArrayList<>();
    private final Map<String, Integer> inodes = new HashMap<>(); // name -> inode, as the directory is now
    private final Map<Integer, byte[]> initial = new HashMap<>(); // inode -> content when recording began
    private final Map<String, Integer> initialNames = new TreeMap<>();
    private int nextInode;
    private volatile Pause pause;

    /**
     * Starts recording in {@code dir}, whose files now are the state before the first operation.
     *
     * @param dropSyncDir a broken disk for a mechanism test: directory syncs do nothing and are not recorded
     */
    RecordingDisk(Path dir, boolean dropSyncDir) throws IOException {
        this.dir = dir;
        this.dropSyncDir = dropSyncDir;
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (!name.equals(LogStore.LOCK)) {
                    initial.put(nextInode, Files.readAllBytes(p));
                    initialNames.put(name, nextInode);
                    inodes.put(name, nextInode++);
                }
            }
        }
    }

    synchronized List<Op> ops() {
        return List.copyOf(ops);
    }

    synchronized int opCount() {
        return ops.size();
    }

    /** Name -> inode of the files there were when recording began. */
    Map<String, Integer> initialNames() {
        return initialNames;
    }

    /** Inode -> content of the files there were when recording began. */
    Map<Integer, byte[]> initialContents() {
        return initial;
    }

    private void record(Kind kind, String name, String toName, int inode, long offset, byte[] bytes) {
        ops.add(new Op(ops.size(), kind, name, toName, inode, offset, bytes, Thread.currentThread().getName()));
    }

    /** The name {@code inode} has now, or the one it was opened by if it has none. */
    private String currentName(int inode, Path openedAs) {
        return inodes.entrySet().stream().filter(e -> e.getValue() == inode).map(Map.Entry::getKey).findFirst()
                .orElse(nameIn(openedAs));
    }

    private String nameIn(Path path) {
        if (!dir.equals(path.getParent())) {
            throw new IllegalStateException("the store touched " + path + ", outside " + dir);
        }
        return path.getFileName().toString();
    }

    @Override
    public synchronized File create(Path path) throws IOException {
        File file = real.create(path);
        int inode = nextInode++;
        inodes.put(nameIn(path), inode);
        record(Kind.CREATE, nameIn(path), null, inode, 0, null);
        return new RecordedFile(file, path, inode);
    }

    @Override
    public synchronized File open(Path path) throws IOException {
        File file = real.open(path);
        Integer inode = inodes.get(nameIn(path));
        if (inode == null) {
            file.close();
            throw new IllegalStateException(path + " was opened but was never seen being made");
        }
        return new RecordedFile(file, path, inode);
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        Pause p = pause;
        if (p != null && p.beforeRenameTo.equals(nameIn(to))) {
            pause = null;
            p.holdHere();
        }
        synchronized (this) {
            real.rename(from, to);
            Integer inode = inodes.remove(nameIn(from));
            inodes.put(nameIn(to), inode);
            record(Kind.RENAME, nameIn(from), nameIn(to), inode, 0, null);
        }
    }

    @Override
    public synchronized void delete(Path path) throws IOException {
        real.delete(path);
        Integer inode = inodes.remove(nameIn(path));
        record(Kind.DELETE, nameIn(path), null, inode == null ? -1 : inode, 0, null);
    }

    @Override
    public synchronized void syncDir(Path d) throws IOException {
        if (!d.equals(dir)) {
            throw new IllegalStateException("the store synced " + d + ", outside " + dir);
        }
        if (!dropSyncDir) {
            real.syncDir(d);
            record(Kind.SYNCDIR, ".", null, -1, 0, null);
        }
    }

    /** MapDB made a new file and wrote it whole: recorded as its creation and one write of all of it. */
    @Override
    public synchronized void writtenElsewhere(Path path) throws IOException {
        real.writtenElsewhere(path);
        int inode = nextInode++;
        inodes.put(nameIn(path), inode);
        record(Kind.CREATE, nameIn(path), null, inode, 0, null);
        record(Kind.WRITE, nameIn(path), null, inode, 0, Files.readAllBytes(path));
    }

    /** An open file; writes and syncs are recorded against its inode. */
    final class RecordedFile implements File {
        private final File file;
        private final Path path;
        private final int inode;

        RecordedFile(File file, Path path, int inode) {
            this.file = file;
            this.path = path;
            this.inode = inode;
        }

        @Override
        public void write(long position, ByteBuffer source) throws IOException {
            byte[] bytes = new byte[source.remaining()];
            source.duplicate().get(bytes);
            synchronized (RecordingDisk.this) {
                file.write(position, source);
                record(Kind.WRITE, currentName(inode, path), null, inode, position, bytes);
            }
        }

        /** Cuts the file to {@code size} bytes (no {@link Disk.File} method: the store never does this). */
        void truncate(long size) throws IOException {
            synchronized (RecordingDisk.this) {
                try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
                    channel.truncate(size);
                }
                record(Kind.TRUNCATE, currentName(inode, path), null, inode, size, null);
            }
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
        public void sync() throws IOException {
            synchronized (RecordingDisk.this) {
                file.sync();
                record(Kind.SYNC, currentName(inode, path), null, inode, 0, null);
            }
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }

    /**
     * Holds the next thread that renames a file to {@code toName} until {@link Pause#release}: the
     * workload uses it to commit while a checkpoint waits to be published, the same way every run.
     */
    Pause pauseBeforeRenameTo(String toName) {
        Pause p = new Pause(toName);
        pause = p;
        return p;
    }

    static final class Pause {
        private final String beforeRenameTo;
        private final CountDownLatch reached = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        private Pause(String beforeRenameTo) {
            this.beforeRenameTo = beforeRenameTo;
        }

        private void holdHere() throws IOException {
            reached.countDown();
            try {
                if (!released.await(30, TimeUnit.SECONDS)) {
                    throw new IOException("a paused rename was never released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }

        void awaitReached() throws InterruptedException {
            if (!reached.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("nothing renamed to " + beforeRenameTo);
            }
        }

        void release() {
            released.countDown();
        }
    }
}
