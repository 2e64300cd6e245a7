package org.twofactord.daemon.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.Set;
import org.twofactord.daemon.MutableClock;
import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.auth.Peer;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.config.ConfigLoader;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.MemoryStore;
import org.twofactord.daemon.store.Writer;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.LineReader;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;

/**
 * Coverage-guided fuzzing of the line reader, the request parser and the dispatcher with every
 * handler behind it: whatever bytes arrive, from whichever kind of caller, each line gets exactly
 * one well-formed reply line, and never ERR internal (a RuntimeException is a bug). Plain
 * {@code mvn test} replays the seeds in DispatcherFuzzTestInputs; {@code JAZZER_FUZZ=1} fuzzes.
 */
class DispatcherFuzzTest {
    private static final Set<String> CODES = Set.of(ErrorCodes.BAD_REQUEST, ErrorCodes.UNKNOWN_COMMAND,
            ErrorCodes.BAD_USER, ErrorCodes.FORBIDDEN, ErrorCodes.TOO_LONG, ErrorCodes.BUSY, ErrorCodes.UNAVAILABLE);
    private static final Caller[] CALLERS = {
        new Caller(new Peer(0, 0, 1), true, true, true, Optional.of("root")),
        new Caller(new Peer(1001, 1001, 2), false, true, false, Optional.of("admin")),
        new Caller(new Peer(1002, 1002, 3), false, false, true, Optional.of("login")),
        new Caller(new Peer(1003, 1003, 4), false, false, false, Optional.of("alice")),
        new Caller(new Peer(54321, 54321, 5), false, false, false, Optional.empty()),
    };
    private static final Dispatcher DISPATCHER = dispatcher();
    private static final MutableClock CLOCK = MutableClock.atStepStart();

    private static Dispatcher dispatcher() {
        if (System.getenv("JAZZER_FUZZ") != null) {
            // Hundreds of thousands of requests: keep the test log to warnings.
            ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                    .setLevel(ch.qos.logback.classic.Level.WARN);
        }
        try {
            Config config = ConfigLoader.load(new ConfigLoader.Flags(Path.of("/nonexistent/fuzz.sock"),
                    Path.of("/nonexistent/fuzz"), null, true));
            MemoryStore store = new MemoryStore(); // SNAPSHOT on it fails: ERR unavailable, a valid reply
            SecureRandom random = new SecureRandom();
            Services services = new Services(config, store, new Writer(store), MasterKey.of(new byte[32], random),
                    MutableClock.atStepStart(), random, "fuzz.example", "fuzz",
                    new org.twofactord.daemon.auth.Roles(org.twofactord.daemon.TestDaemon.fixedUsers(
                            java.util.Map.of(0L, "root", 1000L, "alice"), java.util.Map.of()),
                            "twofactord-admin", "twofactord", 0));
            return new Dispatcher(services);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void everyLineGetsOneWellFormedReplyAndNeverAnInternalError(FuzzedDataProvider data) throws IOException {
        Caller caller = CALLERS[data.consumeInt(0, CALLERS.length - 1)];
        byte[] bytes = data.consumeRemainingAsBytes();
        LineReader reader = new LineReader(new ByteArrayInputStream(bytes));
        while (true) {
            LineReader.Frame frame = reader.next();
            if (frame instanceof LineReader.Line line) {
                Optional<Request> request = Request.parse(line.text());
                if (request.isEmpty()) {
                    assertTrue(line.text().isBlank() || line.text().chars().allMatch(c -> c == ' ' || c == '\t'));
                    continue;
                }
                check(DISPATCHER.dispatch(caller, request.get()));
            } else if (!(frame instanceof LineReader.BadUtf8)) {
                return; // TooLong closes the connection; End is the end
            }
        }
    }

    private static void check(Reply reply) throws IOException {
        String line = reply.format();
        assertFalse(line.contains("\n") || line.contains("\r"), "a reply is one line");
        assertTrue(line.length() < 64 * 1024 * 1024);
        Reply parsed = Reply.parse(line);
        assertEquals(reply.kind(), parsed.kind());
        assertEquals(reply.word(), parsed.word());
        if (reply.kind() == Reply.Kind.ERR) {
            assertNotEquals(ErrorCodes.INTERNAL, reply.word(), "internal error: " + line);
            assertTrue(CODES.contains(reply.word()), line);
        }
        if (reply.kind() == Reply.Kind.NO) {
            assertTrue(reply.word().matches("[a-z-]+"), line);
        }
        CLOCK.advanceSeconds(1);
    }
}
