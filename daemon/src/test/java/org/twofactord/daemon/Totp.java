package org.twofactord.daemon;

import java.time.Clock;
import org.twofactord.daemon.totp.Base32;
import org.twofactord.daemon.totp.TotpEngine;

/** Codes for tests, made with the same generator the daemon uses. */
public final class Totp {
    private Totp() {
    }

    /** The code for the step {@code offsetSteps} from the clock's current step. */
    public static String code(String base32, Clock clock, int offsetSteps) {
        TotpEngine engine = new TotpEngine(6, clock);
        return engine.codeAt(Base32.decode(base32), engine.currentStep() + offsetSteps);
    }

    /** A 6-digit code that is not the code of any step within ±2 of now. */
    public static String wrongCode(String base32, Clock clock) {
        for (int candidate = 0; ; candidate++) {
            String code = String.format("%06d", candidate);
            boolean used = false;
            for (int off = -2; off <= 2; off++) {
                used |= code.equals(code(base32, clock, off));
            }
            if (!used) {
                return code;
            }
        }
    }
}
