package org.twofactord.protocol;

import java.util.Set;

/** The command words of protocol version 1, in their canonical upper-case form. */
public final class Commands {
    public static final String HELLO = "HELLO";
    public static final String PING = "PING";
    public static final String QUIT = "QUIT";
    public static final String CHECK = "CHECK";
    public static final String VERIFY = "VERIFY";
    public static final String ENROLL = "ENROLL";
    public static final String CONFIRM = "CONFIRM";
    public static final String REMOVE = "REMOVE";
    public static final String USER = "USER";
    public static final String USERS = "USERS";
    public static final String BACKUP = "BACKUP";
    public static final String UNLOCK = "UNLOCK";
    public static final String POLICY = "POLICY";
    public static final String ISSUER = "ISSUER";
    public static final String STATS = "STATS";
    /** An extension to the v1 contract: bring over a secret from another TOTP system (admin). */
    public static final String IMPORT = "IMPORT";
    /** An extension to the v1 contract: a consistent copy of the store while the daemon runs (uid 0). */
    public static final String SNAPSHOT = "SNAPSHOT";
    /**
     * Protocol 1.1: marks an account required (must enrol before it may log in), or clears the
     * mark (admin). The same word is POLICY's sub-word.
     */
    public static final String REQUIRE = "REQUIRE";

    /** Sub-words of POLICY and ISSUER. */
    public static final String ENABLE = "ENABLE";
    public static final String DISABLE = "DISABLE";
    public static final String SET = "SET";
    public static final String RESET = "RESET";

    /** Named arguments. */
    public static final String ARG_CODE = "code=";
    public static final String ARG_SERVICE = "service=";
    public static final String ARG_RHOST = "rhost=";
    public static final String ARG_DIGITS = "digits=";
    /** Protocol 1.1: an administrator's request made for a person, decided as if the person had called. */
    public static final String ARG_AS = "as=";
    /** Protocol 1.1: {@code REMOVE * except=<user>} spares that account. */
    public static final String ARG_EXCEPT = "except=";
    /** Protocol 1.1: {@code USERS owner=<name>} lists the accounts that name owns. */
    public static final String ARG_OWNER = "owner=";
    /** The words of {@code REQUIRE <user> [on|off]}. */
    public static final String ON = "ON";
    public static final String OFF = "OFF";

    /** The protocol version this library speaks. */
    public static final int PROTOCOL_VERSION = 1;

    public static final Set<String> ALL = Set.of(HELLO, PING, QUIT, CHECK, VERIFY, ENROLL, CONFIRM,
            REMOVE, USER, USERS, BACKUP, UNLOCK, POLICY, ISSUER, STATS, IMPORT, SNAPSHOT, REQUIRE);

    private Commands() {
    }
}
