package org.twofactord.daemon.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.protocol.UserNames;

/**
 * Which account owns which, from {@code owners_file}: cPanel's {@code /etc/trueuserowners}
 * format, one {@code account: owner} per line, {@code #} starting a comment. A reseller owns the
 * cPanel accounts it sold; an account holder may own its {@code user@domain} mail accounts.
 *
 * <p>The file is looked at again at most {@link #CHECK_INTERVAL_MS} after the last look, when a
 * request needs it, and read again when its identity, size, modification or change time moved
 * (a chmod moves the change time). Denial is the default: a file that is missing, unreadable,
 * not owned by root (or, in dev mode, the daemon's own uid) or writable by its group or others
 * means that nobody owns anything. A malformed line is named in the log and skipped; an account
 * listed with two different owners is skipped too, since neither can be trusted. {@code root}
 * is never owned by anyone, whatever the file says.
 */
public final class Owners {
    /** How long a look at the file is trusted. */
    public static final long CHECK_INTERVAL_MS = 1000;
    /** Lines named in the log per reading; the rest are counted. */
    private static final int LOGGED_LINES = 10;
    /** Nobody owns anything: no file configured. */
    public static final Owners NONE = new Owners(null, 0, System::nanoTime);

    private static final Logger log = LoggerFactory.getLogger(Owners.class);

    /** One reading of the file, and what identified it. */
    private record Reading(Object stamp, Map<String, String> ownerOf, Map<String, List<String>> accountsOf) {
        static final Reading EMPTY = new Reading(null, Map.of(), Map.of());
    }

    private final Path file;
    private final long trustedUid;
    private final LongSupplier nanos;
    private volatile Reading reading = Reading.EMPTY;
    private volatile long lookedAtNanos;
    private boolean looked; // guarded by this
    private String lastProblem; // guarded by this: logged once until it changes

    /**
     * @param file       the owners file, or null for none
     * @param trustedUid besides root, the uid that may own the file (the daemon's own in dev mode)
     */
    public Owners(Path file, long trustedUid) {
        this(file, trustedUid, System::nanoTime);
    }

    Owners(Path file, long trustedUid, LongSupplier nanos) {
        this.file = file;
        this.trustedUid = trustedUid;
        this.nanos = nanos;
    }

    /** The owner of {@code account}, if the file names one. */
    public Optional<String> ownerOf(String account) {
        return Optional.ofNullable(current().ownerOf().get(account));
    }

    /**
     * The accounts {@code owner} owns, sorted, never {@code owner} itself (cPanel lists a reseller
     * as its own owner; owning oneself gives nothing: changes to one's own account are a self
     * caller's, with its proof).
     */
    public List<String> accountsOf(String owner) {
        return current().accountsOf().getOrDefault(owner, List.of());
    }

    /** Whether {@code owner} owns {@code account}, another account than itself. */
    public boolean owns(String owner, String account) {
        return !owner.equals(account) && owner.equals(current().ownerOf().get(account));
    }

    private Reading current() {
        if (file == null) {
            return Reading.EMPTY;
        }
        long now = nanos.getAsLong();
        if (looked && now - lookedAtNanos < TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MS)) {
            return reading;
        }
        synchronized (this) {
            now = nanos.getAsLong();
            if (!looked || now - lookedAtNanos >= TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MS)) {
                reading = look(reading);
                lookedAtNanos = nanos.getAsLong();
                looked = true;
            }
            return reading;
        }
    }

    /** Looks at the file: the same reading if it has not changed, a new one if it has. */
    private Reading look(Reading last) {
        Map<String, Object> attributes;
        try {
            attributes = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime,uid,mode");
        } catch (NoSuchFileException e) {
            return refuse("does not exist");
        } catch (IOException | RuntimeException e) {
            return refuse("cannot be examined (" + e.getMessage() + ")");
        }
        int uid = (Integer) attributes.get("uid");
        int mode = (Integer) attributes.get("mode");
        if (uid != 0 && uid != trustedUid) {
            return refuse("is owned by uid " + uid + ", not root");
        }
        if ((mode & 0022) != 0) {
            return refuse("may be written by its group or others (mode " + Integer.toOctalString(mode & 07777) + ")");
        }
        List<Object> stamp = List.of(attributes.get("dev"), attributes.get("ino"), attributes.get("size"),
                attributes.get("lastModifiedTime").toString(), attributes.get("ctime").toString());
        if (stamp.equals(last.stamp())) {
            return last;
        }
        List<String> lines;
        try {
            // Bytes that are not UTF-8 become U+FFFD, which no name holds: such a line is skipped.
            lines = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
        } catch (IOException | RuntimeException e) {
            return refuse("cannot be read (" + e.getMessage() + ")");
        }
        Reading fresh = parse(lines, recent(attributes) ? null : stamp);
        synchronized (this) {
            lastProblem = null;
        }
        return fresh;
    }

    /**
     * A file changed within the last two seconds may change again within the same tick of the
     * file system's clock, unseen by the stamp: such a reading is not trusted to identify the file.
     */
    private static boolean recent(Map<String, Object> attributes) {
        long modified = ((java.nio.file.attribute.FileTime) attributes.get("lastModifiedTime")).toMillis();
        long changed = ((java.nio.file.attribute.FileTime) attributes.get("ctime")).toMillis();
        return System.currentTimeMillis() - Math.max(modified, changed) < 2000;
    }

    private Reading refuse(String why) {
        synchronized (this) {
            if (!why.equals(lastProblem)) {
                log.warn("owners_file {} {}: nobody owns any account until it is fixed", file, why);
                lastProblem = why;
            }
        }
        return Reading.EMPTY;
    }

    private Reading parse(List<String> lines, Object stamp) {
        Map<String, String> ownerOf = new HashMap<>();
        Set<String> conflicting = new HashSet<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String text = (hash < 0 ? line : line.substring(0, hash)).strip();
            if (text.isEmpty()) {
                continue;
            }
            int colon = text.indexOf(':');
            String account = colon < 0 ? "" : text.substring(0, colon).strip();
            String owner = colon < 0 ? "" : text.substring(colon + 1).strip();
            if (!UserNames.isValid(account) || !UserNames.isValid(owner)) {
                problems.add("line " + (i + 1) + ": not 'account: owner'");
            } else if (account.equals("root")) {
                problems.add("line " + (i + 1) + ": root is never owned by another account");
            } else if (ownerOf.containsKey(account) && !ownerOf.get(account).equals(owner)) {
                problems.add("line " + (i + 1) + ": " + account + " has a second owner; neither counts");
                conflicting.add(account);
            } else {
                ownerOf.put(account, owner);
            }
        }
        conflicting.forEach(ownerOf::remove);
        Map<String, TreeSet<String>> sorted = new TreeMap<>();
        ownerOf.forEach((account, owner) -> {
            if (!account.equals(owner)) {
                sorted.computeIfAbsent(owner, o -> new TreeSet<>()).add(account);
            }
        });
        Map<String, List<String>> accountsOf = new HashMap<>();
        sorted.forEach((owner, accounts) -> accountsOf.put(owner, List.copyOf(accounts)));
        for (int i = 0; i < Math.min(problems.size(), LOGGED_LINES); i++) {
            log.warn("owners_file {} {}; skipped", file, problems.get(i));
        }
        if (problems.size() > LOGGED_LINES) {
            log.warn("owners_file {}: {} more lines skipped", file, problems.size() - LOGGED_LINES);
        }
        log.info("owners_file {}: {} accounts with an owner, {} owners", file, ownerOf.size(), accountsOf.size());
        return new Reading(stamp, Collections.unmodifiableMap(ownerOf), Collections.unmodifiableMap(accountsOf));
    }
}
