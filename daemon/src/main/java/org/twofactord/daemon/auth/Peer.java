package org.twofactord.daemon.auth;

/** The process at the other end of a connection, as the kernel reports it (SO_PEERCRED). */
public record Peer(long uid, long gid, long pid) {
}
