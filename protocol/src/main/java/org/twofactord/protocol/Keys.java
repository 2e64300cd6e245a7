package org.twofactord.protocol;

/**
 * The member names of the JSON objects in replies: one constant each, used by the daemon that
 * writes them and by {@link TwoFactorClient} that reads them (and checked against the PAM
 * module's header by client-shim/tests/check-proto.sh). {@code KeysTest} fails when a reply is
 * built or read with a literal name instead.
 */
public final class Keys {
    /** HELLO: the protocol version. */
    public static final String PROTOCOL = "protocol";
    /** HELLO: the daemon's name and version. */
    public static final String SERVER = "server";
    /** POLICY: disabled, optional or required. */
    public static final String MODE = "mode";
    /** POLICY: whether the mode is not disabled. */
    public static final String ENABLED = "enabled";
    /** ISSUER, ENROLL: the issuer name. */
    public static final String ISSUER = "issuer";
    /** ISSUER: whether it is the default. */
    public static final String DEFAULT = "default";
    /** SNAPSHOT: the copy's directory. */
    public static final String PATH = "path";
    /** STATS. */
    public static final String UPTIME_S = "uptime_s";
    /** STATS: the user count; USERS: the list. */
    public static final String USERS = "users";
    /** STATS. */
    public static final String VERIFY_OK = "verify_ok";
    /** STATS. */
    public static final String VERIFY_NO = "verify_no";
    /** STATS. */
    public static final String REPLAYS = "replays";
    /** STATS. */
    public static final String LOCKOUTS = "lockouts";
    /** STATS. */
    public static final String CONNECTIONS = "connections";
    /** STATS, NO invalid of CONFIRM: the last clock skew seen. */
    public static final String CLOCK_SKEW_S = "clock_skew_s";
    /** STATS: the store's own figures. */
    public static final String STORE = "store";
    /** STATS store: checkpoints written. */
    public static final String CHECKPOINTS = "checkpoints";
    /** STATS store: why the last checkpoint failed, or null. */
    public static final String CHECKPOINT_FAILURE = "checkpoint_failure";
    /** STATS store (PostgreSQL): none, asynchronous, synchronous or waiting; null when unreachable. */
    public static final String REPLICATION = "replication";
    /** NO locked: seconds until the lock ends. */
    public static final String RETRY_AFTER = "retry_after";
    /** VERIFY OK: totp, backup or none. */
    public static final String METHOD = "method";
    /** VERIFY OK backup, IMPORT, USER. */
    public static final String BACKUP_CODES_LEFT = "backup_codes_left";
    /** CHECK and VERIFY OK without a code: why none is asked. */
    public static final String REASON = "reason";
    /** CHECK: whether a code is asked; USER: whether the account must enrol (marked or by group). */
    public static final String REQUIRED = "required";
    /** USER (1.1): account, group or null. */
    public static final String REQUIRED_BY = "required_by";
    /** USER (1.1): the account's owner from owners_file, or null. */
    public static final String OWNER = "owner";
    /** ENROLL, USER, IMPORT: the account. */
    public static final String USER = "user";
    /** ENROLL: the label's account part. */
    public static final String ACCOUNT = "account";
    /** ENROLL: the key, Base32. */
    public static final String SECRET = "secret";
    /** ENROLL: the key URI for QR codes. */
    public static final String OTPAUTH_URL = "otpauth_url";
    /** ENROLL. */
    public static final String DIGITS = "digits";
    /** ENROLL. */
    public static final String PERIOD = "period";
    /** ENROLL. */
    public static final String ALGORITHM = "algorithm";
    /** ENROLL: seconds the enrolment stays pending. */
    public static final String EXPIRES_IN = "expires_in";
    /** CONFIRM, BACKUP: the new backup codes. */
    public static final String BACKUP_CODES = "backup_codes";
    /** REMOVE: the accounts whose 2FA was removed. */
    public static final String REMOVED = "removed";
    /** REMOVE: the accounts that had none. */
    public static final String NOT_ENROLLED = "not_enrolled";
    /** USER. */
    public static final String ENROLLED = "enrolled";
    /** USER. */
    public static final String ENROLLED_AT = "enrolled_at";
    /** USER. */
    public static final String LAST_USED_AT = "last_used_at";
    /** USER: failures in a row (while locked: those that led to the lock). */
    public static final String FAILURES = "failures";
    /** USER. */
    public static final String LOCKED_UNTIL = "locked_until";
    /** USER: whether an enrolment waits for CONFIRM. */
    public static final String PENDING = "pending";

    private Keys() {
    }
}
