package org.twofactord.daemon.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Many accounts looked up at once (USERS under {@code require_group}) through the real
 * {@code getent}: the same answers as one at a time, a few processes for a thousand names, and
 * the answers cached.
 */
class NssUserDatabaseTest {
    @Test
    void manyNamesAreLookedUpInAFewProcessesWithTheAnswersOfOneAtATime() {
        NssUserDatabase db = new NssUserDatabase();
        List<String> names = new ArrayList<>(List.of("root", "nobody", "0"));
        for (int i = 0; i < 1200; i++) {
            names.add("tfd-no-such-account-" + i);
        }
        long before = NssUserDatabase.PROCESSES.get();
        Map<String, UserDatabase.Account> found = db.byNames(names);
        long processes = NssUserDatabase.PROCESSES.get() - before;
        assertEquals(3, processes, "1,203 names, " + NssUserDatabase.NAMES_PER_LOOKUP + " to a getent");
        assertEquals(0, found.get("root").uid());
        assertEquals(new NssUserDatabase().byName("nobody").orElseThrow(), found.get("nobody"));
        assertFalse(found.containsKey("0"), "a number is a name here, not uid 0");
        assertFalse(found.containsKey("tfd-no-such-account-7"));
        assertEquals(2, found.size());

        before = NssUserDatabase.PROCESSES.get();
        assertEquals(found, db.byNames(names), "cached");
        assertTrue(db.byName("root").isPresent());
        assertEquals(0, NssUserDatabase.PROCESSES.get() - before, "no process while the answers are fresh");
    }
}
