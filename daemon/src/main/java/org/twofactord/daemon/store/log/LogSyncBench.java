package org.twofactord.daemon.store.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * For bench/run.sh, not for the daemon: what making one change durable costs in the log (one
 * entry of a user record's size appended and {@code fdatasync}ed) against the floor, a bare
 * write of as many bytes into a file already filled with zeros and one {@code fdatasync}, in the
 * same directory, alternating. Prints {@code log-sync <log p50 us> <log p99 us> <bare p50 us>
 * <bare p99 us>}.
 *
 * <p>Usage: {@code java -cp twofactord.jar org.twofactord.daemon.store.log.LogSyncBench DIR COUNT}
 */
public final class LogSyncBench {
    private LogSyncBench() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Files.createDirectories(Path.of(args[0]));
        int count = Integer.parseInt(args[1]);
        byte[] record = new byte[180];
        Journal journal = Journal.openForAppend(Disk.REAL, dir, 4L << 20, Journal.replay(Disk.REAL, dir, 0, w -> { }));
        Path bare = dir.resolve("bare.dat");
        long[] logNs = new long[count];
        long[] bareNs = new long[count];
        try (FileChannel f = FileChannel.open(bare, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.allocate(4 << 20), 0);
            f.force(true);
            int entryBytes = Journal.encode(new LogEntry(1, Tables.USERS, "u0000000", record), 1, 1).length;
            for (int i = 0; i < count; i++) {
                long t0 = System.nanoTime();
                journal.append(List.of(new LogEntry(0, Tables.USERS, String.format("u%07d", i), record)));
                long t1 = System.nanoTime();
                f.write(ByteBuffer.allocate(entryBytes), (long) i * entryBytes % ((4 << 20) - entryBytes));
                f.force(false);
                long t2 = System.nanoTime();
                logNs[i] = t1 - t0;
                bareNs[i] = t2 - t1;
            }
        } finally {
            journal.close();
        }
        Arrays.sort(logNs);
        Arrays.sort(bareNs);
        System.out.printf(Locale.ROOT, "log-sync %d %d %d %d%n", logNs[count / 2] / 1000, logNs[count * 99 / 100] / 1000,
                bareNs[count / 2] / 1000, bareNs[count * 99 / 100] / 1000);
    }
}
