package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Disk layers that undo one of the store's crash-safety mechanisms, put between the store and a
 * {@link RecordingDisk} by the mechanism tests of {@link CrashImagesTest}: with them, some crash
 * image must break a promise, or the harness could not see that mechanism.
 */
final class BrokenDisks {
    private BrokenDisks() {
    }

    /** Passes everything to the disk below; a broken disk overrides what it breaks. */
    static class Forwarding implements Disk {
        final Disk below;

        Forwarding(Disk below) {
            this.below = below;
        }

        @Override
        public File create(Path path) throws IOException {
            return below.create(path);
        }

        @Override
        public File open(Path path) throws IOException {
            return below.open(path);
        }

        @Override
        public void rename(Path from, Path to) throws IOException {
            below.rename(from, to);
        }

        @Override
        public void delete(Path path) throws IOException {
            below.delete(path);
        }

        @Override
        public void syncDir(Path dir) throws IOException {
            below.syncDir(dir);
        }

        @Override
        public void writtenElsewhere(Path path) throws IOException {
            below.writtenElsewhere(path);
        }
    }

    /**
     * Publishes {@code CURRENT} by rewriting it in place (truncate, write, sync), as a store would
     * without the rename: in between, the pointer is empty or half-written.
     */
    static final class PointerWrittenInPlace extends Forwarding {
        PointerWrittenInPlace(RecordingDisk below) {
            super(below);
        }

        @Override
        public void rename(Path from, Path to) throws IOException {
            if (!to.getFileName().toString().equals(Pointer.NAME)) {
                super.rename(from, to);
                return;
            }
            byte[] line = Files.readAllBytes(from);
            if (!Files.exists(to)) {
                below.create(to).close();
            }
            try (RecordingDisk.RecordedFile current = (RecordingDisk.RecordedFile) below.open(to)) {
                current.truncate(0);
                current.write(0, ByteBuffer.wrap(line));
                current.sync();
            }
            below.delete(from);
        }
    }

    /**
     * Deletes the log segments a new checkpoint covers before its pointer is renamed into place,
     * rather than after the rename is durable: the old pointer may then be left with its log gone.
     */
    static final class SegmentsDeletedBeforePublishing extends Forwarding {
        SegmentsDeletedBeforePublishing(RecordingDisk below) {
            super(below);
        }

        @Override
        public void rename(Path from, Path to) throws IOException {
            if (to.getFileName().toString().equals(Pointer.NAME)) {
                long lsn = Long.parseLong(Files.readString(from, StandardCharsets.UTF_8).split(" ")[3]);
                List<Journal.Segment> segments = Journal.list(to.getParent());
                boolean deleted = false;
                for (int i = 0; i + 1 < segments.size(); i++) {
                    if (segments.get(i + 1).firstLsn() <= lsn + 1) { // as Journal.deleteThrough chooses them
                        below.delete(segments.get(i).path());
                        deleted = true;
                    }
                }
                if (deleted) {
                    below.syncDir(to.getParent());
                }
            }
            super.rename(from, to);
        }
    }
}
