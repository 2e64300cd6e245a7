package org.twofactord.daemon.auth;

import java.util.Optional;

/** Turns peer credentials into a {@link Caller}, as protocol v1's "Who may do what" says. */
public final class Roles {
    private final UserDatabase users;
    private final String adminGroup;
    private final String verifierGroup;
    private final long rootUid;

    /**
     * @param rootUid the uid that counts as root: 0, or the daemon's own uid in dev mode
     */
    public Roles(UserDatabase users, String adminGroup, String verifierGroup, long rootUid) {
        this.users = users;
        this.adminGroup = adminGroup;
        this.verifierGroup = verifierGroup;
        this.rootUid = rootUid;
    }

    public Caller resolve(Peer peer) {
        boolean root = peer.uid() == 0 || peer.uid() == rootUid;
        if (root) {
            // Every role without a lookup; the name only if a request asks for it.
            return new Caller(peer, true, true, true,
                    () -> users.byUid(peer.uid()).map(UserDatabase.Account::name));
        }
        Optional<UserDatabase.Account> account = users.byUid(peer.uid());
        boolean admin = root || member(peer, account, adminGroup);
        boolean verifier = root || member(peer, account, verifierGroup);
        return new Caller(peer, root, admin, verifier, account.map(UserDatabase.Account::name));
    }

    /**
     * Membership as {@code id -G} sees it: the process's own gid, the account's primary group, or
     * a listing in the group's members.
     */
    private boolean member(Peer peer, Optional<UserDatabase.Account> account, String groupName) {
        Optional<UserDatabase.Group> group = users.group(groupName);
        if (group.isEmpty()) {
            return false;
        }
        long gid = group.get().gid();
        if (peer.gid() == gid) {
            return true;
        }
        return account.isPresent()
                && (account.get().gid() == gid || group.get().members().contains(account.get().name()));
    }
}
