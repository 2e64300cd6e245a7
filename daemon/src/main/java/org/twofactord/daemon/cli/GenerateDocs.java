package org.twofactord.daemon.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * Run by the build (exec-maven-plugin, package phase): writes the bash completion script and the
 * man page next to the jar, from the same command model that prints --help.
 */
public final class GenerateDocs {
    private GenerateDocs() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        CommandLine cli = TwofactordCommand.commandLine(new Io(null, null, null, false));
        Files.writeString(dir.resolve("twofactord.bash"), AutoComplete.bash("twofactord", cli), StandardCharsets.UTF_8);
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(dir.resolve("twofactord.8"), StandardCharsets.UTF_8))) {
            ManPage.write(cli, out);
        }
    }
}
