package org.twofactord.daemon.server;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** Every cell of CHECK/VERIFY x {disabled, optional, required} x {enrolled, not enrolled}. */
class PolicyMatrixTest {
    @TempDir
    Path dir;

    @Test
    void everyCell() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            String wrong = Totp.wrongCode(secret, daemon.clock);

            c.expect("POLICY DISABLE", "OK {\"mode\":\"disabled\",\"enabled\":false}");
            c.expect("CHECK alice", "OK {\"required\":false,\"reason\":\"policy-disabled\"}");
            c.expect("CHECK bob", "OK {\"required\":false,\"reason\":\"policy-disabled\"}");
            c.expect("VERIFY alice " + wrong, "OK {\"method\":\"none\",\"reason\":\"policy-disabled\"}");
            c.expect("VERIFY bob " + wrong, "OK {\"method\":\"none\",\"reason\":\"policy-disabled\"}");

            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            c.expect("CHECK alice", "OK {\"required\":true}");
            c.expect("CHECK bob", "OK {\"required\":false,\"reason\":\"not-enrolled\"}");
            c.expect("VERIFY alice " + wrong, "NO invalid");
            c.expect("VERIFY alice " + Totp.code(secret, daemon.clock, 0), "OK {\"method\":\"totp\"}");
            c.expect("VERIFY bob " + wrong, "OK {\"method\":\"none\",\"reason\":\"not-enrolled\"}");

            c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("CHECK alice", "OK {\"required\":true}");
            c.expect("CHECK bob", "NO enroll-required");
            c.expect("VERIFY alice " + wrong, "NO invalid");
            c.expect("VERIFY alice " + Totp.code(secret, daemon.clock, 1), "OK {\"method\":\"totp\"}");
            c.expect("VERIFY bob " + wrong, "NO enroll-required");
        }
    }
}
