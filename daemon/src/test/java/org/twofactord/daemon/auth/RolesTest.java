package org.twofactord.daemon.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Roles from peer credentials, and how many user-database lookups they cost. */
class RolesTest {
    /** A user database that records every lookup. */
    private static final class Counting implements UserDatabase {
        final List<String> lookups = new ArrayList<>();

        @Override
        public Optional<Account> byUid(long uid) {
            lookups.add("uid " + uid);
            return uid == 0 ? Optional.of(new Account("root", 0, 0))
                    : Optional.of(new Account("alice", uid, 1000));
        }

        @Override
        public Optional<Account> byName(String name) {
            lookups.add("name " + name);
            return name.equals("root") ? Optional.of(new Account("root", 0, 0))
                    : name.equals("alice") ? Optional.of(new Account("alice", 1000, 1000)) : Optional.empty();
        }

        @Override
        public Optional<Group> group(String name) {
            lookups.add("group " + name);
            return Optional.of(new Group(name, name.equals("twofactord") ? 990 : 991, Set.of()));
        }
    }

    @Test
    void rootHasEveryRoleWithoutALookupAndItsNameIsLookedUpOnceWhenAsked() {
        Counting db = new Counting();
        Caller root = new Roles(db, "twofactord-admin", "twofactord", 0).resolve(new Peer(0, 0, 42));
        assertTrue(root.root() && root.admin() && root.verifier());
        assertEquals(List.of(), db.lookups, "the PAM module's connections must not wait for NSS");
        assertTrue(root.isSelf("root"));
        assertFalse(root.isSelf("alice"));
        assertEquals(Optional.of("root"), root.selfName());
        assertEquals(List.of("uid 0"), db.lookups);
    }

    @Test
    void anOrdinaryUidIsLookedUpAtOnce() {
        Counting db = new Counting();
        Caller alice = new Roles(db, "twofactord-admin", "twofactord", 0).resolve(new Peer(1000, 1000, 43));
        assertFalse(alice.root() || alice.admin() || alice.verifier());
        assertTrue(alice.ordinary());
        assertTrue(alice.isSelf("alice"));
        assertTrue(db.lookups.contains("uid 1000"));
    }
}
