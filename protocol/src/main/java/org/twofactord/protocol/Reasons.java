package org.twofactord.protocol;

/** The reason words that follow {@code NO} in a reply. */
public final class Reasons {
    /** Wrong code, or a code of the wrong shape. */
    public static final String INVALID = "invalid";
    /** A right code for a time step already used. */
    public static final String REPLAYED = "replayed";
    /** Too many failures; see {@code retry_after}. */
    public static final String LOCKED = "locked";
    /** Policy {@code required}, or the account marked required, and the user has no second factor. */
    public static final String ENROLL_REQUIRED = "enroll-required";
    /** A self caller changing an enrolled account must prove it with {@code code=}. */
    public static final String CODE_REQUIRED = "code-required";
    /** CONFIRM without a pending enrolment. */
    public static final String NO_PENDING = "no-pending";
    /** Protocol 1.1: a self ENROLL while the policy is disabled (WHM: the policy comes first). */
    public static final String POLICY_DISABLED = "policy-disabled";
    /** BACKUP for a user without a second factor. */
    public static final String NOT_ENROLLED = "not-enrolled";

    private Reasons() {
    }
}
