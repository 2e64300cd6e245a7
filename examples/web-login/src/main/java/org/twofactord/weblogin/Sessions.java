package org.twofactord.weblogin;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.nio.charset.StandardCharsets;
import org.twofactord.protocol.TwoFactorClient;

/**
 * Server-side sessions keyed by a 256-bit random id from {@link SecureRandom}; the cookie holds
 * nothing else. Each session has its own CSRF token. A session gets a new id (and token) whenever
 * it gains rights (password accepted, code accepted), so an id planted before login is worthless.
 */
final class Sessions {
    static final String COOKIE = "twofactord_web";
    /** A session unused this long is gone. */
    static final Duration IDLE = Duration.ofMinutes(15);
    /** And none lives longer than this. */
    static final Duration ABSOLUTE = Duration.ofHours(8);
    /** Between the password and the code. */
    static final Duration SECOND_STEP = Duration.ofMinutes(5);
    /** Between the password and a finished enrolment, when the policy requires one. */
    static final Duration ENROLLMENT_STEP = Duration.ofMinutes(15);
    /** Beyond this many live sessions the oldest are dropped: anonymous visitors cannot fill memory. */
    static final int MAX_SESSIONS = 10_000;
    private static final int ID_BYTES = 32;

    /** How far a session has come. */
    enum Stage {
        /** Nobody has logged in: only the login page. */
        ANONYMOUS,
        /** The password was right and CHECK asked for a code: only the code pages. */
        NEEDS_CODE,
        /** The password was right, the policy is "required" and the user has no 2FA: only enrolment. */
        NEEDS_ENROLLMENT,
        /** Both factors done (or the second one was not required). */
        SIGNED_IN
    }

    /** One visitor. Fields other than the id and token change under the session's lock. */
    static final class Session {
        private final String id;
        private final String csrfToken;
        private final Instant created;
        private volatile Instant lastSeen;
        private Stage stage = Stage.ANONYMOUS;
        private String user;
        private Instant stageDeadline;
        /** The enrolment being set up on the "Manage My Account" page; holds a secret, never printed. */
        private TwoFactorClient.Enrollment pending;
        private Instant pendingUntil;
        /** A message for the next page shown (after a redirect), shown once. */
        private String notice;
        /** Whether the daemon shows this user owning accounts (a reseller); null until asked. */
        private Boolean owner;

        private Session(String id, String csrfToken, Instant created) {
            this.id = id;
            this.csrfToken = csrfToken;
            this.created = created;
            this.lastSeen = created;
        }

        String id() {
            return id;
        }

        String csrfToken() {
            return csrfToken;
        }

        synchronized Stage stage() {
            return stage;
        }

        synchronized String user() {
            return user;
        }

        /** The enrolment being set up, unless there is none or the daemon has dropped it by {@code now}. */
        synchronized TwoFactorClient.Enrollment pending(Instant now) {
            if (pending != null && now.isAfter(pendingUntil)) {
                pending = null;
            }
            return pending;
        }

        /** Keeps the enrolment being set up (null: none), until the daemon drops it. */
        synchronized void pending(TwoFactorClient.Enrollment enrollment, Instant until) {
            this.pending = enrollment;
            this.pendingUntil = until;
        }

        synchronized Boolean owner() {
            return owner;
        }

        synchronized void owner(boolean owns) {
            this.owner = owns;
        }

        synchronized void notice(String text) {
            this.notice = text;
        }

        /** The message for this page, if any; it will not show again. */
        synchronized String takeNotice() {
            String text = notice;
            notice = null;
            return text;
        }

        /** True if {@code token} is this session's CSRF token (compared in constant time). */
        boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(
                    token.getBytes(StandardCharsets.UTF_8), csrfToken.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String toString() {
            return "Session[" + stage + ", user=" + user + "]";
        }
    }

    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final Clock clock;
    private final SecureRandom random;
    private volatile Instant lastPurge = Instant.MIN;

    Sessions(Clock clock, SecureRandom random) {
        this.clock = clock;
        this.random = random;
    }

    /** A new anonymous session. */
    Session create() {
        purge();
        Session s = new Session(newToken(), newToken(), clock.instant());
        sessions.put(s.id, s);
        return s;
    }

    /** The live session with this id, marked as used now; empty if unknown or expired. */
    Optional<Session> find(String id) {
        if (id == null) {
            return Optional.empty();
        }
        Session s = sessions.get(id);
        if (s == null) {
            return Optional.empty();
        }
        Instant now = clock.instant();
        if (expired(s, now)) {
            sessions.remove(id);
            return Optional.empty();
        }
        s.lastSeen = now;
        return Optional.of(s);
    }

    /**
     * Moves {@code old} to a new id and token at {@code stage} for {@code user}: the old id stops
     * working. Used at each step of the login.
     */
    Session advance(Session old, Stage stage, String user) {
        sessions.remove(old.id);
        Session s = new Session(newToken(), newToken(), clock.instant());
        synchronized (s) {
            s.stage = stage;
            s.user = user;
            s.stageDeadline = switch (stage) {
                case NEEDS_CODE -> s.created.plus(SECOND_STEP);
                case NEEDS_ENROLLMENT -> s.created.plus(ENROLLMENT_STEP);
                default -> null;
            };
        }
        sessions.put(s.id, s);
        return s;
    }

    /** Logs out. */
    void remove(Session s) {
        sessions.remove(s.id);
    }

    int size() {
        return sessions.size();
    }

    private boolean expired(Session s, Instant now) {
        if (now.isAfter(s.lastSeen.plus(IDLE)) || now.isAfter(s.created.plus(ABSOLUTE))) {
            return true;
        }
        synchronized (s) {
            return s.stageDeadline != null && now.isAfter(s.stageDeadline);
        }
    }

    /** Drops expired sessions once a second, and the oldest when there are too many. */
    private void purge() {
        Instant now = clock.instant();
        if (now.isAfter(lastPurge.plusSeconds(1)) || sessions.size() >= MAX_SESSIONS) {
            lastPurge = now;
            sessions.values().removeIf(s -> expired(s, now));
        }
        if (sessions.size() >= MAX_SESSIONS) {
            // A flood of visitors: drop every anonymous session (their login forms expire), then,
            // if that is not enough, the least recently used of the rest.
            sessions.values().removeIf(s -> s.stage() == Stage.ANONYMOUS);
            while (sessions.size() >= MAX_SESSIONS) {
                sessions.values().stream().min((a, b) -> a.lastSeen.compareTo(b.lastSeen))
                        .ifPresent(oldest -> sessions.remove(oldest.id));
            }
        }
    }

    private String newToken() {
        byte[] bytes = new byte[ID_BYTES];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
