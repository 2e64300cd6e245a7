package org.twofactord.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The socket floor: a Unix-socket server built like the daemon (junixsocket, blocking, one thread
 * per connection) that answers {@code OK} to every line and does nothing else.
 */
final class EchoServer {
    private static final byte[] OK = {'O', 'K', '\n'};

    private EchoServer() {
    }

    static void run(Path socketPath) throws IOException {
        Files.deleteIfExists(socketPath);
        AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
        server.bind(AFUNIXSocketAddress.of(socketPath), 128);
        System.out.println("echo server listening on " + socketPath);
        System.out.flush();
        while (true) {
            AFUNIXSocket socket = server.accept();
            Thread t = new Thread(() -> serve(socket, new byte[4096]), "echo");
            t.setDaemon(true);
            t.start();
        }
    }

    /** Answers OK to every line of one connection until the client leaves, then closes it. */
    static void serve(AFUNIXSocket socket, byte[] buffer) {
        try (socket; InputStream in = socket.getInputStream(); OutputStream out = socket.getOutputStream()) {
            while (true) {
                int n = in.read(buffer);
                if (n < 0) {
                    return;
                }
                int lines = 0;
                for (int i = 0; i < n; i++) {
                    if (buffer[i] == '\n') {
                        lines++;
                    }
                }
                // One reply per line; a request split across reads still gets exactly one.
                for (int i = 0; i < lines; i++) {
                    out.write(OK);
                }
                out.flush();
            }
        } catch (IOException ignored) {
            // the client left
        }
    }
}
