package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.TestDaemon;

/** Transcripts over a real socket for HELLO, PING, QUIT, POLICY, ISSUER, STATS and the framing errors. */
class FoundationTranscriptTest {
    @TempDir
    Path dir;
    TestDaemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = new TestDaemon(dir).start();
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    @Test
    void helloNamesProtocolAndServer() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("HELLO", "OK {\"protocol\":1,\"server\":\"twofactord/test\"}");
            c.expect("HELLO 1", "OK {\"protocol\":1,\"server\":\"twofactord/test\"}");
            c.expect("HELLO 2", "ERR bad-request unsupported protocol version");
        }
    }

    @Test
    void pingAndLowerCaseCommandWords() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("PING", "OK");
            c.expect("ping", "OK");
            c.expect("\tPiNg  ", "OK");
            c.expect("PING extra", "OK");
        }
    }

    @Test
    void quitAnswersThenCloses() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("QUIT", "OK");
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void emptyLinesGetNoReply() throws Exception {
        try (Client c = daemon.client()) {
            c.sendRaw("\n   \n\t\r\nPING\r\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("OK", c.read());
        }
    }

    @Test
    void unknownCommand() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("FROBNICATE alice", "ERR unknown-command unknown command FROBNICATE");
            c.expect("PING", "OK");
        }
    }

    @Test
    void invalidUtf8IsABadRequestAndTheConnectionGoesOn() throws Exception {
        try (Client c = daemon.client()) {
            c.sendRaw(new byte[] {'P', 'I', (byte) 0xC3, (byte) 0x28, '\n'});
            assertEquals("ERR bad-request request line is not valid UTF-8", c.read());
            c.expect("PING", "OK");
        }
    }

    @Test
    void policyReadAndEveryChange() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("POLICY", "OK {\"mode\":\"disabled\",\"enabled\":false}");
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            c.expect("POLICY", "OK {\"mode\":\"optional\",\"enabled\":true}");
            c.expect("policy require", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("POLICY DISABLE", "OK {\"mode\":\"disabled\",\"enabled\":false}");
            c.expect("POLICY SOMETIMES", "ERR bad-request usage: POLICY [ENABLE | DISABLE | REQUIRE]");
            c.expect("POLICY", "OK {\"mode\":\"disabled\",\"enabled\":false}");
        }
    }

    @Test
    void issuerDefaultsToHostNameAndCanBeSetAndReset() throws Exception {
        String host = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        try (Client c = daemon.client()) {
            c.expect("ISSUER", "OK {\"issuer\":\"" + host + "\",\"default\":true}");
            c.expect("ISSUER SET Acme  Hosting", "OK {\"issuer\":\"Acme  Hosting\",\"default\":false}");
            c.expect("ISSUER", "OK {\"issuer\":\"Acme  Hosting\",\"default\":false}");
            c.expect("ISSUER SET Bad:Name", "ERR bad-request an issuer is printable characters without ':'");
            c.expect("ISSUER SET " + "x".repeat(65), "ERR bad-request an issuer is 1-64 characters");
            c.expect("ISSUER SET " + "x".repeat(64), "OK {\"issuer\":\"" + "x".repeat(64) + "\",\"default\":false}");
            c.expect("ISSUER SET", "ERR bad-request usage: ISSUER [SET <text> | RESET]");
            c.expect("ISSUER RESET", "OK {\"issuer\":\"" + host + "\",\"default\":true}");
        }
    }

    @Test
    void statsCountsConnections() throws Exception {
        try (Client c = daemon.client()) {
            String stats = c.call("STATS");
            assertTrue(stats.matches("OK \\{\"uptime_s\":\\d+,\"users\":0,\"verify_ok\":0,\"verify_no\":0,\"replays\":0,"
                    + "\"lockouts\":0,\"connections\":1,\"clock_skew_s\":null,"
                    + "\"store\":\\{\"checkpoints\":0,\"checkpoint_failure\":null\\}}"), stats);
        }
        try (Client c = daemon.client()) {
            assertTrue(c.call("STATS").contains("\"connections\":2"));
            c.expect("STATS now", "ERR bad-request usage: STATS");
        }
    }

    @Test
    void hundredPipelinedRequestsGetHundredRepliesInOrder() throws Exception {
        try (Client c = daemon.client()) {
            StringBuilder burst = new StringBuilder();
            for (int i = 0; i < 100; i++) {
                burst.append(i % 2 == 0 ? "PING\n" : "HELLO " + (i % 4 == 1 ? "1" : "9") + "\n");
            }
            c.sendRaw(burst.toString().getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < 100; i++) {
                String expected = i % 2 == 0 ? "OK"
                        : i % 4 == 1 ? "OK {\"protocol\":1,\"server\":\"twofactord/test\"}"
                        : "ERR bad-request unsupported protocol version";
                assertEquals(expected, c.read(), "reply " + i);
            }
        }
    }

    @Test
    void lineOfExactly1024BytesIsAnsweredAnd1025ClosesTheConnection() throws Exception {
        try (Client c = daemon.client()) {
            String ok = "PING " + "x".repeat(1024 - 5 - 1); // 1023 bytes + LF
            c.send(ok);
            assertEquals("OK", c.read());
            c.send(ok + "y");
            assertEquals("ERR too-long request line exceeds 1024 bytes", c.read());
            assertNull(c.read(), "the connection is closed after too-long");
        }
    }

    @Test
    void policyAndIssuerSurviveARestart() throws Exception {
        try (Client c = daemon.client()) {
            c.expect("POLICY REQUIRE", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("ISSUER SET Acme Hosting", "OK {\"issuer\":\"Acme Hosting\",\"default\":false}");
        }
        daemon.restart();
        try (Client c = daemon.client()) {
            c.expect("POLICY", "OK {\"mode\":\"required\",\"enabled\":true}");
            c.expect("ISSUER", "OK {\"issuer\":\"Acme Hosting\",\"default\":false}");
        }
    }
}
