package org.twofactord.daemon.auth;

import java.util.Optional;

/**
 * Who is asking, computed once per connection from the peer credentials.
 *
 * @param peer      what the kernel said
 * @param root      uid 0 (or, in dev mode, the daemon's own uid)
 * @param admin     root or a member of the admin group
 * @param verifier  root or a member of the verifier group
 * @param selfName  the account name of the peer's uid, if the user database has one
 */
public record Caller(Peer peer, boolean root, boolean admin, boolean verifier, Optional<String> selfName) {
    /** True when this caller may act on {@code user} as itself. */
    public boolean isSelf(String user) {
        return selfName.isPresent() && selfName.get().equals(user);
    }

    /** Neither root nor a verifier: such callers share a smaller connection limit per uid. */
    public boolean ordinary() {
        return !root && !verifier;
    }
}
