package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.DaemonProcess;

/** SIGTERM stops the daemon cleanly; dev mode says where it listens. */
class ShutdownTest {
    @TempDir
    Path dir;

    @Test
    void sigtermClosesConnectionsRemovesTheSocketAndExitsZero() throws Exception {
        Path state = dir.resolve("state");
        try (DaemonProcess daemon = DaemonProcess.start(state)) {
            assertTrue(daemon.output().contains("twofactord (dev mode) listening on " + daemon.socket));
            assertTrue(daemon.output().contains("socat - UNIX-CONNECT:" + daemon.socket));
            try (Client idle = daemon.client()) {
                idle.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
                assertEquals(0, daemon.terminate(20), "exit status after SIGTERM");
                assertNull(idle.read(), "the idle connection was closed");
            }
            assertFalse(Files.exists(daemon.socket), "socket file removed");
        }
        try (DaemonProcess again = DaemonProcess.start(state); Client c = again.client()) {
            c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
        }
    }
}
