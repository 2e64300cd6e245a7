package org.twofactord.daemon.auth;

import java.util.Optional;
import java.util.Set;

/** The system's user and group database (NSS), as far as roles need it. */
public interface UserDatabase {
    /** An account: its name and primary group. */
    record Account(String name, long uid, long gid) {
    }

    /** A group: its id and the names listed as its members. */
    record Group(String name, long gid, Set<String> members) {
    }

    Optional<Account> byUid(long uid);

    /** The account named {@code name} (never one whose uid happens to be that number). */
    Optional<Account> byName(String name);

    Optional<Group> group(String name);

    /**
     * The accounts with these names, each as {@link #byName} finds it (absent ones left out);
     * a database that can look many up at once (one {@code getent} for a USERS listing) says so.
     */
    default java.util.Map<String, Account> byNames(java.util.Collection<String> names) {
        java.util.Map<String, Account> found = new java.util.HashMap<>();
        for (String name : names) {
            byName(name).ifPresent(a -> found.put(name, a));
        }
        return found;
    }
}
