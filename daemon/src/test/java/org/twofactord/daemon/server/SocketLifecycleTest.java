package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.TestDaemon;

/** Binding: never steal a live socket, replace a stale one, set the configured mode. */
class SocketLifecycleTest {
    @TempDir
    Path dir;

    @Test
    void aSecondDaemonOnALiveSocketIsRefusedAndTheFirstKeepsServing() throws Exception {
        try (TestDaemon first = new TestDaemon(dir.resolve("a")).start()) {
            Files.createDirectories(dir.resolve("b"));
            TestDaemon second = new TestDaemon(dir.resolve("b"))
                    .editConfig(c -> c.withPaths(first.socket(), c.stateDir()));
            IOException e = assertThrows(IOException.class, second::start);
            assertTrue(e.getMessage().contains("already listening on " + first.socket()), e.getMessage());
            try (Client c = first.client()) {
                c.expect("PING", "OK");
            }
        }
    }

    @Test
    void aStoppingDaemonLeavesTheSocketOfTheDaemonThatReplacedIt() throws Exception {
        TestDaemon first = new TestDaemon(dir.resolve("a")).start();
        // An operator removed the socket file and started a second daemon on the same path.
        Files.delete(first.socket());
        try (TestDaemon second = new TestDaemon(dir.resolve("b"))
                .editConfig(c -> c.withPaths(first.socket(), c.stateDir())).start()) {
            first.stop();
            assertTrue(Files.exists(first.socket()), "the second daemon's socket file is still there");
            try (Client c = new Client(first.socket())) {
                c.expect("PING", "OK");
            }
        }
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        Files.createDirectories(dir);
        Path socket = dir.resolve("tfd.sock");
        // A socket file whose listener is gone, as a killed daemon leaves it.
        AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance();
        dead.bind(AFUNIXSocketAddress.of(socket));
        dead.setDeleteOnClose(false);
        dead.close();
        assertTrue(Files.exists(socket), "the stale file is there before the daemon starts");
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            c.expect("PING", "OK");
        }
    }

    @Test
    void aRegularFileAtTheSocketPathIsNotDeleted() throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tfd.sock"), "not a socket");
        IOException e = assertThrows(IOException.class, () -> new TestDaemon(dir).start());
        assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
        assertEquals("not a socket", Files.readString(dir.resolve("tfd.sock")));
    }

    @Test
    void theSocketGetsTheConfiguredModeAndIsRemovedOnStop() throws Exception {
        TestDaemon daemon = new TestDaemon(dir).set("socket_mode", "0660").start();
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(daemon.socket())));
        daemon.stop();
        assertFalse(Files.exists(daemon.socket()), "the socket file is removed on stop");
    }

    @Test
    void devModeSocketIsOwnerOnly() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(daemon.socket())));
        }
    }

    @Test
    void anExplicitSocketGroupThatDoesNotExistStopsStartUp() throws Exception {
        TestDaemon daemon = new TestDaemon(dir).set("socket_group", "tfd-no-such-group");
        IOException e = assertThrows(IOException.class, daemon::start);
        assertEquals("socket_group 'tfd-no-such-group' does not exist", e.getMessage());
    }
}
