package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.LogCapture;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** The audit log names who did what to whom, with service and rhost, and never a code or secret. */
class AuditLogTest {
    @TempDir
    Path dir;
    LogCapture captured;

    @BeforeEach
    void capture() {
        captured = LogCapture.start(org.slf4j.Logger.ROOT_LOGGER_NAME, Level.DEBUG); // everything the daemon could say
    }

    @AfterEach
    void release() {
        captured.close();
    }

    private List<String> lines() {
        List<String> out = new ArrayList<>();
        for (ILoggingEvent e : captured.events()) {
            out.add(e.getLoggerName() + ": " + e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getMessage()));
        }
        return out;
    }

    @Test
    void verifyIsAuditedWithServiceAndRhostAndNoSecretOrCodeIsEverLogged() throws Exception {
        List<String> secrets = new ArrayList<>();
        try (TestDaemon daemon = new TestDaemon(dir).start(); Client c = daemon.client()) {
            c.call("POLICY ENABLE");
            c.call("ISSUER SET Acme Hosting");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            secrets.add(secret);
            String confirmCode = Totp.code(secret, daemon.clock, -1);
            secrets.add(confirmCode);
            Json.of(c.call("CONFIRM alice " + confirmCode)).get("backup_codes").forEach(n -> secrets.add(n.asText()));
            String code = Totp.code(secret, daemon.clock, 0);
            secrets.add(code);
            c.expect("VERIFY alice " + code + " service=sshd rhost=203.0.113.7", "OK {\"method\":\"totp\"}");
            c.expect("VERIFY alice " + code + " service=sshd rhost=203.0.113.7", "NO replayed");
            String wrong = Totp.wrongCode(secret, daemon.clock);
            secrets.add(wrong);
            c.call("VERIFY alice " + wrong + " service=dovecot rhost=bad\u0001host");
            c.call("VERIFY alice " + secrets.get(2));
            c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, 7)); // no pending: no-pending
            String skewSecret = Json.of(c.call("ENROLL bob")).get("secret").asText();
            secrets.add(skewSecret);
            String skewed = Totp.code(skewSecret, daemon.clock, 6);
            secrets.add(skewed);
            c.call("CONFIRM bob " + skewed);
            Json.of(c.call("BACKUP alice")).get("backup_codes").forEach(n -> secrets.add(n.asText()));
        }
        List<String> lines = lines();
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("twofactord.audit: uid=")
                && l.contains(" cmd=VERIFY user=alice outcome=OK:totp service=sshd rhost=203.0.113.7")), String.join("\n", lines));
        assertTrue(lines.stream().anyMatch(l -> l.contains("cmd=VERIFY user=alice outcome=NO:replayed service=sshd")));
        assertTrue(lines.stream().anyMatch(l -> l.contains("outcome=NO:invalid service=dovecot rhost=bad?host")));
        assertTrue(lines.stream().anyMatch(l -> l.contains("cmd=VERIFY user=alice outcome=OK:backup")));
        assertTrue(lines.stream().anyMatch(l -> l.contains("check the server's time synchronisation")));
        assertTrue(lines.stream().anyMatch(l -> l.matches("twofactord.audit: uid=\\d+ pid=\\d+ cmd=POLICY outcome=OK")),
                "a policy change names no user");
        assertTrue(lines.stream().anyMatch(l -> l.matches("twofactord.audit: uid=\\d+ pid=\\d+ cmd=ISSUER outcome=OK")));
        for (String line : lines) {
            for (String s : secrets) {
                assertFalse(line.contains(s), "a secret or code in the log: " + line);
                assertFalse(line.contains(s.replace("-", "")), "a backup code in the log: " + line);
            }
        }
    }
}
