package org.twofactord.daemon.cli;

import org.twofactord.protocol.Reasons;

/** What each reason word means to a person. */
final class Messages {
    private Messages() {
    }

    static String reason(String word) {
        return switch (word) {
            case Reasons.INVALID -> "the security code is invalid";
            case Reasons.REPLAYED -> "that code was already used; wait for the next one";
            case Reasons.LOCKED -> "too many wrong codes; the account is locked for now";
            case Reasons.ENROLL_REQUIRED -> "two-factor authentication is required and this account has none";
            case Reasons.CODE_REQUIRED -> "this account has two-factor authentication: a current code is needed";
            case Reasons.NO_PENDING -> "there is no enrolment waiting for a code (it may have expired after 10 minutes)";
            case Reasons.NOT_ENROLLED -> "this account has no two-factor authentication";
            case Reasons.POLICY_DISABLED -> "the policy is disabled: an administrator must enable it "
                    + "(twofactord policy enable) before accounts set up two-factor authentication";
            default -> word;
        };
    }
}
