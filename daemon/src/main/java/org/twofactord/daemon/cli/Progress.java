package org.twofactord.daemon.cli;

import java.io.PrintWriter;
import java.util.function.LongSupplier;

/**
 * How far long work has got (an import over many home directories, a store export or import):
 * on a terminal, a count rewritten in place ({@code \r}) on standard error at most every half
 * second; off one (a log, a pipe), nothing, so that the caller's summary line is all there is.
 */
final class Progress implements AutoCloseable {
    static final long INTERVAL_NANOS = 500_000_000L;

    private final PrintWriter err;
    private final boolean shown;
    private final LongSupplier nanoTime;
    private final String what;
    private final long total;
    private long done;
    private long lastShownNanos;
    private int lastWidth;

    /**
     * Progress of {@code total} steps ({@code -1}: not known) named {@code what} ("users"),
     * shown only if {@code io} is a person's terminal; {@code nanoTime} is the clock.
     */
    Progress(Io io, String what, long total, LongSupplier nanoTime) {
        this.err = io.err;
        this.shown = io.interactive;
        this.nanoTime = nanoTime;
        this.what = what;
        this.total = total;
        if (shown) {
            lastShownNanos = nanoTime.getAsLong();
            show();
        }
    }

    Progress(Io io, String what, long total) {
        this(io, what, total, System::nanoTime);
    }

    /** One more step done. */
    void step() {
        done++;
        if (shown && nanoTime.getAsLong() - lastShownNanos >= INTERVAL_NANOS) {
            lastShownNanos = nanoTime.getAsLong();
            show();
        }
    }

    private void show() {
        String line = done + (total >= 0 ? "/" + total : "") + " " + what;
        // Spaces over what is left of a longer earlier line.
        err.print("\r" + line + " ".repeat(Math.max(0, lastWidth - line.length())));
        lastWidth = line.length();
        err.flush();
    }

    /** Shows the final count and ends its line, so that what follows starts on a line of its own. */
    @Override
    public void close() {
        if (shown) {
            show();
            err.println();
            err.flush();
        }
    }
}
