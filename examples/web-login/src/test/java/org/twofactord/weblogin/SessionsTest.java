package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.twofactord.weblogin.Sessions.Session;
import org.twofactord.weblogin.Sessions.Stage;

/** Session ids, CSRF tokens, expiry, and a new id at each step of a login. */
class SessionsTest {
    final TestClock clock = new TestClock();
    final Sessions sessions = new Sessions(clock, new SecureRandom());

    @Test
    void idsAndTokensAre256RandomBitsAndNeverRepeat() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            Session s = sessions.create();
            assertTrue(s.id().matches("[A-Za-z0-9_-]{43}"), s.id());
            assertTrue(s.csrfToken().matches("[A-Za-z0-9_-]{43}"), s.csrfToken());
            assertTrue(seen.add(s.id()));
            assertTrue(seen.add(s.csrfToken()));
        }
    }

    @Test
    void theCsrfTokenMatchesOnlyItsOwnSession() {
        Session a = sessions.create();
        Session b = sessions.create();
        assertTrue(a.csrfMatches(a.csrfToken()));
        assertFalse(a.csrfMatches(b.csrfToken()));
        assertFalse(a.csrfMatches(null));
        assertFalse(a.csrfMatches(""));
        assertFalse(a.csrfMatches(a.csrfToken().substring(1)));
        assertFalse(a.csrfMatches(a.csrfToken() + "x"));
    }

    @Test
    void eachStepOfTheLoginGetsANewIdAndTokenAndTheOldIdStops() {
        Session anonymous = sessions.create();
        Session code = sessions.advance(anonymous, Stage.NEEDS_CODE, "alice");
        assertNotEquals(anonymous.id(), code.id());
        assertNotEquals(anonymous.csrfToken(), code.csrfToken());
        assertTrue(sessions.find(anonymous.id()).isEmpty(), "an id planted before login is worthless");
        assertFalse(code.csrfMatches(anonymous.csrfToken()));
        Session in = sessions.advance(code, Stage.SIGNED_IN, "alice");
        assertTrue(sessions.find(code.id()).isEmpty());
        assertEquals(Stage.SIGNED_IN, sessions.find(in.id()).orElseThrow().stage());
        assertEquals("alice", in.user());
        sessions.remove(in);
        assertTrue(sessions.find(in.id()).isEmpty(), "logged out");
    }

    @Test
    void anIdleSessionExpiresAndAnUsedOneLastsUpToItsLimit() {
        Session idle = sessions.create();
        Session used = sessions.advance(sessions.create(), Stage.SIGNED_IN, "bob");
        for (int i = 0; i < 8 * 60 / 10; i++) {
            clock.advance(Duration.ofMinutes(10));
            assertTrue(sessions.find(used.id()).isPresent(), "used every 10 minutes, at " + (i + 1) * 10);
        }
        assertTrue(sessions.find(idle.id()).isEmpty(), "idle for more than 15 minutes");
        clock.advance(Duration.ofMinutes(10));
        assertTrue(sessions.find(used.id()).isEmpty(), "8 hours at most");
        assertTrue(sessions.find(null).isEmpty());
        assertTrue(sessions.find("not-an-id").isEmpty());
    }

    @Test
    void theCodePageWaitsFiveMinutesAtMost() {
        Session code = sessions.advance(sessions.create(), Stage.NEEDS_CODE, "alice");
        clock.advance(Duration.ofMinutes(4));
        assertTrue(sessions.find(code.id()).isPresent());
        clock.advance(Duration.ofMinutes(1).plusSeconds(1));
        assertTrue(sessions.find(code.id()).isEmpty(), "a password alone does not open a session for long");
    }

    @Test
    void anonymousVisitorsCannotFillMemory() {
        Session in = sessions.advance(sessions.create(), Stage.SIGNED_IN, "alice");
        for (int i = 0; i < Sessions.MAX_SESSIONS + 500; i++) {
            sessions.create();
        }
        assertTrue(sessions.size() <= Sessions.MAX_SESSIONS, "size " + sessions.size());
        assertTrue(sessions.find(in.id()).isPresent(), "anonymous sessions go first");
    }

    @Test
    void aNoticeShowsOnce() {
        Session s = sessions.create();
        s.notice("done");
        assertEquals("done", s.takeNotice());
        assertEquals(null, s.takeNotice());
    }
}
