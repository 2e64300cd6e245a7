package org.twofactord.daemon.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.twofactord.daemon.Client;

/**
 * The daemon as systemd's Type=notify sees it: READY=1 comes only once requests are answered
 * (a unit ordered after twofactord may connect at once), the watchdog is pinged, and SIGTERM
 * brings STOPPING=1 before the exit.
 */
class NotifySocketDaemonTest {
    @TempDir
    Path dir;

    @Test
    void readyOnlyWhenServingThenWatchdogPingsAndStoppingOnSigterm() throws Exception {
        Path notify = dir.resolve("notify");
        Path state = dir.resolve("state");
        Path log = dir.resolve("daemon.log");
        try (SystemdNotifierTest.Listener systemd = new SystemdNotifierTest.Listener(AFUNIXSocketAddress.of(notify))) {
            systemd.socket.setSoTimeout(60_000);
            ProcessBuilder pb = new ProcessBuilder(SocketActivatedDaemonTest.serve(state)).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().put("NOTIFY_SOCKET", notify.toString());
            pb.environment().put("WATCHDOG_USEC", "200000");
            Process process = pb.start();
            try {
                List<String> beforeReady = new ArrayList<>();
                String message;
                while (!(message = systemd.next()).startsWith("READY=1")) {
                    beforeReady.add(message);
                }
                // No retry: if READY=1 came before the socket was bound, this connect fails.
                try (Client c = new Client(state.resolve("twofactord.sock"))) {
                    c.expect("PING", "OK");
                }
                assertEquals(List.of("STATUS=opening the store in " + state), beforeReady);
                assertEquals("READY=1\nSTATUS=serving on " + state.resolve("twofactord.sock"), message);
                assertEquals("WATCHDOG=1", systemd.next());

                process.destroy();
                do {
                    message = systemd.next();
                } while (message.equals("WATCHDOG=1"));
                assertEquals("STOPPING=1\nSTATUS=stopping: finishing requests in flight and closing the store", message);
                assertTrue(process.waitFor(30, TimeUnit.SECONDS), "the daemon exits on SIGTERM");
                assertEquals(0, process.exitValue(), SocketActivatedDaemonTest.read(log));
            } finally {
                process.destroyForcibly();
            }
        }
    }

    @Test
    void aFailedStartSaysWhyInTheStatus() throws Exception {
        Path notify = dir.resolve("notify");
        Path config = dir.resolve("bad.conf");
        java.nio.file.Files.writeString(config, "window = 99\n");
        try (SystemdNotifierTest.Listener systemd = new SystemdNotifierTest.Listener(AFUNIXSocketAddress.of(notify))) {
            systemd.socket.setSoTimeout(60_000);
            List<String> command = SocketActivatedDaemonTest.serve(dir.resolve("state"));
            command.addAll(List.of("--config", config.toString()));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("daemon.log").toFile());
            pb.environment().put("NOTIFY_SOCKET", notify.toString());
            Process process = pb.start();
            try {
                assertEquals("STATUS=bad configuration: " + config + ":1: window: must be between 0 and 10, not 99",
                        systemd.next());
                assertTrue(process.waitFor(30, TimeUnit.SECONDS));
                assertEquals(78, process.exitValue());
            } finally {
                process.destroyForcibly();
            }
        }
    }
}
