package org.twofactord.daemon.store;

/** The store or its key cannot be used; the daemon fails closed ({@code ERR unavailable}). */
public class StoreException extends Exception {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
