package org.twofactord.daemon.systemd;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The listening socket systemd passes (socket activation, {@code sd_listen_fds(3)}): when
 * {@code LISTEN_PID} is this process and {@code LISTEN_FDS} is 1, the socket is file descriptor 3,
 * already bound, with the mode and group that {@code twofactord.socket} gave it.
 */
public final class SocketActivation {
    /** The first descriptor systemd passes ({@code SD_LISTEN_FDS_START}). */
    static final int FIRST_FD = 3;

    private SocketActivation() {
    }

    /**
     * How many sockets were passed to this process: 0 when the variables are missing or meant for
     * another process (a parent that was itself activated), else {@code LISTEN_FDS}.
     *
     * @throws IOException if the variables are malformed, or more than one socket was passed:
     *                     twofactord listens on one socket, and would leave the others unserved
     */
    static int passedSockets(Map<String, String> env, long pid) throws IOException {
        String listenPid = env.get("LISTEN_PID");
        String listenFds = env.get("LISTEN_FDS");
        if (listenPid == null || listenFds == null) {
            return 0;
        }
        try {
            if (Long.parseLong(listenPid.strip()) != pid) {
                return 0;
            }
        } catch (NumberFormatException e) {
            throw new IOException("LISTEN_PID is not a process id: '" + listenPid + "'");
        }
        int count;
        try {
            count = Integer.parseInt(listenFds.strip());
        } catch (NumberFormatException e) {
            throw new IOException("LISTEN_FDS is not a number: '" + listenFds + "'");
        }
        if (count < 0 || count > 1) {
            throw new IOException("systemd passed " + count + " sockets; twofactord serves exactly one "
                    + "(one ListenStream= in twofactord.socket)");
        }
        return count;
    }

    /**
     * The socket systemd passed, or empty if none was. The socket is marked so that closing it
     * never deletes the socket file: systemd made it and keeps listening on it after we exit.
     */
    public static Optional<AFUNIXServerSocket> inherited(Map<String, String> env, long pid) throws IOException {
        if (passedSockets(env, pid) == 0) {
            return Optional.empty();
        }
        AFUNIXServerSocket socket;
        try {
            socket = FileDescriptorCast.unsafeUsing(FIRST_FD).as(AFUNIXServerSocket.class);
        } catch (IOException | ClassCastException e) {
            throw new IOException("file descriptor " + FIRST_FD + " from systemd is not a Unix socket "
                    + "(twofactord.socket needs ListenStream=/path): " + e.getMessage(), e);
        }
        return Optional.of(adopt(socket));
    }

    /**
     * Marks a listening socket that belongs to someone else (systemd, which keeps listening on it
     * while the service restarts): its file is never deleted, and a descriptor left to the garbage
     * collector is closed without {@code shutdown(2)}. An explicit {@code close()} still shuts it
     * down (junixsocket 2.11.1 calls {@code shutdown(fd, SHUT_RDWR)} in every explicit close of a
     * socket, whatever {@code setShutdownOnClose} says), which would end the listening socket for
     * systemd and every later service process: so the server never closes such a socket (see
     * {@code Server#stop}); the process's exit closes its descriptor.
     *
     * @throws IOException if the socket is not bound (it is then closed, in the same way)
     */
    public static AFUNIXServerSocket adopt(AFUNIXServerSocket socket) throws IOException {
        socket.setShutdownOnClose(false);
        socket.setDeleteOnClose(false);
        if (!socket.isBound()) {
            socket.close();
            throw new IOException("the socket systemd passed is not bound to an address");
        }
        return socket;
    }
}
