package org.twofactord.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The commented default configuration shipped in systemd/ loads, and says what the code does. */
class ShippedConfigTest {
    @Test
    void theShippedFileLoadsAndEveryDefaultItShowsIsTheRealDefault() throws Exception {
        Path shipped = Path.of("..", "systemd", "twofactord.conf");
        Config plain = ConfigLoader.load(new ConfigLoader.Flags(null, null, shipped, false));
        // Uncommenting every line must give the same configuration as leaving them all out.
        Path uncommented = Files.createTempFile("tfd", ".conf");
        try {
            StringBuilder text = new StringBuilder();
            for (String line : Files.readAllLines(shipped)) {
                boolean setting = line.matches("#[a-z_]+ =( .*)?");
                text.append(setting ? line.substring(1) : line).append('\n');
            }
            Files.writeString(uncommented, text);
            Config explicit = ConfigLoader.load(new ConfigLoader.Flags(null, null, uncommented, false));
            assertEquals(plain.withPaths(plain.socket(), plain.stateDir()).toString()
                            .replace("socketGroupExplicit=false", "").replace("groupsExplicit=false", ""),
                    explicit.toString().replace("socketGroupExplicit=true", "").replace("groupsExplicit=true", ""));
            assertEquals(24, ConfigLoader.KEYS.size(), "every key is in the shipped file");
            for (String key : ConfigLoader.KEYS) {
                assertEquals(true, text.toString().contains("\n" + key + " ="), key + " is documented");
            }
        } finally {
            Files.delete(uncommented);
        }
    }
}
