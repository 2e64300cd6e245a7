package org.twofactord.weblogin;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.twofactord.protocol.TwoFactorClient;

/**
 * How the pages reach twofactord: one short connection per page request. A {@link TwoFactorClient}
 * is not thread-safe, and HELLO costs one local round trip, so a pool is not worth its code here.
 */
final class Daemon {
    /** One call (or a few) on an open client. */
    @FunctionalInterface
    interface Call<T> {
        T on(TwoFactorClient client) throws IOException;
    }

    private final Path socket;
    private final Duration timeout;

    Daemon(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /**
     * Connects, runs {@code call}, closes. Any {@link IOException} (daemon down, timeout, ERR
     * reply) reaches the caller, which treats it as "no".
     */
    <T> T call(Call<T> call) throws IOException {
        try (TwoFactorClient client = TwoFactorClient.connect(socket, timeout)) {
            return call.on(client);
        }
    }
}
