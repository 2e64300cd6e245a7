package org.twofactord.daemon.policy;

/**
 * The lockout rule, pure: after {@code maxFailures} failures in a row a user is locked for
 * {@code lockoutS} seconds, doubled for each further lockout without a success between, up to
 * {@link #MAX_LOCKOUT_S}. Attempts while locked are refused without being counted.
 */
public final class Lockout {
    public static final int MAX_LOCKOUT_S = 3600;
    private static final int MAX_LEVEL = 16;

    private final int maxFailures;
    private final int lockoutS;

    public Lockout(int maxFailures, int lockoutS) {
        this.maxFailures = maxFailures;
        this.lockoutS = lockoutS;
    }

    /** A user's failure state. */
    public record State(int failures, int level, long lockedUntil) {
        public boolean lockedAt(long nowS) {
            return lockedUntil > nowS;
        }
    }

    /** The state after one more failure at {@code nowS}. */
    public State afterFailure(State state, long nowS) {
        int failures = state.failures() + 1;
        if (failures < maxFailures) {
            return new State(failures, state.level(), state.lockedUntil());
        }
        long length = Math.min((long) MAX_LOCKOUT_S, (long) lockoutS << Math.min(state.level(), MAX_LEVEL));
        return new State(0, Math.min(state.level() + 1, MAX_LEVEL), nowS + length);
    }
}
