package org.twofactord.daemon.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that writes the store. Handlers hand it a {@link Change}; it applies every change
 * waiting at that moment, commits once (group commit), and only then completes each change's
 * future. A change
 * re-checks its precondition against the store inside {@link Change#apply}, because two requests
 * may have read the same state. If the commit fails, every change of the batch fails with a
 * {@link StoreException} and nothing of it is reported as done.
 *
 * <p>A lazy change (a failure count) is applied on the caller's own thread, under the same lock
 * the writer holds while it applies and commits: a brute-force flood then costs no hand-off to
 * the writer thread and back per guess, only a lock that is free unless a commit is running. The
 * writer commits the lazy changes with the next durable change, or {@link #LAZY_COMMIT_MS} after
 * the first of them at the latest.
 */
public final class Writer implements AutoCloseable {
    /** A write, with its precondition checked against the store at the time it is applied. */
    @FunctionalInterface
    public interface Change<T> {
        /**
         * Checks the precondition, writes if it holds, and returns the outcome that the caller will
         * get once the commit is done. Must not write anything before it is sure to succeed.
         */
        T apply(Store store) throws StoreException;
    }

    /** A queued change; its future completes after the commit that covers it. */
    private record Job<T>(Change<T> change, CompletableFuture<T> future) {
        void run(Store store, List<Runnable> completions) {
            try {
                T result = change.apply(store);
                completions.add(() -> future.complete(result));
            } catch (StoreException | RuntimeException e) {
                future.completeExceptionally(e);
            }
        }
    }

    /** The longest a lazy change waits for its commit. */
    public static final long LAZY_COMMIT_MS = 100;

    private static final Logger log = LoggerFactory.getLogger(Writer.class);
    private static final int MAX_BATCH = 512;
    private static final long IDLE_POLL_MS = 100;
    /** Queued by the first lazy change after a commit, so that the writer starts its deadline. */
    private static final Job<Object> WAKE = new Job<>(s -> null, new CompletableFuture<>());

    private final Store store;
    private final boolean groupCommit;
    private final LinkedBlockingQueue<Job<?>> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;
    /** Held while changes are applied and while they are committed: one transaction, one writer at a time. */
    private final ReentrantLock applyLock = new ReentrantLock();
    /** Lazy changes applied since the last commit (guarded by applyLock). */
    private int lazyApplied;
    /** nanoTime by which they must be committed (guarded by applyLock). */
    private long lazyDeadline;
    /** Set when the writer has made its last commit; later changes are refused (guarded by applyLock). */
    private boolean closed;

    public Writer(Store store) {
        this(store, true);
    }

    /**
     * @param groupCommit false commits every change on its own, lazy ones too (benchmarks
     *                    compare the two)
     */
    public Writer(Store store, boolean groupCommit) {
        this.store = store;
        this.groupCommit = groupCommit;
        this.thread = new Thread(this::loop, "twofactord-writer");
        this.thread.setDaemon(false);
        this.thread.start();
    }

    /** Queues a change; the future completes after the commit that covers it. */
    public <T> CompletableFuture<T> submit(Change<T> change) {
        CompletableFuture<T> future = new CompletableFuture<>();
        if (!running) {
            future.completeExceptionally(new StoreException("the store is closing"));
            return future;
        }
        queue.add(new Job<>(change, future));
        return future;
    }

    /**
     * Applies a change whose outcome may be told before it is durable (a failure count: the
     * protocol allows it to reach the disk a short, documented delay after the NO). It is applied
     * at once, on the calling thread, so later requests see it; it is committed with the next
     * durable change, or after {@link #LAZY_COMMIT_MS} at the latest. The returned future is
     * already complete. Without group commit it is an ordinary change with a commit of its own.
     */
    public <T> CompletableFuture<T> submitLazy(Change<T> change) {
        if (!groupCommit) {
            return submit(change);
        }
        CompletableFuture<T> future = new CompletableFuture<>();
        applyLock.lock();
        try {
            if (closed || !running) {
                future.completeExceptionally(new StoreException("the store is closing"));
                return future;
            }
            future.complete(change.apply(store));
            if (lazyApplied++ == 0) {
                lazyDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LAZY_COMMIT_MS);
                queue.add(WAKE);
            }
        } catch (StoreException | RuntimeException e) {
            future.completeExceptionally(e);
        } finally {
            applyLock.unlock();
        }
        return future;
    }

    private void loop() {
        List<Job<?>> batch = new ArrayList<>();
        List<Runnable> completions = new ArrayList<>();
        while (true) {
            long waitNanos = TimeUnit.MILLISECONDS.toNanos(IDLE_POLL_MS);
            applyLock.lock();
            try {
                if (lazyApplied > 0) {
                    waitNanos = Math.max(0, lazyDeadline - System.nanoTime());
                }
            } finally {
                applyLock.unlock();
            }
            boolean stopping = !running;
            try {
                Job<?> first = stopping ? queue.poll() : queue.poll(waitNanos, TimeUnit.NANOSECONDS);
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, (groupCommit ? MAX_BATCH : 1) - 1);
                }
            } catch (InterruptedException e) {
                continue;
            }
            batch.removeIf(job -> job == WAKE);
            boolean last;
            applyLock.lock();
            try {
                for (Job<?> job : batch) {
                    job.run(store, completions);
                }
                last = stopping && queue.isEmpty();
                boolean due = lazyApplied > 0 && (System.nanoTime() - lazyDeadline >= 0 || last);
                if (!batch.isEmpty() || due) {
                    if (!commit(batch, completions.size())) {
                        completions.clear();
                    }
                    lazyApplied = 0;
                }
                if (last) {
                    closed = true;
                }
            } finally {
                applyLock.unlock();
            }
            completions.forEach(Runnable::run);
            batch.clear();
            completions.clear();
            if (last) {
                return;
            }
        }
    }

    /** Commits what was applied (under applyLock); on failure rolls back and fails the batch. */
    private boolean commit(List<Job<?>> batch, int outcomes) {
        try {
            store.commit();
            return true;
        } catch (StoreException | RuntimeException e) {
            log.error("store commit failed; {} request(s) answered 'unavailable', {} failure count(s) lost: {}",
                    outcomes, lazyApplied, e.getMessage());
            try {
                store.rollback();
            } catch (StoreException | RuntimeException e2) {
                log.error("store rollback failed too: {}", e2.getMessage());
            }
            StoreException failure = e instanceof StoreException se ? se
                    : new StoreException("commit failed: " + e.getMessage(), e);
            for (Job<?> job : batch) {
                job.future().completeExceptionally(failure); // no effect on those already failed
            }
            return false;
        }
    }

    /** Applies and commits what is queued, then stops the thread. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
