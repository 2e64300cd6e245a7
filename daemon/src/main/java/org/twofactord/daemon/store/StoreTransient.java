package org.twofactord.daemon.store;

/**
 * A store operation failed and the store rolled back all of its transaction: nothing of it is
 * kept, and the store is fine to use again (the database was unreachable, or two daemons'
 * transactions collided). The {@link Writer} answers the batch {@code ERR unavailable} and carries
 * on, or first applies the whole batch again when {@link #retryNow()} says that can succeed.
 */
public final class StoreTransient extends StoreException {
    private final boolean retryNow;

    public StoreTransient(String message, boolean retryNow, Throwable cause) {
        super(message, cause);
        this.retryNow = retryNow;
    }

    /** A deadlock or serialization failure: the same batch applied again can succeed at once. */
    public boolean retryNow() {
        return retryNow;
    }
}
