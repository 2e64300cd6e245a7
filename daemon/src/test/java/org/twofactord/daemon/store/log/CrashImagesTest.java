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
    /** The workload's and the random images' seed; another with {@code -Dcrash.seed=N} explores further. */
    private static final long SEED = Long.getLong("crash.seed", 20_140_611L);

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

    /**
     * The small workload with every mechanism in place, recorded and checked once for all the
     * mechanism tests (the same seed records the same operations); the CRC test checks its
     * recording again with the CRC off.
     */
    private static CrashHarness.Recording kept;
    private static CrashHarness.Result keptResult;

    private CrashHarness.Result everyMechanismKept() throws Exception {
        if (kept == null) {
            Path base = dir.resolve("kept");
            kept = CrashHarness.record(base, SMALL, false, false, UnaryOperator.identity(), SEED);
            keptResult = CrashHarness.check("every mechanism kept", kept, base.resolve("image"), SEED);
        }
        assertEquals(0, keptResult.violations().size(), keptResult.report());
        return keptResult;
    }

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
        everyMechanismKept();
        CrashHarness.Result unsynced = recordAndCheck("directory syncs dropped", true, UnaryOperator.identity());
        assertSeen(unsynced, "answered changes lost");
    }

    @Test
    void aPointerRewrittenInPlaceInsteadOfRenamedLeavesAStoreThatCannotOpen() throws Exception {
        everyMechanismKept();
        CrashHarness.Result inPlace = recordAndCheck("pointer rewritten in place", false,
                d -> new BrokenDisks.PointerWrittenInPlace((RecordingDisk) d));
        assertSeen(inPlace, Pointer.NAME + " is not a twofactord store pointer");
    }

    @Test
    void withoutTheEntryCrcATornEntryIsReplayed() throws Exception {
        CrashHarness.Result checked = everyMechanismKept();
        CrashHarness.Result unchecked;
        Journal.checkCrc = false;
        try {
            unchecked = CrashHarness.check("entry CRC not checked", kept, dir.resolve("crc-image"), SEED);
        } finally {
            Journal.checkCrc = true;
        }
        assertEquals(checked.images(), unchecked.images(), "the same images");
        assertSeen(unchecked, "half-done");
        assertTrue(unchecked.violations().stream().allMatch(v -> v.image().startsWith("torn")
                || v.image().startsWith("random")), "only torn writes are misread: " + unchecked.report());
    }

    @Test
    void deletingCoveredSegmentsBeforeThePointerIsDurableLosesTheLog() throws Exception {
        everyMechanismKept();
        CrashHarness.Result before = recordAndCheck("segments deleted before publishing", false,
                d -> new BrokenDisks.SegmentsDeletedBeforePublishing((RecordingDisk) d));
        assertSeen(before, "entries are missing");
    }

    private static long segmentsMade(CrashHarness.Recording recording) {
        return recording.disk().ops().stream().filter(op -> op.kind() == RecordingDisk.Kind.RENAME
                && op.toName().startsWith(Journal.PREFIX)).count();
    }
}
