package org.twofactord.daemon.store.log;

/** The store's three tables, as log entries and checkpoints name them. */
final class Tables {
    static final byte META = 'm';
    static final byte USERS = 'u';
    static final byte PENDING = 'p';

    private Tables() {
    }

    static String mapName(byte table) {
        return switch (table) {
            case META -> "meta";
            case USERS -> "users";
            case PENDING -> "pending";
            default -> throw new IllegalArgumentException("no table " + table);
        };
    }
}
