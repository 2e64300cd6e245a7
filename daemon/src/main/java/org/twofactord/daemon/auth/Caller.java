package org.twofactord.daemon.auth;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Who is asking, computed once per connection from the peer credentials. The account name is
 * looked up only when a request needs it: root's roles need no user database, and the PAM module
 * (which runs as root in sshd) opens a connection per question, so a lookup there would put an
 * NSS round trip (a {@code getent} process once the cache has expired) in front of every login.
 *
 * <p>A caller may also be an administrator's request made for a person ({@code as=}): then the
 * roles are the person's, narrowed to what the peer has ({@link Roles#actingAs}), and
 * {@link #person()} names the person.
 */
public final class Caller {
    private final Peer peer;
    private final boolean root;
    private final boolean admin;
    private final boolean verifier;
    private final Owners owners;
    private final String person;
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
        this(peer, root, admin, verifier, () -> selfName, Owners.NONE, null);
    }

    /** As above, with the account name looked up at its first use (once). */
    public Caller(Peer peer, boolean root, boolean admin, boolean verifier, Supplier<Optional<String>> selfName) {
        this(peer, root, admin, verifier, selfName, Owners.NONE, null);
    }

    /**
     * @param owners who owns which account
     * @param person the person an administrator's request is made for ({@code as=}), or null
     */
    Caller(Peer peer, boolean root, boolean admin, boolean verifier, Supplier<Optional<String>> selfName,
           Owners owners, String person) {
        this.peer = Objects.requireNonNull(peer);
        this.root = root;
        this.admin = admin;
        this.verifier = verifier;
        this.selfNameLookup = Objects.requireNonNull(selfName);
        this.owners = Objects.requireNonNull(owners);
        this.person = person;
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

    /** The person an administrator's request is made for ({@code as=}), if it is one. */
    public Optional<String> person() {
        return Optional.ofNullable(person);
    }

    /** The account name of the peer's uid (or the person's), if the user database has one. */
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

    /** True when the owners file says this caller owns {@code account} (never itself). */
    public boolean owns(String account) {
        Optional<String> name = selfName();
        return name.isPresent() && owners.owns(name.get(), account);
    }

    /** The accounts this caller owns, sorted; empty for most callers. */
    public List<String> ownedAccounts() {
        return selfName().map(owners::accountsOf).orElse(List.of());
    }

    /** Whether this caller owns at least one account. */
    public boolean owner() {
        return !ownedAccounts().isEmpty();
    }

    /** Neither root nor a verifier: such callers share a smaller connection limit per uid. */
    public boolean ordinary() {
        return !root && !verifier;
    }

    @Override
    public String toString() {
        return "Caller[uid=" + peer.uid() + ", root=" + root + ", admin=" + admin + ", verifier=" + verifier
                + (person == null ? "" : ", as=" + person) + "]";
    }
}
