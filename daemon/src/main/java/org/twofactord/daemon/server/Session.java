package org.twofactord.daemon.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.auth.Peer;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.LineReader;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;

/**
 * One connection: read a line (bounded), parse, authorize and dispatch, write the reply. The
 * connection's timeouts and limits live here. Replies to pipelined requests are flushed together
 * once no more input is waiting.
 */
final class Session implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(Session.class);

    private final AFUNIXSocket socket;
    private final Server server;
    private final long idleNanos;
    /** When the current wait (for a line, or for a write to drain) must end; 0 when busy. */
    private volatile long deadlineNanos;
    private volatile boolean idle;
    private volatile boolean stopping;

    Session(AFUNIXSocket socket, Server server, long idleNanos) {
        this.socket = socket;
        this.server = server;
        this.idleNanos = idleNanos;
    }

    @Override
    public void run() {
        Caller caller = null;
        boolean handedOff = false;
        try {
            AFUNIXSocketCredentials creds = socket.getPeerCredentials();
            Peer peer = new Peer(creds.getUid(), creds.getGid(), creds.getPid());
            caller = server.roles().resolve(peer);
            if (caller.ordinary() && !server.admitUid(peer.uid())) {
                caller = null; // not counted, so nothing to release
                handedOff = true; // the refusal owns the socket now
                server.refuse(socket);
                return;
            }
            serve(caller);
        } catch (IOException e) {
            log.debug("connection ended: {}", e.getMessage());
        } catch (RuntimeException e) {
            log.error("connection failed with an internal error", e);
        } finally {
            if (caller != null && caller.ordinary()) {
                server.releaseUid(caller.peer().uid());
            }
            if (!handedOff) {
                closeOwn();
            }
            server.sessionEnded(this);
        }
    }

    /** How long a refused connection is kept to read and drop the client's request. */
    static final int BUSY_LINGER_MS = 200;
    private static final int BUSY_LINGER_BYTES = 64 * 1024;

    /**
     * Answers {@code ERR busy} and closes, after {@link #dropUntilClosed} for at most
     * {@code lingerMs} (0: only what has arrived), so that the client, whose request is usually
     * there already, does not lose the reply.
     */
    static void refuseBusy(AFUNIXSocket socket, int lingerMs) {
        try {
            OutputStream out = socket.getOutputStream();
            out.write((Reply.err(ErrorCodes.BUSY, "too many connections").format() + "\n")
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            dropUntilClosed(socket, lingerMs, BUSY_LINGER_BYTES);
        } catch (IOException ignored) {
            // the peer left already, or the linger ran out
        } finally {
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }

    /**
     * A session's buffers, kept by its thread from one connection to the next: a session runs on
     * one thread from start to end, and 13 KB of fresh arrays per connection were a third of all
     * the daemon allocated under a connection-per-request load (JFR), and so of its young GCs.
     */
    private static final ThreadLocal<SessionBuffers> BUFFERS = ThreadLocal.withInitial(SessionBuffers::new);

    private void serve(Caller caller) throws IOException {
        SessionBuffers buffers = BUFFERS.get();
        try {
            serve(caller, buffers);
        } finally {
            buffers.wipe();
        }
    }

    private void serve(Caller caller, SessionBuffers buffers) throws IOException {
        DeadlineInput input = new DeadlineInput(socket.getInputStream(), buffers);
        LineReader reader = new LineReader(input, buffers.read, buffers.line);
        OutputStream out = buffers.output(socket.getOutputStream());
        while (true) {
            if (!reader.hasBufferedInput()) {
                out.flush();
                if (stopping) {
                    return;
                }
                idle = true;
                if (stopping) {
                    return;
                }
            }
            if (!reader.inMidLine()) {
                deadlineNanos = System.nanoTime() + idleNanos;
            }
            LineReader.Frame frame = reader.next();
            idle = false;
            deadlineNanos = 0;
            Reply reply;
            boolean close = false;
            if (frame instanceof LineReader.Line line) {
                Optional<Request> request = Request.parse(line.text());
                if (request.isEmpty()) {
                    continue;
                }
                try {
                    server.admission().enter();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                try {
                    reply = server.dispatcher().dispatch(caller, request.get());
                } finally {
                    server.admission().leave();
                }
                close = request.get().command().equals(Commands.QUIT) && reply.isOk();
            } else if (frame instanceof LineReader.TooLong) {
                reply = Reply.err(ErrorCodes.TOO_LONG, "request line exceeds " + LineReader.MAX_LINE_BYTES + " bytes");
                close = true;
            } else if (frame instanceof LineReader.BadUtf8) {
                reply = Reply.err(ErrorCodes.BAD_REQUEST, "request line is not valid UTF-8");
            } else {
                return; // the peer closed
            }
            deadlineNanos = System.nanoTime() + idleNanos; // a write that never drains is cut off too
            out.write((reply.format() + "\n").getBytes(StandardCharsets.UTF_8));
            if (close) {
                out.flush();
                if (frame instanceof LineReader.TooLong) {
                    lingerForReply();
                }
                return;
            }
        }
    }

    /** How long, and how much, a too-long sender's input is read and dropped before the close. */
    private static final int LINGER_MS = 1000;
    private static final long LINGER_BYTES = 1 << 20;

    /**
     * Closing a Unix socket with unread input resets the connection, and the peer may then lose
     * the reply still waiting in its buffer. So before a close with a reply just written: end our
     * side, drop what has arrived, then read and drop what the client still sends until it
     * closes, for at most {@code lingerMs} and {@code maxBytes}, giving it the chance to read the
     * reply first.
     */
    static void dropUntilClosed(AFUNIXSocket socket, int lingerMs, long maxBytes) throws IOException {
        socket.shutdownOutput();
        InputStream in = socket.getInputStream();
        byte[] scratch = new byte[8192];
        long dropped = 0;
        int ready;
        while (dropped < maxBytes && (ready = Math.min(in.available(), scratch.length)) > 0) {
            dropped += Math.max(in.read(scratch, 0, ready), 0);
        }
        long end = System.nanoTime() + lingerMs * 1_000_000L;
        long left;
        int n = 0;
        while (dropped < maxBytes && n >= 0 && (left = end - System.nanoTime()) > 0) {
            socket.setSoTimeout((int) Math.max(1, left / 1_000_000L));
            n = in.read(scratch);
            dropped += Math.max(n, 0);
        }
    }

    /** After ERR too-long: {@link #dropUntilClosed}, with the reaper's deadline as a backstop. */
    private void lingerForReply() {
        deadlineNanos = System.nanoTime() + LINGER_MS * 1_000_000L;
        try {
            dropUntilClosed(socket, LINGER_MS, LINGER_BYTES);
        } catch (IOException done) {
            // deadline or peer gone: close now
        }
    }

    /**
     * Sets the socket's read timeout to what is left of the current deadline before each read,
     * unless the timeout already set is within 1% (at least 10 ms) of it: junixsocket sets a
     * timeout with two setsockopt calls, and each line of a connection would otherwise pay them
     * again for the same deadline give or take microseconds. A read may then end that much before
     * or after its deadline; the reaper closes a connection past its deadline in any case.
     */
    private final class DeadlineInput extends InputStream {
        private final InputStream in;
        private final SessionBuffers buffers;
        /** The timeout last set on the socket, in ms; 0 before the first read. */
        private int timeoutSetMs;

        DeadlineInput(InputStream in, SessionBuffers buffers) {
            this.in = in;
            this.buffers = buffers;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                throw new SocketException("idle timeout");
            }
            int timeoutMs = (int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000));
            if (timeoutSetMs == 0 || Math.abs(timeoutSetMs - timeoutMs) > Math.max(10, timeoutSetMs / 100)) {
                socket.setSoTimeout(timeoutMs);
                timeoutSetMs = timeoutMs;
            }
            int n = in.read(b, off, len);
            buffers.noteRead(b, off, n);
            return n;
        }
    }

    /** Called by the server's reaper: closes a connection whose wait has passed its deadline. */
    void reapIfExpired(long nowNanos) {
        long deadline = deadlineNanos;
        if (deadline != 0 && nowNanos - deadline > 0) {
            close();
        }
    }

    /** Shutdown: an idle connection is closed now; a busy one after its reply. */
    void stop() {
        stopping = true;
        if (idle) {
            close();
        }
    }

    /**
     * Closes the connection from another thread (the reaper, a stop): junixsocket shuts the socket
     * down first, which is what wakes this session's thread if it is blocked reading or writing
     * (a bare close of the descriptor would not).
     */
    void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /**
     * Closes the connection from its own thread, which is blocked nowhere: the close alone, without
     * the two shutdown calls {@link #close} makes (two of the fifteen system calls a short
     * connection costs the daemon). The peer sees the end of the stream all the same.
     */
    private void closeOwn() {
        socket.setShutdownOnClose(false);
        close();
    }
}
