package org.twofactord.daemon.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The user database through {@code getent}, so that every NSS source (files, LDAP, sssd) counts,
 * as it does for {@code id -G}. The JDK has no API for another uid's groups. Answers are cached
 * for {@link #TTL}, so a burst of connections costs one lookup per uid; uid 0 needs none.
 */
public final class NssUserDatabase implements UserDatabase {
    /** How long an answer (or the absence of one) is kept. */
    public static final Duration TTL = Duration.ofSeconds(10);
    private static final Logger log = LoggerFactory.getLogger(NssUserDatabase.class);
    private static final long LOOKUP_TIMEOUT_MS = 2000;

    private record Cached<T>(Optional<T> value, long expiresAtNanos) {
    }

    private final ConcurrentHashMap<Long, Cached<Account>> accounts = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Cached<Group>> groups = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Cached<Account>> names = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;

    public NssUserDatabase() {
        this(System::nanoTime);
    }

    NssUserDatabase(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    @Override
    public Optional<Account> byUid(long uid) {
        return cached(accounts, uid, () -> getent("passwd", Long.toString(uid)).flatMap(NssUserDatabase::parseAccount));
    }

    @Override
    public Optional<Account> byName(String name) {
        // getent takes a number for a uid: "1000" must not find uid 1000's account.
        return cached(names, name, () -> getent("passwd", name).flatMap(NssUserDatabase::parseAccount)
                .filter(a -> a.name().equals(name)));
    }

    /**
     * One {@code getent passwd NAME NAME ...} for the names not cached, at most
     * {@link #NAMES_PER_LOOKUP} to a process (a USERS of 10,000 accounts under
     * {@code require_group}: 20 processes, not 10,000).
     */
    @Override
    public java.util.Map<String, Account> byNames(java.util.Collection<String> wanted) {
        java.util.Map<String, Account> found = new java.util.HashMap<>();
        java.util.List<String> missing = new java.util.ArrayList<>();
        long now = nanoTime.getAsLong();
        for (String name : wanted) {
            Cached<Account> hit = names.get(name);
            if (hit != null && hit.expiresAtNanos() - now > 0) {
                hit.value().ifPresent(a -> found.put(name, a));
            } else {
                missing.add(name);
            }
        }
        for (int from = 0; from < missing.size(); from += NAMES_PER_LOOKUP) {
            java.util.List<String> chunk = missing.subList(from, Math.min(missing.size(), from + NAMES_PER_LOOKUP));
            java.util.Map<String, Account> seen = new java.util.HashMap<>();
            for (String line : getentAll("passwd", chunk)) {
                // A key that is a number finds that uid's account, under another name: not it.
                parseAccount(line).ifPresent(a -> seen.put(a.name(), a));
            }
            if (names.size() > 10_000) {
                names.clear();
            }
            long expires = nanoTime.getAsLong() + TTL.toNanos();
            for (String name : chunk) {
                Optional<Account> account = Optional.ofNullable(seen.get(name));
                names.put(name, new Cached<>(account, expires));
                account.ifPresent(a -> found.put(name, a));
            }
        }
        return found;
    }

    /** How many names one {@code getent} is given. */
    static final int NAMES_PER_LOOKUP = 500;
    /** getent processes started, for the test that counts them. */
    static final java.util.concurrent.atomic.AtomicLong PROCESSES = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public Optional<Group> group(String name) {
        return cached(groups, name, () -> getent("group", name).flatMap(NssUserDatabase::parseGroup));
    }

    private <K, T> Optional<T> cached(ConcurrentHashMap<K, Cached<T>> cache, K key,
                                      java.util.function.Supplier<Optional<T>> lookup) {
        long now = nanoTime.getAsLong();
        Cached<T> hit = cache.get(key);
        if (hit != null && hit.expiresAtNanos() - now > 0) {
            return hit.value();
        }
        Optional<T> value = lookup.get();
        if (cache.size() > 10_000) {
            cache.clear(); // bounded: a flood of distinct uids cannot grow it without end
        }
        cache.put(key, new Cached<>(value, now + TTL.toNanos()));
        return value;
    }

    static Optional<Account> parseAccount(String line) {
        String[] f = line.split(":", -1);
        if (f.length < 4) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Account(f[0], Long.parseLong(f[2]), Long.parseLong(f[3])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    static Optional<Group> parseGroup(String line) {
        String[] f = line.split(":", -1);
        if (f.length < 4) {
            return Optional.empty();
        }
        try {
            Set<String> members = f[3].isEmpty() ? Set.of() : Set.copyOf(Arrays.asList(f[3].split(",")));
            return Optional.of(new Group(f[0], Long.parseLong(f[2]), members));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Runs {@code getent DB KEY}; empty when there is no such entry or the lookup fails. */
    private static Optional<String> getent(String db, String key) {
        List<String> lines = getentAll(db, List.of(key));
        return lines.isEmpty() ? Optional.empty() : Optional.of(lines.get(0));
    }

    /**
     * Runs {@code getent DB KEY...}: the lines of the entries found (exit status 2 says that some
     * key was not); none when the lookup fails.
     */
    private static List<String> getentAll(String db, List<String> keys) {
        List<String> command = new java.util.ArrayList<>(List.of("getent", db));
        command.addAll(keys);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(false);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        try {
            Process p = pb.start();
            PROCESSES.incrementAndGet();
            byte[] out = p.getInputStream().readNBytes(64 * 1024 * keys.size());
            if (!p.waitFor(LOOKUP_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                log.warn("getent {} timed out; treating the entries as missing", db);
                return List.of();
            }
            if (p.exitValue() != 0 && (p.exitValue() != 2 || keys.size() == 1)) {
                return List.of();
            }
            String text = new String(out, StandardCharsets.UTF_8);
            return text.lines().filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            log.warn("getent {} failed: {}", db, e.getMessage());
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }
}
