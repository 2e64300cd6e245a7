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
 * waiting at that moment, commits once, and only then completes each change's future. A change
 * re-checks its precondition against the store inside {@link Change#apply}, because two requests
 * may have read the same state. If the commit fails, every change of the batch fails with a
 * {@link StoreException} and nothing of it is reported as done.
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

    private static final Logger log = LoggerFactory.getLogger(Writer.class);
    private static final int MAX_BATCH = 512;

    private final Store store;
    private final LinkedBlockingQueue<Job<?>> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    public Writer(Store store) {
        this.store = store;
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

    private void loop() {
        List<Job<?>> batch = new ArrayList<>();
        List<Runnable> completions = new ArrayList<>();
        while (running || !queue.isEmpty()) {
            try {
                Job<?> first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
            } catch (InterruptedException e) {
                continue;
            }
            for (Job<?> job : batch) {
                job.run(store, completions);
            }
            try {
                store.commit();
                completions.forEach(Runnable::run);
            } catch (StoreException | RuntimeException e) {
                log.error("store commit failed; {} request(s) answered 'unavailable': {}", completions.size(),
                        e.getMessage());
                try {
                    store.rollback();
                } catch (StoreException | RuntimeException e2) {
                    log.error("store rollback failed too: {}", e2.getMessage());
                }
                StoreException failure = e instanceof StoreException se ? se
                        : new StoreException("commit failed: " + e.getMessage(), e);
                for (Job<?> job : batch) {
                    job.future().completeExceptionally(failure);
                }
            }
            batch.clear();
            completions.clear();
        }
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
