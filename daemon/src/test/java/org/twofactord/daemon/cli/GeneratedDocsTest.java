package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The man page and the bash completion script name every command, and the script is valid bash. */
class GeneratedDocsTest {
    @TempDir
    Path dir;

    @Test
    void manPageAndCompletionCoverEveryCommand() throws Exception {
        GenerateDocs.main(new String[] {dir.toString()});
        String man = Files.readString(dir.resolve("twofactord.8"));
        String bash = Files.readString(dir.resolve("twofactord.bash"));
        for (String cmd : List.of("serve", "status", "policy", "issuer", "users", "user", "enroll", "remove", "backup",
                "unlock", "require", "unrequire", "verify", "stats", "import google\\-authenticator", "import pam\\-oath", "store export FILE",
                "store import FILE")) {
            assertTrue(man.contains(".SS \"twofactord " + cmd), "man page lacks " + cmd);
            assertTrue(bash.contains(cmd.replace("\\-", "-").split(" ")[0]), "completion lacks " + cmd);
        }
        assertTrue(bash.contains(" store export\"") && bash.contains(" store import\""), "completion of store export/import");
        assertTrue(man.startsWith(".TH TWOFACTORD 8"));
        assertTrue(man.contains("3 forbidden; 4 the daemon or its store is unavailable"));
        Process p = new ProcessBuilder("bash", "-n", dir.resolve("twofactord.bash").toString()).inheritIO().start();
        assertEquals(0, p.waitFor(), "the completion script is valid bash");
    }
}
