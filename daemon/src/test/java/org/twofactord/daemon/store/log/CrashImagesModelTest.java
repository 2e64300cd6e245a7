package org.twofactord.daemon.store.log;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crash model itself, on five operations made by hand. */
class CrashImagesModelTest {
    @TempDir
    Path dir;

    private static Map<String, byte[]> image(List<CrashImages.Image> images, String kind) {
        return images.stream().filter(i -> i.kind().equals(kind)).findFirst().orElseThrow().files();
    }

    @Test
    void aWriteIsDurableAfterItsFileSyncANameAfterTheDirectorySyncAndATornWriteStopsAtASector() throws Exception {
        RecordingDisk disk = new RecordingDisk(dir, false);
        byte[] data = new byte[1000];
        Arrays.fill(data, (byte) 'x');
        try (Disk.File a = disk.create(dir.resolve("a"))) { // op 0
            a.write(0, ByteBuffer.wrap(data)); // op 1
            a.sync(); // op 2
        }
        disk.rename(dir.resolve("a"), dir.resolve("b")); // op 3
        disk.syncDir(dir); // op 4
        CrashImages model = new CrashImages(disk, 1);

        List<CrashImages.Image> beforeTheSync = model.imagesAt(2);
        assertEquals(Set.of(), image(beforeTheSync, "durable only").keySet(), "its name is not durable yet");
        assertArrayEquals(Arrays.copyOf(data, 512), image(beforeTheSync, "torn last write").get("a"));

        List<CrashImages.Image> beforeTheDirectorySync = model.imagesAt(4);
        assertEquals(Set.of(), image(beforeTheDirectorySync, "durable only").keySet());
        assertEquals(Set.of("b"), image(beforeTheDirectorySync, "everything").keySet());

        assertArrayEquals(data, image(model.imagesAt(5), "durable only").get("b"));
        assertEquals(List.of(0, 2, 3, 4, 5), model.crashPoints().stream().filter(n -> n != 1).toList());
    }
}
