package org.twofactord.daemon.cli;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Locale;
import java.util.Optional;
import org.twofactord.daemon.config.Config;
import org.twofactord.protocol.ProtocolException;

/**
 * Where the client commands find the daemon's socket, and, when they cannot connect, which
 * path they tried, why, and what to do, in one line.
 */
final class DaemonSocket {
    /** The file at a checkout's top that marks it (./dev-server starts the dev daemon). */
    static final String CHECKOUT_MARK = "dev-server";

    private DaemonSocket() {
    }

    /** Why --dev found no socket to try: where it looked. */
    static final class NotFound extends Exception {
        private static final long serialVersionUID = 1L;

        NotFound(String message) {
            super(message);
        }
    }

    /**
     * The dev daemon's socket: {@code .twofactord-dev/twofactord.sock} in the working directory
     * or the nearest folder above it that has a {@code .twofactord-dev}, so --dev works from
     * anywhere in the checkout; the checkout's top (where ./dev-server is) ends the search.
     */
    static Path dev(Path workingDir) throws NotFound {
        Path start = workingDir.toAbsolutePath().normalize();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isDirectory(dir.resolve(Config.DEV_DIR)) || Files.isRegularFile(dir.resolve(CHECKOUT_MARK))) {
                return dir.resolve(Config.DEV_DIR).resolve(Config.SOCKET_NAME);
            }
        }
        throw new NotFound("--dev: no " + Config.DEV_DIR + " folder (nor a checkout with ./" + CHECKOUT_MARK + ") in "
                + ClientCommand.printable(start.toString(), 300) + " or any folder above it: run the command inside "
                + "the checkout where ./dev-server runs, or give --socket PATH");
    }

    /**
     * The dev-mode state directory, found as {@link #dev} finds the socket: {@code .twofactord-dev}
     * in the working directory or the nearest folder above it (or at the checkout's top).
     */
    static Path devStateDir(Path workingDir) throws NotFound {
        return dev(workingDir).getParent();
    }

    /** The message for a connection to {@code socket} that failed with {@code e}: what, why, what to do. */
    static String whyUnreachable(Path socket, IOException e, boolean dev, int timeoutS) {
        String where = "twofactord: cannot connect to the daemon at " + ClientCommand.printable(socket.toString(), 300) + ": ";
        String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        String start = dev ? "./dev-server in " + ClientCommand.printable(checkout(socket), 300) + ", and --dev"
                : "systemctl status twofactord, or ./dev-server and --dev";
        if (e instanceof SocketTimeoutException || message.contains("timed out")) {
            return where + "no answer within " + timeoutS + " s: the daemon may be overloaded or stuck "
                    + "(systemctl status twofactord); --timeout SECONDS waits longer";
        }
        if (e instanceof EOFException) {
            return where + "it closed the connection without answering (its log says why: journalctl -u twofactord)";
        }
        if (e instanceof ProtocolException) {
            return where + "what answers there is not twofactord (" + ClientCommand.printable(e.getMessage(), 200) + ")";
        }
        if (message.contains("permission denied") || message.contains("access denied")) {
            return where + "permission denied: you are not in the socket's group" + group(socket).map(g -> " (" + g + ")")
                    .orElse("") + ", or run as root";
        }
        Optional<BasicFileAttributes> file = attributes(socket);
        if (file.isEmpty() || message.contains("no such file")) {
            return where + "no such file. Is the daemon running? " + start;
        }
        if (message.contains("connection refused")) {
            if (!file.get().isOther()) {
                return where + "it is a " + (file.get().isDirectory() ? "directory" : "file") + ", not a socket: "
                        + "--socket names the daemon's socket (/run/twofactord/twofactord.sock)";
            }
            return where + "the socket exists but nothing listens (a daemon that stopped without removing it): "
                    + (dev ? "start " + start : "systemctl restart twofactord.socket");
        }
        return where + ClientCommand.printable(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), 300);
    }

    private static Optional<BasicFileAttributes> attributes(Path file) {
        try {
            return Optional.of(Files.readAttributes(file, BasicFileAttributes.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The group of the socket, or of the first folder on its way that cannot be entered, if it can be read. */
    private static Optional<String> group(Path socket) {
        for (Path p = socket.toAbsolutePath(); p != null; p = p.getParent()) {
            try {
                return Optional.of(Files.readAttributes(p, PosixFileAttributes.class).group().getName());
            } catch (IOException | UnsupportedOperationException e) {
                // not visible from here: try the folder it is in
            }
        }
        return Optional.empty();
    }

    private static String checkout(Path devSocket) {
        Path dir = devSocket.toAbsolutePath().getParent();
        return String.valueOf(dir == null || dir.getParent() == null ? dir : dir.getParent());
    }
}
