package org.twofactord.daemon.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** When the environment says systemd passed a socket to this process, and when it does not. */
class ListenFdsTest {
    static final long PID = 4242;

    @Test
    void noVariablesMeansNoSocket() throws Exception {
        assertEquals(0, SocketActivation.passedSockets(Map.of(), PID));
        assertTrue(SocketActivation.inherited(Map.of(), PID).isEmpty());
    }

    @Test
    void oneSocketForThisProcess() throws Exception {
        assertEquals(1, SocketActivation.passedSockets(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "1"), PID));
    }

    @Test
    void variablesMeantForAnotherProcessAreIgnored() throws Exception {
        // A parent that was itself socket-activated leaks them to its children.
        assertEquals(0, SocketActivation.passedSockets(Map.of("LISTEN_PID", "4241", "LISTEN_FDS", "1"), PID));
        assertTrue(SocketActivation.inherited(Map.of("LISTEN_PID", "4241", "LISTEN_FDS", "1"), PID).isEmpty());
    }

    @Test
    void zeroSocketsMeansBindAsUsual() throws Exception {
        assertEquals(0, SocketActivation.passedSockets(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "0"), PID));
    }

    @Test
    void moreThanOneSocketIsRefusedRatherThanLeftUnserved() {
        IOException e = assertThrows(IOException.class,
                () -> SocketActivation.passedSockets(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "2"), PID));
        assertTrue(e.getMessage().contains("passed 2 sockets; twofactord serves exactly one"), e.getMessage());
    }

    @Test
    void malformedVariablesAreAnError() {
        IOException fds = assertThrows(IOException.class,
                () -> SocketActivation.passedSockets(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "one"), PID));
        assertTrue(fds.getMessage().contains("LISTEN_FDS is not a number"), fds.getMessage());
        IOException pid = assertThrows(IOException.class,
                () -> SocketActivation.passedSockets(Map.of("LISTEN_PID", "me", "LISTEN_FDS", "1"), PID));
        assertTrue(pid.getMessage().contains("LISTEN_PID is not a process id"), pid.getMessage());
    }
}
