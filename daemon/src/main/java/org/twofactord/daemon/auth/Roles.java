package org.twofactord.daemon.auth;

import java.util.Optional;

/** Turns peer credentials into a {@link Caller}, as protocol v1's "Who may do what" says. */
public final class Roles {
    private final UserDatabase users;
    private final String adminGroup;
    private final String verifierGroup;
    private final long rootUid;
    private final Owners owners;

    /**
     * @param rootUid the uid that counts as root: 0, or the daemon's own uid in dev mode
     */
    public Roles(UserDatabase users, String adminGroup, String verifierGroup, long rootUid) {
        this(users, adminGroup, verifierGroup, rootUid, Owners.NONE);
    }

    /** As above, with who owns which account. */
    public Roles(UserDatabase users, String adminGroup, String verifierGroup, long rootUid, Owners owners) {
        this.users = users;
        this.adminGroup = adminGroup;
        this.verifierGroup = verifierGroup;
        this.rootUid = rootUid;
        this.owners = owners;
    }

    public Owners owners() {
        return owners;
    }

    public Caller resolve(Peer peer) {
        boolean root = peer.uid() == 0 || peer.uid() == rootUid;
        if (root) {
            // Every role without a lookup; the name only if a request asks for it.
            return new Caller(peer, true, true, true,
                    () -> users.byUid(peer.uid()).map(UserDatabase.Account::name), owners, null);
        }
        Optional<UserDatabase.Account> account = users.byUid(peer.uid());
        boolean admin = member(peer.gid(), account, adminGroup);
        boolean verifier = member(peer.gid(), account, verifierGroup);
        return new Caller(peer, false, admin, verifier, () -> account.map(UserDatabase.Account::name), owners, null);
    }

    /**
     * An administrator's request made for {@code person} ({@code as=}): decided exactly as if the
     * person had called, with the roles its account has, but never more than the peer has itself.
     * A person without an account on this system (a mail account, say) acts on its own name and
     * on the accounts it owns, and has no other role.
     */
    public Caller actingAs(Caller peer, String person) {
        Optional<UserDatabase.Account> account = users.byName(person);
        boolean root = account.isPresent() && (account.get().uid() == 0 || account.get().uid() == rootUid);
        boolean admin = root || member(-1, account, adminGroup);
        boolean verifier = root || member(-1, account, verifierGroup);
        return new Caller(peer.peer(), peer.root() && root, peer.admin() && admin, peer.verifier() && verifier,
                () -> Optional.of(person), owners, person);
    }

    /** Whether the account {@code name} is a member of {@code group} (its primary group, or listed). */
    public boolean inGroup(String name, String group) {
        Optional<UserDatabase.Account> account = users.byName(name);
        return account.isPresent() && member(-1, account, group);
    }

    /** Which of the accounts {@code names} are members of {@code group}: as {@link #inGroup}, in one look-up. */
    public java.util.Set<String> inGroup(java.util.Collection<String> names, String group) {
        java.util.Set<String> in = new java.util.HashSet<>();
        if (users.group(group).isEmpty()) {
            return in;
        }
        users.byNames(names).forEach((name, account) -> {
            if (member(-1, Optional.of(account), group)) {
                in.add(name);
            }
        });
        return in;
    }

    /**
     * Membership as {@code id -G} sees it: the process's own gid (-1 for none), the account's
     * primary group, or a listing in the group's members.
     */
    private boolean member(long peerGid, Optional<UserDatabase.Account> account, String groupName) {
        Optional<UserDatabase.Group> group = users.group(groupName);
        if (group.isEmpty()) {
            return false;
        }
        long gid = group.get().gid();
        if (peerGid == gid) {
            return true;
        }
        return account.isPresent()
                && (account.get().gid() == gid || group.get().members().contains(account.get().name()));
    }
}
