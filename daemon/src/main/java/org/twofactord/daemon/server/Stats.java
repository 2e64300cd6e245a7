package org.twofactord.daemon.server;

import java.util.concurrent.atomic.AtomicLong;

/** Counters since start, for STATS. */
final class Stats {
    final long startedNanos = System.nanoTime();
    final AtomicLong verifyOk = new AtomicLong();
    final AtomicLong verifyNo = new AtomicLong();
    final AtomicLong replays = new AtomicLong();
    final AtomicLong lockouts = new AtomicLong();
    final AtomicLong connections = new AtomicLong();
    /** The last clock skew seen in a CONFIRM, in seconds, or null. */
    volatile Long lastClockSkewS;
}
