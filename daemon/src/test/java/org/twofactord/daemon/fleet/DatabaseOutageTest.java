package org.twofactord.daemon.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.DaemonProcess;
import org.twofactord.daemon.Totp;
import org.twofactord.daemon.server.ReplayAcrossKillTestAccess;
import org.twofactord.daemon.store.PostgresServer;

/**
 * The database stops under two running daemons (real processes): every request that needs it is
 * answered {@code ERR unavailable} within the PAM module's 5 s, never OK; when the database is back
 * the daemons serve again by themselves, and each logged the loss and the recovery once.
 */
class DatabaseOutageTest {
    /** The PAM module's reply timeout: no request may take longer. */
    static final int CLIENT_TIMEOUT_MS = 5000;

    @TempDir
    Path dir;
    PostgresServer postgres;
    final List<DaemonProcess> daemons = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        postgres = PostgresServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (DaemonProcess d : daemons) {
            d.close();
        }
        postgres.close();
    }

    private Path config(String url) throws Exception {
        Path password = dir.resolve("postgres.password");
        Files.writeString(password, PostgresServer.ROLE_PASSWORD + "\n");
        Files.setPosixFilePermissions(password, PosixFilePermissions.fromString("rw-------"));
        Path file = dir.resolve("twofactord.conf");
        Files.writeString(file, "store = postgresql\npostgres_url = " + url + "\npostgres_user = "
                + PostgresServer.ROLE + "\npostgres_password_file = " + password + "\n");
        return file;
    }

    private static Client client(DaemonProcess d) throws Exception {
        Client c = d.client();
        c.socket.setSoTimeout(CLIENT_TIMEOUT_MS); // a hang fails the test with a timeout
        return c;
    }

    @Test
    void unavailableWhileTheDatabaseIsDownAndBackWithoutARestart() throws Exception {
        Clock clock = Clock.systemUTC();
        Path config = config(postgres.createDatabase());
        DaemonProcess one = DaemonProcess.start(dir.resolve("one"), dir.resolve("one.sock"), "--config", config.toString());
        daemons.add(one);
        Files.createDirectories(dir.resolve("two"));
        Files.copy(dir.resolve("one").resolve("master.key"), dir.resolve("two").resolve("master.key"));
        DaemonProcess two = DaemonProcess.start(dir.resolve("two"), dir.resolve("two.sock"), "--config", config.toString());
        daemons.add(two);
        String secret;
        try (Client a = client(one)) {
            a.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            secret = ReplayAcrossKillTestAccess.enrol(a, "alice", clock);
        }

        postgres.stop("immediate");
        int unavailable = 0;
        for (int round = 0; round < 5; round++) {
            for (DaemonProcess d : List.of(one, two)) {
                try (Client c = client(d)) {
                    c.expect("PING", "OK");
                    for (String request : List.of("VERIFY alice " + Totp.code(secret, clock, 0), "CHECK alice",
                            "USERS", "POLICY REQUIRE", "ENROLL bob")) {
                        String reply = c.call(request);
                        assertTrue(reply.startsWith("ERR unavailable"), request + " while the database is down: " + reply);
                        unavailable++;
                    }
                }
            }
        }
        assertEquals(50, unavailable);
        assertTrue(one.alive() && two.alive(), "the daemons keep running");

        postgres.startServer();
        for (DaemonProcess d : List.of(one, two)) {
            try (Client c = client(d)) {
                long deadline = System.nanoTime() + 30_000_000_000L;
                String reply;
                while (!(reply = c.call("CHECK alice")).startsWith("OK") && System.nanoTime() < deadline) {
                    assertTrue(reply.startsWith("ERR unavailable"), reply);
                    Thread.sleep(100);
                }
                assertEquals("OK {\"required\":true}", reply);
            }
        }
        String code = Totp.code(secret, clock, 1);
        try (Client a = client(one); Client b = client(two)) {
            b.expect("VERIFY alice " + code, "OK {\"method\":\"totp\"}");
            a.expect("VERIFY alice " + code, "NO replayed");
        }
        for (DaemonProcess d : List.of(one, two)) {
            String log = d.output();
            assertEquals(1, count(log, "lost the database"), log);
            assertEquals(1, count(log, "is reachable again"), log);
            assertEquals(0, count(log, "failed: store unavailable"), "one line on loss, not one per request: " + log);
        }
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }
}
