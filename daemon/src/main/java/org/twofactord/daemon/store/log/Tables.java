package org.twofactord.daemon.store.log;

/**
 * The store's tables, as log entries and checkpoints name them. META and REQUIRED are small and
 * a checkpoint holds them in memory; a checkpoint written before REQUIRED existed has none.
 */
final class Tables {
    static final byte META = 'm';
    static final byte USERS = 'u';
    static final byte PENDING = 'p';
    /** The accounts marked required; the value is empty. */
    static final byte REQUIRED = 'r';

    /** Every table, in the order a checkpoint writes them. */
    static final byte[] ALL = {META, USERS, PENDING, REQUIRED};

    static boolean known(byte table) {
        for (byte t : ALL) {
            if (t == table) {
                return true;
            }
        }
        return false;
    }

    /** Whether a checkpoint keeps this table in memory rather than in its B-tree. */
    static boolean small(byte table) {
        return table == META || table == REQUIRED;
    }

    private Tables() {
    }

    static String mapName(byte table) {
        return switch (table) {
            case META -> "meta";
            case USERS -> "users";
            case PENDING -> "pending";
            case REQUIRED -> "required";
            default -> throw new IllegalArgumentException("no table " + table);
        };
    }
}
