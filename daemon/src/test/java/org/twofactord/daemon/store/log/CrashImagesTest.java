package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every directory a crash (power cut) may leave while the store works opens, and holds every
 * change that was answered and nothing half-done: see {@link CrashImages} for the model. Each
 * mechanism the store's recovery rests on is then broken in turn, to show the harness sees it.
 */
class CrashImagesTest {
    private static final long SEED = 20_140_611L;

    @TempDir
    Path dir;

    @Test
    void everyCrashImageOpensWithEveryAnsweredChangeAndNothingHalfDone() throws Exception {
        CrashHarness.Recording recording = CrashHarness.record(dir, 150, true, false, UnaryOperator.identity(), SEED);
        CrashWorkload w = recording.workload();
        assertTrue(w.checkpointsPublished() >= 5, "checkpoints: " + w.checkpointsPublished());
        assertTrue(segmentsMade(recording) >= 10, "segments: " + segmentsMade(recording));
        assertTrue(w.oracle().promisesAnswered() >= 30, "steps and backup codes answered: " + w.oracle().promisesAnswered());
        CrashHarness.Result result = CrashHarness.check("store as written", recording, dir.resolve("image"), SEED);
        assertEquals(0, result.violations().size(), result.report());
    }

    /** The workload of the mechanism tests: fewer batches, checkpoints run one at a time. */
    private static final int SMALL = 40;

    private CrashHarness.Result recordAndCheck(String name, boolean dropSyncDir, UnaryOperator<Disk> wrap)
            throws Exception {
        Path base = dir.resolve(name.replace(' ', '-'));
        CrashHarness.Recording recording = CrashHarness.record(base, SMALL, false, dropSyncDir, wrap, SEED);
        return CrashHarness.check(name, recording, base.resolve("image"), SEED);
    }

    private static void assertSeen(CrashHarness.Result broken, String problem) {
        assertTrue(broken.violations().stream().anyMatch(v -> v.problem().contains(problem)),
                "no image shows '" + problem + "': " + broken.report());
    }

    @Test
    void withoutDirectorySyncsAnsweredChangesAreLost() throws Exception {
        CrashHarness.Result synced = recordAndCheck("directory synced", false, UnaryOperator.identity());
        CrashHarness.Result unsynced = recordAndCheck("directory syncs dropped", true, UnaryOperator.identity());
        assertEquals(0, synced.violations().size(), synced.report());
        assertSeen(unsynced, "answered changes lost");
    }

    @Test
    void aPointerRewrittenInPlaceInsteadOfRenamedLeavesAStoreThatCannotOpen() throws Exception {
        CrashHarness.Result renamed = recordAndCheck("pointer renamed", false, UnaryOperator.identity());
        CrashHarness.Result inPlace = recordAndCheck("pointer rewritten in place", false,
                d -> new BrokenDisks.PointerWrittenInPlace((RecordingDisk) d));
        assertEquals(0, renamed.violations().size(), renamed.report());
        assertSeen(inPlace, Pointer.NAME + " is not a twofactord store pointer");
    }

    @Test
    void withoutTheEntryCrcATornEntryIsReplayed() throws Exception {
        Path base = dir.resolve("crc");
        CrashHarness.Recording recording = CrashHarness.record(base, SMALL, false, false, UnaryOperator.identity(), SEED);
        CrashHarness.Result checked = CrashHarness.check("entry CRC checked", recording, base.resolve("image"), SEED);
        CrashHarness.Result unchecked;
        Journal.checkCrc = false;
        try {
            unchecked = CrashHarness.check("entry CRC not checked", recording, base.resolve("image"), SEED);
        } finally {
            Journal.checkCrc = true;
        }
        assertEquals(0, checked.violations().size(), checked.report());
        assertSeen(unchecked, "half-done");
        assertTrue(unchecked.violations().stream().allMatch(v -> v.image().startsWith("torn")
                || v.image().startsWith("random")), "only torn writes are misread: " + unchecked.report());
    }

    @Test
    void deletingCoveredSegmentsBeforeThePointerIsDurableLosesTheLog() throws Exception {
        CrashHarness.Result after = recordAndCheck("segments deleted after publishing", false, UnaryOperator.identity());
        CrashHarness.Result before = recordAndCheck("segments deleted before publishing", false,
                d -> new BrokenDisks.SegmentsDeletedBeforePublishing((RecordingDisk) d));
        assertEquals(0, after.violations().size(), after.report());
        assertSeen(before, "entries are missing");
    }

    private static long segmentsMade(CrashHarness.Recording recording) {
        return recording.disk().ops().stream().filter(op -> op.kind() == RecordingDisk.Kind.RENAME
                && op.toName().startsWith(Journal.PREFIX)).count();
    }
}
