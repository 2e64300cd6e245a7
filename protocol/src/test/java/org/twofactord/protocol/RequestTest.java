package org.twofactord.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tokenizing a request line: words, separators, case, and "the rest of the line". */
class RequestTest {

    @Test
    void pingWithoutArgumentsIsTheCommandAlone() {
        Request request = parse("PING");

        assertEquals("PING", request.command());
        assertEquals(List.of(), request.args());
        assertEquals(0, request.argCount());
    }

    @ParameterizedTest
    @ValueSource(strings = {"ping", "Ping", "pInG", "PING"})
    void commandWordIsCaseInsensitiveAndUpperCased(String word) {
        assertEquals("PING", parse(word).command());
    }

    @Test
    void commandIsUpperCasedTheSameWayInATurkishLocale() {
        // Under tr-TR, "i".toUpperCase() is a dotted capital I, and "quit" would never match QUIT.
        Locale saved = Locale.getDefault();
        Locale.setDefault(Locale.forLanguageTag("tr-TR"));
        try {
            assertEquals("QUIT", parse("quit").command());
            assertEquals("VERIFY", parse("verify alice 123456").command());
            assertEquals("DISABLE", parse("policy disable").word(0));
        } finally {
            Locale.setDefault(saved);
        }
    }

    @Test
    void argumentsKeepTheirCase() {
        // User names are case-sensitive: only the command word is folded.
        Request request = parse("verify Alice 123456 service=SSHD");

        assertEquals("VERIFY", request.command());
        assertEquals(List.of("Alice", "123456", "service=SSHD"), request.args());
        assertEquals("Alice", request.arg(0));
    }

    @Test
    void wordUpperCasesASubWordButArgLeavesItAlone() {
        Request request = parse("policy enable");

        assertEquals("ENABLE", request.word(0));
        assertEquals("enable", request.arg(0));
    }

    @Test
    void runsOfSpacesSeparateTokensLikeOneSpace() {
        Request request = parse("VERIFY   alice     123456");

        assertEquals("VERIFY", request.command());
        assertEquals(List.of("alice", "123456"), request.args());
    }

    @Test
    void tabsSeparateTokensLikeSpaces() {
        Request request = parse("VERIFY\talice\t\t123456");

        assertEquals("VERIFY", request.command());
        assertEquals(List.of("alice", "123456"), request.args());
    }

    @Test
    void mixedRunsOfSpacesAndTabsAreOneSeparator() {
        Request request = parse("CHECK \t \talice");

        assertEquals(List.of("alice"), request.args());
    }

    @Test
    void leadingAndTrailingSpacesAndTabsAreIgnored() {
        Request request = parse(" \t USER alice \t ");

        assertEquals("USER", request.command());
        assertEquals(List.of("alice"), request.args());
    }

    @ParameterizedTest
    @ValueSource(strings = {"USER al\u000Bice", "USER al\fice", "USER al\u00A0ice", "USER al\u2003ice"})
    void otherWhitespaceIsNotASeparator(String line) {
        // Only space and TAB separate tokens; anything else stays in the token (and then fails
        // the user-name rule) rather than splitting "al" from "ice".
        Request request = parse(line);

        assertEquals(1, request.argCount());
        assertEquals(line.substring("USER ".length()), request.arg(0));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "   ", "\t", " \t \t "})
    void emptyOrBlankLineIsNoRequest(String line) {
        assertEquals(Optional.empty(), Request.parse(line));
    }

    @Test
    void restFromKeepsTheSpacesInsideTheIssuerText() {
        Request request = parse("ISSUER SET Acme  Hosting");

        assertEquals("ISSUER", request.command());
        assertEquals("SET", request.word(0));
        assertEquals("Acme  Hosting", request.restFrom(1));
    }

    @Test
    void restFromStartsAtItsTokenWhateverSeparatesItFromThePreviousOne() {
        Request request = parse("issuer  set \t Acme \t Hosting GmbH");

        assertEquals("Acme \t Hosting GmbH", request.restFrom(1));
        assertEquals("set \t Acme \t Hosting GmbH", request.restFrom(0));
    }

    @Test
    void restFromDropsTrailingSpacesAndTabs() {
        Request request = parse("ISSUER SET Acme  Hosting \t  ");

        assertEquals("Acme  Hosting", request.restFrom(1));
    }

    @Test
    void restFromOfTheLastArgumentIsThatArgument() {
        Request request = parse("ISSUER SET Acme  Hosting");

        assertEquals("Hosting", request.restFrom(2));
    }

    @Test
    void restFromKeepsTheCaseOfTheText() {
        assertEquals("acme HOSTING", parse("issuer set acme HOSTING").restFrom(1));
    }

    @Test
    void restFromPastTheLastArgumentThrows() {
        Request request = parse("ISSUER SET");

        assertThrows(IndexOutOfBoundsException.class, () -> request.restFrom(1));
    }

    @Test
    void argsCannotBeChangedByTheCaller() {
        Request request = parse("REMOVE alice bob");

        assertThrows(UnsupportedOperationException.class, () -> request.args().add("root"));
        assertEquals(List.of("alice", "bob"), request.args());
    }

    @Test
    void toStringNeverShowsTheArguments() {
        String text = parse("VERIFY alice 492039 service=sshd rhost=10.0.0.7").toString();

        assertTrue(text.contains("VERIFY"), text);
        assertFalse(text.contains("492039"), text);
        assertFalse(text.contains("alice"), text);
        assertFalse(text.contains("sshd"), text);
    }

    @Test
    void toStringNeverShowsTheProofCode() {
        String text = parse("remove alice code=12345-67890").toString();

        assertFalse(text.contains("12345"), text);
        assertFalse(text.contains("67890"), text);
    }

    private static Request parse(String line) {
        return Request.parse(line).orElseThrow(() -> new AssertionError("no request parsed from: " + line));
    }
}
