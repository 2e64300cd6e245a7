package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.twofactord.protocol.Keys;

/**
 * Every JSON member name of the protocol is a constant in {@link Keys}: the code that builds
 * replies (the daemon's server package and the store's STATS figures) and the client library
 * that reads them use the constants, never a literal (nor do the command line and the web-login
 * example, which read replies), and docs/protocol.md names every one.
 */
class KeysTest {
    private static final Pattern LITERAL = Pattern.compile(
            "\\.(put|putNull|putArray|putObject|path|has|hasNonNull|get)\\(\"([A-Za-z_]+)\"");

    @Test
    void repliesAreBuiltAndReadWithTheConstantsOnly() throws Exception {
        List<Path> sources = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java/org/twofactord/daemon/server"))) {
            files.filter(p -> p.toString().endsWith(".java")).forEach(sources::add);
        }
        sources.add(Path.of("src/main/java/org/twofactord/daemon/store/log/LogStore.java"));
        sources.add(Path.of("../protocol/src/main/java/org/twofactord/protocol/TwoFactorClient.java"));
        List<String> literals = new ArrayList<>();
        for (Path source : sources) {
            Matcher m = LITERAL.matcher(Files.readString(source));
            while (m.find()) {
                literals.add(source.getFileName() + ": " + m.group());
            }
        }
        // The command line and the web-login example read replies too; they build other JSON of
        // their own (status --json, verify --json), so only a protocol key's literal is refused.
        Set<String> protocolKeys = new HashSet<>();
        for (Field f : Keys.class.getFields()) {
            protocolKeys.add((String) f.get(null));
        }
        List<Path> readers = new ArrayList<>();
        for (String dir : List.of("src/main/java/org/twofactord/daemon/cli",
                "../examples/web-login/src/main/java/org/twofactord/weblogin")) {
            try (Stream<Path> files = Files.walk(Path.of(dir))) {
                files.filter(p -> p.toString().endsWith(".java")).forEach(readers::add);
            }
        }
        for (Path source : readers) {
            Matcher m = LITERAL.matcher(Files.readString(source));
            while (m.find()) {
                if (protocolKeys.contains(m.group(2))) {
                    literals.add(source.getFileName() + ": " + m.group());
                }
            }
        }
        assertEquals(List.of(), literals, "use org.twofactord.protocol.Keys");
    }

    @Test
    void everyKeyIsDocumentedInTheProtocol() throws Exception {
        String doc = Files.readString(Path.of("../docs/protocol.md"));
        Set<String> missing = new HashSet<>();
        for (Field f : Keys.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                String key = (String) f.get(null);
                if (!doc.contains("\"" + key + "\"")) {
                    missing.add(key);
                }
            }
        }
        assertTrue(missing.isEmpty(), "docs/protocol.md shows no \"key\" for " + missing);
    }
}
