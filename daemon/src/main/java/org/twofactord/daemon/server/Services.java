package org.twofactord.daemon.server;

import org.twofactord.daemon.store.StoreUnavailable;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.twofactord.daemon.auth.Roles;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.policy.Lockout;
import org.twofactord.daemon.policy.PolicyMode;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.Writer;
import org.twofactord.daemon.totp.TotpEngine;

/** What every handler needs, made once at start-up. */
final class Services {
    /** How long a handler waits for the writer before answering {@code unavailable}. */
    private static final long WRITE_TIMEOUT_S = 10;

    final Config config;
    final Store store;
    final Writer writer;
    final MasterKey key;
    final TotpEngine totp;
    final Lockout lockout;
    final Clock clock;
    final SecureRandom random;
    final Stats stats = new Stats();
    final String defaultIssuer;
    final String version;
    /** Roles, owners and group membership (for {@code as=} and {@code require_group}). */
    final Roles roles;

    Services(Config config, Store store, Writer writer, MasterKey key, Clock clock, SecureRandom random,
             String defaultIssuer, String version, Roles roles) {
        this.config = config;
        this.store = store;
        this.writer = writer;
        this.key = key;
        this.totp = new TotpEngine(config.digits(), clock);
        this.lockout = new Lockout(config.maxFailures(), config.lockoutS());
        this.clock = clock;
        this.random = random;
        this.defaultIssuer = defaultIssuer;
        this.version = version;
        this.roles = roles;
    }

    long nowS() {
        return clock.instant().getEpochSecond();
    }

    PolicyMode policy() {
        return store.meta(Store.META_POLICY).flatMap(PolicyMode::fromWire).orElse(PolicyMode.DISABLED);
    }

    /**
     * Whether {@code name} must enrol before it may log in although the policy is only optional:
     * marked with REQUIRE, or a member of {@code require_group}.
     */
    boolean required(String name) {
        return requiredBy(name) != null;
    }

    /** "account" (marked), "group" (require_group), or null. */
    String requiredBy(String name) {
        if (store.required(name)) {
            return "account";
        }
        if (config.requireGroup().isPresent() && roles.inGroup(name, config.requireGroup().get())) {
            return "group";
        }
        return null;
    }

    /**
     * {@link #requiredBy} for many names at once (USERS): one read of the marks and one
     * user-database look-up for {@code require_group}, not one of each per account.
     */
    java.util.Map<String, String> requiredBy(java.util.Collection<String> names) {
        java.util.Set<String> marked = new java.util.HashSet<>(store.requiredNames());
        java.util.Set<String> grouped = config.requireGroup().isPresent()
                ? roles.inGroup(names, config.requireGroup().get()) : java.util.Set.of();
        java.util.Map<String, String> by = new java.util.HashMap<>();
        for (String name : names) {
            if (marked.contains(name)) {
                by.put(name, "account");
            } else if (grouped.contains(name)) {
                by.put(name, "group");
            }
        }
        return by;
    }

    String issuer() {
        return store.meta(Store.META_ISSUER).orElse(defaultIssuer);
    }

    /** Hands a change to the writer and waits for its commit. */
    <T> T write(Writer.Change<T> change) throws StoreException {
        return await(writer.submit(change));
    }

    /**
     * As {@link #write(Writer.Change)}, for a change that reads and writes only {@code user}'s
     * record: the store may read it ahead with the rest of the writer's batch.
     */
    <T> T write(String user, Writer.Change<T> change) throws StoreException {
        return await(writer.submit(user, change));
    }

    /**
     * Hands a change that writes only {@code user}'s record to the writer and waits until that
     * record is durable (see {@link Writer#submitSynced}).
     */
    <T> T writeSynced(String user, Writer.Change<T> change) throws StoreException {
        return await(writer.submitSynced(user, change));
    }

    /**
     * Hands a change that reads and writes only {@code user}'s record to the writer and waits
     * only until it is applied; it is committed within {@link Writer#LAZY_COMMIT_MS}. For failure counts, whose NO may go out before they are durable.
     */
    <T> T writeLazy(String user, Writer.Change<T> change) throws StoreException {
        return await(writer.submitLazy(user, change));
    }

    private <T> T await(CompletableFuture<T> future) throws StoreException {
        if (!future.isDone()) {
            Admission.stepAside();
        }
        try {
            return future.get(WRITE_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StoreException se) {
                throw se;
            }
            if (e.getCause() instanceof org.twofactord.daemon.store.StoreUnavailable su) {
                throw su.getCause();
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new StoreException("the store did not answer within " + WRITE_TIMEOUT_S + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting for the store");
        }
    }
}
