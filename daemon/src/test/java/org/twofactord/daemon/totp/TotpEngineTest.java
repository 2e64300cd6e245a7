package org.twofactord.daemon.totp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.twofactord.daemon.MutableClock;

class TotpEngineTest {
    private static final byte[] RFC_KEY = "12345678901234567890".getBytes(StandardCharsets.US_ASCII);

    @ParameterizedTest(name = "T={0} -> {1}")
    @CsvSource({"59,94287082", "1111111109,07081804", "1111111111,14050471", "1234567890,89005924",
        "2000000000,69279037", "20000000000,65353130"})
    void rfc6238AppendixBVectorsSha1EightDigits(long time, String expected) {
        MutableClock clock = new MutableClock(Instant.ofEpochSecond(time));
        TotpEngine engine = new TotpEngine(8, clock);
        assertEquals(expected, engine.codeAt(RFC_KEY, engine.currentStep()));
        assertEquals(OptionalLong.of(engine.currentStep()), engine.match(RFC_KEY, expected, engine.currentStep(), 0, 0));
    }

    @Test
    void sixDigitsAreTheLastSixOfTheEightDigitCode() {
        MutableClock clock = new MutableClock(Instant.ofEpochSecond(59));
        assertEquals("287082", new TotpEngine(6, clock).codeAt(RFC_KEY, 1));
    }

    @Test
    void windowEdgesAreAcceptedAndOneBeyondIsNot() {
        MutableClock clock = MutableClock.atStepStart();
        TotpEngine engine = new TotpEngine(6, clock);
        long now = engine.currentStep();
        for (int w = 0; w <= 2; w++) {
            for (long step = now - w - 1; step <= now + w + 1; step++) {
                boolean inside = Math.abs(step - now) <= w;
                String code = engine.codeAt(RFC_KEY, step);
                OptionalLong m = engine.match(RFC_KEY, code, now, w, Long.MIN_VALUE);
                assertEquals(inside, m.isPresent() && m.getAsLong() == step, "w=" + w + " step offset " + (step - now));
            }
        }
    }

    @Test
    void matchPrefersAStepAboveTheLastAccepted() {
        TotpEngine engine = new TotpEngine(6, MutableClock.atStepStart());
        long now = engine.currentStep();
        String code = engine.codeAt(RFC_KEY, now);
        assertEquals(OptionalLong.of(now), engine.match(RFC_KEY, code, now, 1, now - 1));
        // At or below the last accepted step, the match is still reported (the caller says "replayed").
        assertEquals(OptionalLong.of(now), engine.match(RFC_KEY, code, now, 1, now));
    }

    @Test
    void eightDigitModeRefusesSixDigitCodes() {
        TotpEngine engine = new TotpEngine(8, MutableClock.atStepStart());
        long now = engine.currentStep();
        String eight = engine.codeAt(RFC_KEY, now);
        assertEquals(8, eight.length());
        assertFalse(engine.match(RFC_KEY, eight.substring(2), now, 1, 0).isPresent());
        assertTrue(engine.match(RFC_KEY, eight, now, 1, 0).isPresent());
        assertThrows(IllegalArgumentException.class, () -> new TotpEngine(7, MutableClock.atStepStart()));
    }

    @Test
    void codesOfTheWrongShapeNeverMatch() {
        TotpEngine engine = new TotpEngine(6, MutableClock.atStepStart());
        long now = engine.currentStep();
        String code = engine.codeAt(RFC_KEY, now);
        assertFalse(engine.match(RFC_KEY, " " + code.substring(1), now, 1, 0).isPresent());
        assertFalse(engine.match(RFC_KEY, code + "0", now, 1, 0).isPresent());
        assertFalse(engine.match(RFC_KEY, "١٢٣٤٥٦", now, 1, 0).isPresent()); // Arabic-Indic digits
    }

    @Test
    void base32RoundTripsAndIsStrict() {
        assertEquals("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", Base32.encode(RFC_KEY));
        assertArrayEquals(RFC_KEY, Base32.decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"));
        assertArrayEquals(new byte[] {'f', 'o'}, Base32.decode("MZXQ===="));
        assertThrows(IllegalArgumentException.class, () -> Base32.decode("MZX1"));
        assertThrows(IllegalArgumentException.class, () -> Base32.decode("MZXR")); // non-zero trailing bits
    }
}
