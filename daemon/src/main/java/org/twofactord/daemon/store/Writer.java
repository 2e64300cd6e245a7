package org.twofactord.daemon.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that writes the store. Handlers hand it a {@link Change}; it applies every change
 * waiting at that moment, commits once (group commit), and only then completes each change's
 * future. A change
 * re-checks its precondition against the store inside {@link Change#apply}, because two requests
 * may have read the same state. If the commit fails, every change of the batch fails with a
 * {@link StoreException} and nothing of it is reported as done. What happens to the store then
 * depends on the failure: a {@link StoreTransient} (PostgreSQL rolled the transaction back) leaves
 * it usable, and a deadlock between two daemons' batches is resolved by applying the whole batch
 * again; any other failure (MapDB) breaks it for good in this process (see {@link #failed}).
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

    /** How a job's change reaches the disk before its answer goes out. */
    private enum Kind {
        /** Committed before it is answered. */
        COMMITTED,
        /** The user's record synced ({@link Store#sync}) before it is answered; committed later. */
        SYNCED,
        /** Answered once applied; committed at most {@link #LAZY_COMMIT_MS} later. */
        LAZY
    }

    /**
     * A queued change, and the user whose record it changes, or null when it does not name one
     * (the record a synced change makes durable; the row a store may read ahead, see
     * {@link Store#prepare}).
     */
    private record Job<T>(Change<T> change, CompletableFuture<T> future, Kind kind, String user) {
        /** Applies the change; a lazy job is answered at once, the others after the disk has it. */
        void run(Store store, List<Runnable> completions) throws StoreException {
            T result = change.apply(store);
            if (kind == Kind.LAZY) {
                future.complete(result);
            } else {
                completions.add(() -> future.complete(result));
            }
        }

        void fail(Throwable cause) {
            future.completeExceptionally(cause);
        }
    }

    /** The longest a lazy change waits for its commit. */
    public static final long LAZY_COMMIT_MS = 100;

    private static final Logger log = LoggerFactory.getLogger(Writer.class);
    private static final int MAX_BATCH = 512;

    /** How often a batch rolled back by a deadlock or serialization failure is applied again. */
    private static final int MAX_ATTEMPTS = 5;

    private final Store store;
    /** What changes work on: the store's view inside its transaction. */
    private final Store view;
    private final boolean groupCommit;
    private final LinkedBlockingQueue<Job<?>> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    public Writer(Store store) {
        this(store, true);
    }

    /**
     * @param groupCommit false commits every change on its own, lazy ones too (benchmarks
     *                    compare the two)
     */
    public Writer(Store store, boolean groupCommit) {
        this.store = store;
        this.view = store.inTransaction();
        this.groupCommit = groupCommit;
        this.thread = new Thread(this::loop, "twofactord-writer");
        this.thread.setDaemon(false);
        this.thread.start();
    }

    /** Queues a change; the future completes after the commit that covers it. */
    public <T> CompletableFuture<T> submit(Change<T> change) {
        return enqueue(change, Kind.COMMITTED, null);
    }

    /** As {@link #submit(Change)}, for a change that reads and writes only {@code user}'s record. */
    public <T> CompletableFuture<T> submit(String user, Change<T> change) {
        return enqueue(change, Kind.COMMITTED, user);
    }

    /**
     * Queues a change that writes only {@code user}'s record (an accepted code, a used backup
     * code); the future completes once that record is durable: committed, or synced with
     * {@link Store#sync} when no other change of the batch needs a commit (for MapDB one append and
     * one fdatasync to its journal, instead of a commit's two fsyncs). The change is committed
     * within {@link #LAZY_COMMIT_MS} like a lazy one.
     */
    public <T> CompletableFuture<T> submitSynced(String user, Change<T> change) {
        return enqueue(change, Kind.SYNCED, user);
    }

    /**
     * Queues a change whose outcome may be told before it is durable (a failure count: the
     * protocol allows it to reach the disk a short, documented delay after the NO). It is
     * applied in order with every other change, so later requests see it at once; it is
     * committed with the next durable change, or after {@link #LAZY_COMMIT_MS} at the latest.
     */
    public <T> CompletableFuture<T> submitLazy(Change<T> change) {
        return enqueue(change, Kind.LAZY, null);
    }

    /** As {@link #submitLazy(Change)}, for a change that reads and writes only {@code user}'s record. */
    public <T> CompletableFuture<T> submitLazy(String user, Change<T> change) {
        return enqueue(change, Kind.LAZY, user);
    }

    private <T> CompletableFuture<T> enqueue(Change<T> change, Kind requested, String user) {
        // Without group commit (the benchmarks' baseline), and with a store shared by several
        // daemons (see Store#lazyCommits), every change is committed before it is answered.
        Kind kind = groupCommit && store.lazyCommits() ? requested : Kind.COMMITTED;
        CompletableFuture<T> future = new CompletableFuture<>();
        if (!running) {
            future.completeExceptionally(new StoreException("the store is closing"));
            return future;
        }
        queue.add(new Job<>(change, future, kind, user));
        return future;
    }

    private void loop() {
        List<Job<?>> batch = new ArrayList<>();
        List<Runnable> completions = new ArrayList<>();
        long lazyDeadline = 0; // nanoTime by which applied lazy changes must be committed
        int lazyApplied = 0;
        while (running || !queue.isEmpty() || lazyApplied > 0) {
            try {
                long waitMs = lazyApplied == 0 ? 100
                        : Math.max(0, TimeUnit.NANOSECONDS.toMillis(lazyDeadline - System.nanoTime()));
                Job<?> first = running ? queue.poll(waitMs, TimeUnit.MILLISECONDS) : queue.poll();
                if (first != null) {
                    batch.add(first);
                    queue.drainTo(batch, (groupCommit ? MAX_BATCH : 1) - 1);
                }
            } catch (InterruptedException e) {
                continue;
            }
            if (broken != null) {
                batch.forEach(job -> job.fail(broken));
                batch.clear();
                continue;
            }
            for (int attempt = 1; ; attempt++) {
                int lazyBefore = lazyApplied;
                boolean durable = false;
                java.util.Set<String> synced = new java.util.LinkedHashSet<>();
                StoreException storeFailure = null;
                if (batch.size() > 1) {
                    storeFailure = prepare(batch, attempt);
                }
                for (Job<?> job : batch) {
                    if (storeFailure != null) {
                        break;
                    }
                    if (attempt > 1 && job.kind() != Kind.LAZY && job.future().isDone()) {
                        continue; // it failed on its own in an earlier attempt and was answered so
                    }
                    try {
                        job.run(view, completions);
                    } catch (StoreUnavailable e) {
                        storeFailure = e.getCause(); // the store failed under this change
                        break;
                    } catch (StoreException | RuntimeException e) {
                        job.fail(e); // this change's own failure; it wrote nothing
                        continue;
                    }
                    if (job.kind() == Kind.COMMITTED) {
                        durable = true;
                    } else {
                        if (job.kind() == Kind.SYNCED) {
                            synced.add(job.user());
                        }
                        if (lazyApplied++ == 0) {
                            lazyDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LAZY_COMMIT_MS);
                        }
                    }
                }
                if (!store.lazyCommits() && !batch.isEmpty()) {
                    // Even a batch whose changes all failed on their own may hold row locks
                    // (SELECT ... FOR UPDATE) that other daemons wait for: end its transaction.
                    durable = true;
                }
                boolean commitNow = durable
                        || (lazyApplied > 0 && (System.nanoTime() - lazyDeadline >= 0 || !running));
                if (storeFailure == null && (commitNow || !synced.isEmpty())) {
                    try {
                        if (commitNow) {
                            store.commit(); // covers the synced changes too
                        } else {
                            store.sync(synced);
                        }
                        completions.forEach(Runnable::run);
                        if (commitNow) {
                            lazyApplied = 0;
                        }
                    } catch (StoreException | RuntimeException e) {
                        storeFailure = e instanceof StoreException se ? se
                                : new StoreException((commitNow ? "commit" : "sync") + " failed: " + e.getMessage(), e);
                    }
                }
                if (storeFailure == null) {
                    break;
                }
                if (storeFailure instanceof StoreTransient rolledBack) {
                    completions.clear();
                    store.rollback();
                    // The store rolled the whole transaction back and is usable again: nothing of
                    // this batch has been answered, so it can be applied again or failed alone.
                    if (rolledBack.retryNow() && attempt < MAX_ATTEMPTS) {
                        log.debug("batch of {} change(s) rolled back ({}); applying it again", batch.size(),
                                rolledBack.getMessage());
                        lazyApplied = lazyBefore;
                        pauseBeforeRetry(attempt);
                        continue;
                    }
                    log.debug("batch of {} change(s) rolled back, answered 'unavailable': {}", batch.size(),
                            rolledBack.getMessage());
                    batch.forEach(job -> job.fail(rolledBack));
                    lazyApplied = 0;
                    break;
                }
                failed(batch, completions.size(), lazyApplied, storeFailure);
                lazyApplied = 0;
                break;
            }
            batch.clear();
            completions.clear();
        }
    }

    /**
     * Tells the store which users the batch's changes name ({@link Store#prepare}), so that it may
     * read them in one go; returns the store's failure, if it failed.
     */
    private StoreException prepare(List<Job<?>> batch, int attempt) {
        java.util.Set<String> users = new java.util.HashSet<>();
        int named = 0;
        for (Job<?> job : batch) {
            if (job.user() != null && !(attempt > 1 && job.kind() != Kind.LAZY && job.future().isDone())) {
                users.add(job.user());
                named++;
            }
        }
        if (named < 2) {
            return null; // one change on its own is cheapest sent as it goes
        }
        try {
            view.prepare(users);
            return null;
        } catch (StoreUnavailable e) {
            return e.getCause();
        }
    }

    /**
     * A short random pause before a batch is applied again, so that two daemons whose batches
     * deadlocked do not meet again in the same order at once.
     */
    private static void pauseBeforeRetry(int attempt) {
        try {
            Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextInt(1, 1 + 10 * attempt));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A write or commit failed: every durable change of the batch fails, and the store is broken
     * for good in this process. Its in-memory state may hold changes that never reached the disk
     * (a policy change, say), so nothing may be answered from it any more: every later request
     * gets ERR unavailable, and the daemon exits so that its service manager starts it again
     * from the last commit (the path every kill -9 test proves). Reopening the store in place,
     * with or without MapDB's rollback, lost committed data under the crash-loop test, so it is
     * not attempted.
     */
    private void failed(List<Job<?>> batch, int waiting, int lazyLost, StoreException cause) {
        log.error("store write failed; {} request(s) answered 'unavailable', {} applied change(s) not committed "
                + "(failure counts among them are lost; accepted codes already synced are in the journal); the store is "
                + "unusable until twofactord restarts: {}", waiting, lazyLost, cause.getMessage());
        broken = cause;
        batch.forEach(job -> job.fail(cause)); // no effect on those already answered
        Runnable listener = onBroken;
        if (listener != null) {
            listener.run();
        }
    }

    /** Why the store is unusable, or null when it is fine. Once set, it stays set. */
    private volatile StoreException broken;
    private volatile Runnable onBroken;

    /** The failure that broke the store, or null. */
    public StoreException broken() {
        return broken;
    }

    /** Called once, on the writer thread, when a failed write breaks the store. */
    public void onBroken(Runnable listener) {
        this.onBroken = listener;
    }

    /** Applies what is queued, then stops the thread. */
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
