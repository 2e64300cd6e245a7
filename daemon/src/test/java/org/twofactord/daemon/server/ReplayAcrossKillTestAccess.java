package org.twofactord.daemon.server;

import java.time.Clock;
import org.twofactord.daemon.Client;

/** {@link ReplayAcrossKillTest#enrol} for tests in other packages. */
public final class ReplayAcrossKillTestAccess {
    private ReplayAcrossKillTestAccess() {
    }

    /** ENROLL and CONFIRM {@code user}; returns the secret. */
    public static String enrol(Client c, String user, Clock clock) throws Exception {
        return ReplayAcrossKillTest.enrol(c, user, clock).secret();
    }
}
