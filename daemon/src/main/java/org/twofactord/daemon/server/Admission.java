package org.twofactord.daemon.server;

import java.util.concurrent.Semaphore;

/**
 * How many requests are worked on at once, whatever the number of connections: eight per core. A flood on 64 connections would otherwise keep 64 session threads runnable, and
 * a legitimate request would wait behind all of them at every wake-up (the scheduler's queue,
 * not ours). With a fair semaphore the flood's requests queue here, in arrival order, and a
 * request waiting for its commit gives its place up, so group commit still gathers many.
 */
final class Admission {
    private static final ThreadLocal<Admission> HELD = new ThreadLocal<>();

    private final Semaphore permits;

    Admission(int permits) {
        this.permits = new Semaphore(permits, true);
    }

    /**
     * Eight per core: a 16-connection flood on two cores runs unhindered, and 64 connections queue
     * here instead of in the scheduler. Measured with bench/run.sh on 2 cores, the legitimate
     * client's p99 under a 64-connection flood was 150 ms without the limit and 13-18 ms with 4,
     * 8 or 16 places; 16 kept the most flood throughput.
     */
    static int defaultPermits() {
        return Math.max(8, 8 * Runtime.getRuntime().availableProcessors());
    }

    /** Waits for a place; the caller must call {@link #leave()} in a finally block. */
    void enter() throws InterruptedException {
        permits.acquire();
        HELD.set(this);
    }

    /** Gives the place back, unless {@link #stepAside()} already did. */
    void leave() {
        if (HELD.get() == this) {
            HELD.remove();
            permits.release();
        }
    }

    /** Called before a request blocks on something other than the CPU (the writer's commit). */
    static void stepAside() {
        Admission held = HELD.get();
        if (held != null) {
            held.leave();
        }
    }
}
