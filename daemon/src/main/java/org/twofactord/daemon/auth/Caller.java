package org.twofactord.daemon.auth;

import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Who is asking, computed once per connection from the peer credentials. The account name is
 * looked up only when a request needs it: root's roles need no user database, and the PAM module
 * (which runs as root in sshd) opens a connection per question, so a lookup there would put an
 * NSS round trip (a {@code getent} process once the cache has expired) in front of every login.
 */
public final class Caller {
    private final Peer peer;
    private final boolean root;
    private final boolean admin;
    private final boolean verifier;
    private Supplier<Optional<String>> selfNameLookup; // null once looked up
    private Optional<String> selfName;

    /**
     * @param peer      what the kernel said
     * @param root      uid 0 (or, in dev mode, the daemon's own uid)
     * @param admin     root or a member of the admin group
     * @param verifier  root or a member of the verifier group
     * @param selfName  the account name of the peer's uid, if the user database has one
     */
    public Caller(Peer peer, boolean root, boolean admin, boolean verifier, Optional<String> selfName) {
        this(peer, root, admin, verifier, () -> selfName);
    }

    /** As above, with the account name looked up at its first use (once). */
    public Caller(Peer peer, boolean root, boolean admin, boolean verifier, Supplier<Optional<String>> selfName) {
        this.peer = Objects.requireNonNull(peer);
        this.root = root;
        this.admin = admin;
        this.verifier = verifier;
        this.selfNameLookup = Objects.requireNonNull(selfName);
    }

    public Peer peer() {
        return peer;
    }

    public boolean root() {
        return root;
    }

    public boolean admin() {
        return admin;
    }

    public boolean verifier() {
        return verifier;
    }

    /** The account name of the peer's uid, if the user database has one. */
    public synchronized Optional<String> selfName() {
        if (selfNameLookup != null) {
            selfName = selfNameLookup.get();
            selfNameLookup = null;
        }
        return selfName;
    }

    /** True when this caller may act on {@code user} as itself. */
    public boolean isSelf(String user) {
        Optional<String> name = selfName();
        return name.isPresent() && name.get().equals(user);
    }

    /** Neither root nor a verifier: such callers share a smaller connection limit per uid. */
    public boolean ordinary() {
        return !root && !verifier;
    }

    @Override
    public String toString() {
        return "Caller[uid=" + peer.uid() + ", root=" + root + ", admin=" + admin + ", verifier=" + verifier + "]";
    }
}
