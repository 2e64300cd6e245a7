package org.twofactord.bench;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Three shapes of a server that answers {@code OK} to every line and does nothing else, to tell
 * how much of a connection's cost the shape of the server decides, before any request work:
 * <ul>
 * <li>{@code threads}: the daemon's shape: junixsocket, blocking, a fixed set of threads each
 * accepting a connection and serving it to its end (leader/follower without a pool);</li>
 * <li>{@code threads-jdk}: the same with the JDK's own UNIX-domain channels (no junixsocket
 * accept, no peer credentials);</li>
 * <li>{@code loop}: an event loop: one thread and an epoll {@link Selector} over the JDK's
 * channels, accepting and reading whatever is ready at each wake-up.</li>
 * </ul>
 * {@code bench server-shape --kind K --socket PATH [--threads 8]}; measured with {@code bench load}
 * (persistent and {@code --fresh}), see BENCHMARKS.md.
 */
final class ServerShapes {
    private static final byte[] OK = {'O', 'K', '\n'};

    private ServerShapes() {
    }

    static void run(String kind, Path socket, int threads) throws IOException {
        Files.deleteIfExists(socket);
        switch (kind) {
            case "threads" -> threads(socket, threads);
            case "threads-jdk" -> threadsJdk(socket, threads);
            case "loop" -> loop(socket);
            default -> throw new IllegalArgumentException("--kind is threads, threads-jdk or loop, not " + kind);
        }
    }

    private static void threads(Path socket, int threads) throws IOException {
        AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
        server.bind(AFUNIXSocketAddress.of(socket), 128);
        listening(socket);
        startAll(threads, () -> {
            byte[] buffer = new byte[4096];
            while (true) {
                try {
                    AFUNIXSocket s = server.accept();
                    s.setShutdownOnClose(false);
                    EchoServer.serve(s, buffer);
                } catch (IOException ignored) {
                    // accept failed: try again
                }
            }
        });
    }

    private static void threadsJdk(Path socket, int threads) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket), 128);
        listening(socket);
        startAll(threads, () -> {
            ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
            while (true) {
                try (SocketChannel c = server.accept()) {
                    buffer.clear();
                    while (c.read(buffer) >= 0) {
                        int lines = lines(buffer);
                        buffer.clear();
                        write(c, lines);
                    }
                } catch (IOException ignored) {
                    // the client left
                }
            }
        });
    }

    private static void loop(Path socket) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket), 128);
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        listening(socket);
        ByteBuffer buffer = ByteBuffer.allocateDirect(4096);
        while (true) {
            selector.select();
            Iterator<SelectionKey> it = selector.selectedKeys().iterator();
            while (it.hasNext()) {
                SelectionKey key = it.next();
                it.remove();
                if (key.isAcceptable()) {
                    SocketChannel c;
                    while ((c = server.accept()) != null) {
                        c.configureBlocking(false);
                        c.register(selector, SelectionKey.OP_READ);
                    }
                } else if (key.isReadable()) {
                    SocketChannel c = (SocketChannel) key.channel();
                    try {
                        buffer.clear();
                        int n = c.read(buffer);
                        if (n < 0) {
                            key.cancel();
                            c.close();
                        } else if (n > 0) {
                            write(c, lines(buffer)); // a 3-byte reply to a waiting client: never partial here
                        }
                    } catch (IOException e) {
                        key.cancel();
                        c.close();
                    }
                }
            }
        }
    }

    private static void startAll(int threads, Runnable body) {
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(body, "shape-" + i);
            t.setDaemon(false);
            t.start();
        }
    }

    private static void listening(Path socket) {
        System.out.println("listening on " + socket);
        System.out.flush();
    }

    private static int lines(ByteBuffer buffer) {
        int lines = 0;
        for (int i = 0; i < buffer.position(); i++) {
            if (buffer.get(i) == '\n') {
                lines++;
            }
        }
        return lines;
    }

    private static void write(SocketChannel c, int lines) throws IOException {
        if (lines == 0) {
            return;
        }
        ByteBuffer reply = ByteBuffer.allocate(OK.length * lines);
        for (int i = 0; i < lines; i++) {
            reply.put(OK);
        }
        reply.flip();
        while (reply.hasRemaining()) {
            c.write(reply);
        }
    }
}
