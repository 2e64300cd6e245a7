package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/**
 * The CLI on a real terminal: tmux runs it, send-keys types, capture-pane reads the screen. The
 * QR code is read back from the screen and decoded.
 */
class TerminalTest {
    @TempDir
    Path dir;
    TestDaemon daemon;
    String session;

    @BeforeEach
    void start() throws Exception {
        boolean ci = "true".equals(System.getenv("CI"));
        assumeTrue(ci || available(), "tmux is not installed");
        daemon = new TestDaemon(dir).start();
        session = "tfd" + ProcessHandle.current().pid() + "-" + System.nanoTime() % 100000;
    }

    @AfterEach
    void stop() throws Exception {
        if (session != null) {
            new ProcessBuilder("tmux", "kill-session", "-t", session).start().waitFor();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    static boolean available() {
        try {
            return new ProcessBuilder("tmux", "-V").start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private void runInTmux(String... cliArgs) throws Exception {
        List<String> java = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "org.twofactord.daemon.Main"));
        java.addAll(List.of(cliArgs));
        java.addAll(List.of("--socket", daemon.socket().toString()));
        StringBuilder shell = new StringBuilder();
        for (String a : java) {
            shell.append('\'').append(a.replace("'", "'\\''")).append("' ");
        }
        shell.append("; echo EXIT=$?; sleep 60");
        ProcessBuilder pb = new ProcessBuilder("tmux", "-u", "new-session", "-d", "-s", session, "-x", "200", "-y", "120",
                shell.toString());
        pb.environment().put("LANG", "C.UTF-8");
        assertEquals(0, pb.start().waitFor());
    }

    private String screen() throws Exception {
        Process p = new ProcessBuilder("tmux", "-u", "capture-pane", "-p", "-J", "-t", session).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    private String waitFor(String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String s = "";
        while (System.nanoTime() < deadline) {
            s = screen();
            if (s.contains(text)) {
                return s;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("'" + text + "' did not appear on the screen:\n" + s);
    }

    private void type(String text) throws Exception {
        new ProcessBuilder("tmux", "send-keys", "-t", session, text, "Enter").start().waitFor();
    }

    @Test
    void enrolOnATerminalScanTheQrFromTheScreenAndTypeTheCode() throws Exception {
        runInTmux("enroll", "alice");
        String screen = waitFor("Enter the 6-digit code from the app:");
        List<String> lines = screen.lines().toList();
        int start = lines.indexOf("Scan this QR code with your authenticator app:") + 2;
        int end = start;
        while (end < lines.size() && !lines.get(end).isEmpty()) {
            end++;
        }
        List<String> qr = new ArrayList<>(lines.subList(start, end));
        int width = qr.stream().mapToInt(String::length).max().orElse(0);
        qr.replaceAll(l -> l + " ".repeat(width - l.length())); // tmux trims trailing blanks
        String url = QrTest.decode(QrTest.fromHalfBlocks(qr, 6));
        String key = CliTest.key(screen + "\n");
        assertTrue(url.startsWith("otpauth://totp/"), url);
        assertTrue(url.contains("secret=" + key + "&"), url + " vs key " + key);

        type(Totp.code(key, daemon.clock, 0));
        String done = waitFor("EXIT=");
        assertTrue(done.contains("Two-factor authentication is on for alice."), done);
        assertTrue(done.contains("EXIT=0"), done);
        try (Client c = daemon.client()) {
            assertTrue(Json.of(c.call("USER alice")).get("enrolled").asBoolean());
        }
    }

    @Test
    void removeAllAsksOnATerminalAndOnlyYesGoesOn() throws Exception {
        try (Client c = daemon.client()) {
            String secret = Json.of(c.call("ENROLL bob")).get("secret").asText();
            c.call("CONFIRM bob " + Totp.code(secret, daemon.clock, 0));
        }
        runInTmux("remove", "--all");
        waitFor("Type 'yes' to go on:");
        type("yes");
        String done = waitFor("EXIT=");
        assertTrue(done.contains("removed: bob"), done);
        assertTrue(done.contains("EXIT=0"), done);
    }
}
