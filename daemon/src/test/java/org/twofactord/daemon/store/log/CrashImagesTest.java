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
        assertTrue(w.promisesAnswered() >= 30, "steps and backup codes answered: " + w.promisesAnswered());
        CrashHarness.Result result = CrashHarness.check("store as written", recording, dir.resolve("image"), SEED);
        assertEquals(0, result.violations().size(), result.report());
    }

    private static long segmentsMade(CrashHarness.Recording recording) {
        return recording.disk().ops().stream().filter(op -> op.kind() == RecordingDisk.Kind.RENAME
                && op.toName().startsWith(Journal.PREFIX)).count();
    }
}
