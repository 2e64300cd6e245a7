package org.twofactord.daemon.cli;

/** Exit codes of the {@code twofactord} command, documented in its help. */
public final class ExitCodes {
    /** Done; for {@code verify}, the code was accepted. */
    public static final int OK = 0;
    /** The answer is no (a refused code, a NO reply). */
    public static final int NO = 1;
    /** The command line was wrong. */
    public static final int USAGE = 2;
    /** The caller may not do this (ERR forbidden). */
    public static final int FORBIDDEN = 3;
    /** The daemon or its store cannot be reached (includes a bad configuration at start). */
    public static final int UNAVAILABLE = 4;
    /** serve: a store write failed (disk full, I/O error); a restart continues from the last commit. */
    public static final int STORE_FAILED = 75;
    /**
     * serve: accepting connections has failed for ten seconds without a success (a listening
     * socket that was shut down, say); the service manager restarts it.
     */
    public static final int SOCKET_FAILED = 74;
    /** The configuration file is wrong. */
    public static final int CONFIG = 78;

    private ExitCodes() {
    }
}
