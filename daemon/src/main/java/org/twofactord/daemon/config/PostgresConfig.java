package org.twofactord.daemon.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the PostgreSQL store is ({@code store = postgresql}).
 *
 * @param url          {@code jdbc:postgresql://HOST:PORT/DATABASE}, without a password
 * @param user         the database role the daemon logs in as
 * @param passwordFile the role's password, in a file only the service user may read; empty when
 *                     the server needs none (peer or certificate authentication)
 * @param requireSynchronous {@code postgres_synchronous = require}: the daemon refuses to start
 *                     unless the database replicates synchronously to a standby; otherwise it
 *                     warns when it sees asynchronous replication
 */
public record PostgresConfig(String url, String user, Optional<Path> passwordFile, boolean requireSynchronous) {
    /** With {@code postgres_synchronous = warn}, the default. */
    public PostgresConfig(String url, String user, Optional<Path> passwordFile) {
        this(url, user, passwordFile, false);
    }
}
