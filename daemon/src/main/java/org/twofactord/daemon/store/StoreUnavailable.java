package org.twofactord.daemon.store;

/**
 * A store operation that has no checked exception in its signature failed: the unchecked carrier
 * of a {@link StoreException}, so that every such failure still answers {@code ERR unavailable}.
 */
public final class StoreUnavailable extends RuntimeException {
    public StoreUnavailable(StoreException cause) {
        super(cause.getMessage(), cause);
    }

    @Override
    public synchronized StoreException getCause() {
        return (StoreException) super.getCause();
    }
}
