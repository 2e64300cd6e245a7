package org.twofactord.daemon.audit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.Caller;

/**
 * The audit log ({@code twofactord.audit}): one line per request that acts on a user or is
 * refused, with the peer's uid and pid, the person an administrator acted for ({@code as=}), the
 * command, the user acted on and the outcome. Never a
 * code, a secret or a backup code: callers pass only words the daemon chose.
 */
public final class Audit {
    private static final Logger log = LoggerFactory.getLogger("twofactord.audit");

    private Audit() {
    }

    /**
     * @param user    the user acted on, or null
     * @param outcome the reply's first words, e.g. "OK totp" or "NO replayed"
     * @param extra   further key=value words (already sanitised), or null
     */
    public static void record(Caller caller, String command, String user, String outcome, String extra) {
        if (!log.isInfoEnabled()) {
            return;
        }
        StringBuilder sb = new StringBuilder(96);
        sb.append("uid=").append(caller.peer().uid()).append(" pid=").append(caller.peer().pid());
        caller.person().ifPresent(person -> sb.append(" as=").append(person));
        sb.append(" cmd=").append(command);
        if (user != null) {
            sb.append(" user=").append(user);
        }
        sb.append(" outcome=").append(outcome.replace(' ', ':'));
        if (extra != null && !extra.isEmpty()) {
            sb.append(' ').append(extra);
        }
        log.info(sb.toString());
    }

    /** Makes a client-supplied word safe for one log line: printable ASCII, at most 64 chars. */
    public static String clean(String value) {
        StringBuilder sb = new StringBuilder(Math.min(value.length(), 64));
        for (int i = 0; i < value.length() && sb.length() < 64; i++) {
            char c = value.charAt(i);
            sb.append(c > ' ' && c < 0x7f && c != '=' ? c : '?');
        }
        return sb.toString();
    }
}
