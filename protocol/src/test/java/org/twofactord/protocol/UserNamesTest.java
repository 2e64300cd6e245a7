package org.twofactord.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** User names on the wire: 1-128 of {@code A-Z a-z 0-9 . _ @ + -}, not starting with {@code .} or {@code -}. */
class UserNamesTest {

    @ParameterizedTest
    @ValueSource(strings = {
        "alice", "a", "Z", "7", "root", "www-data", "mail@example.com", "first.last", "user_1",
        "bob+2fa", "UPPER", "a.", "a-", "_svc", "@host", "+plus", "0day", "ABCxyz019._@+-",
    })
    void validNames(String name) {
        assertTrue(UserNames.isValid(name), name);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", ".hidden", "-rf", "al ice", " alice", "alice ", "alice\n", "alice\r", "al\tice", "*",
        "alice*", "a/b", "a\\b", "a:b", "a;b", "a=b", "a,b", "a$b", "a%b", "a#b", "a'b", "a\"b",
        "\u0000", "al\u0000ice", "josé", "Ａlice", "user\u0663", "\u0130stanbul", "\uD83D\uDD10",
    })
    void invalidNames(String name) {
        assertFalse(UserNames.isValid(name), name);
    }

    @Test
    void theProblemIsNamed() {
        assertNull(UserNames.problem("alice"));
        assertEquals("it contains a space", UserNames.problem("bob smith"));
        assertEquals("it contains 'ü'", UserNames.problem("jürgen"));
        assertEquals("it contains a line break", UserNames.problem("alice\nPING"));
        assertEquals("it contains the character U+202E", UserNames.problem("a\u202Eb"));
        assertEquals("it contains '\uD83D\uDD10'", UserNames.problem("a\uD83D\uDD10"));
        assertEquals("it starts with .", UserNames.problem(".alice"));
        assertEquals("it is empty", UserNames.problem(""));
        assertEquals("it is longer than 128 characters", UserNames.problem("a".repeat(129)));
    }

    @Test
    void nullIsNotAName() {
        assertFalse(UserNames.isValid(null));
    }

    @Test
    void nameOf128CharactersIsValid() {
        assertTrue(UserNames.isValid("a".repeat(128)));
        assertTrue(UserNames.isValid("u" + "0123456789".repeat(12) + "@ex.com"));
    }

    @Test
    void nameOf129CharactersIsInvalid() {
        assertFalse(UserNames.isValid("a".repeat(129)));
    }

    @Test
    void everyAllowedCharacterIsAcceptedAfterTheFirst() {
        String allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+-";
        for (char c : allowed.toCharArray()) {
            assertTrue(UserNames.isValid("x" + c), "x" + c);
        }
    }

    @Test
    void noOtherAsciiCharacterIsAccepted() {
        String allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+-";
        for (char c = 0; c < 128; c++) {
            if (allowed.indexOf(c) < 0) {
                assertFalse(UserNames.isValid("x" + c), "x followed by code point " + (int) c);
            }
        }
    }
}
