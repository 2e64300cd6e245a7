package org.twofactord.daemon.policy;

import java.util.Locale;
import java.util.Optional;

/** The server-wide policy. The default on a new store is {@link #DISABLED}. */
public enum PolicyMode {
    /** Nobody is asked for a code. */
    DISABLED,
    /** Enrolled users are asked; others log in with a password alone. */
    OPTIONAL,
    /** Enrolled users are asked; users without 2FA are denied. */
    REQUIRED;

    /** The word on the wire and in the store. */
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<PolicyMode> fromWire(String word) {
        for (PolicyMode mode : values()) {
            if (mode.wireName().equals(word)) {
                return Optional.of(mode);
            }
        }
        return Optional.empty();
    }

    /** What CHECK and VERIFY say for a user, before any code is looked at. */
    public enum Decision {
        /** Ask for a code (the user is enrolled and the policy is on). */
        ASK,
        /** No second factor in force: policy disabled. */
        NONE_POLICY_DISABLED,
        /** No second factor in force: optional and not enrolled. */
        NONE_NOT_ENROLLED,
        /** Deny: required and not enrolled. */
        DENY_ENROLL_REQUIRED
    }

    public Decision decide(boolean enrolled) {
        if (this == DISABLED) {
            return Decision.NONE_POLICY_DISABLED;
        }
        if (enrolled) {
            return Decision.ASK;
        }
        return this == REQUIRED ? Decision.DENY_ENROLL_REQUIRED : Decision.NONE_NOT_ENROLLED;
    }
}
