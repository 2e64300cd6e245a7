package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.twofactord.protocol.TwoFactorClient.VerifyResult;

/** The small pieces: escaping, form parsing, code shapes, messages, REMOVE batches, the QR PNG. */
class PiecesTest {
    @Test
    void htmlEscapingCoversTagsAttributesAndEntities() {
        assertEquals("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;",
                Html.esc("<script>alert('x')</script> & \"q\""));
        assertEquals("", Html.esc(null));
    }

    @Test
    void formsKeepRepeatedNamesAndDecodePercentAndPlus() throws Exception {
        Map<String, List<String>> form = Http.parseForm("user=alice&user=bob%40example.com&issuer=Acme+Hosting&empty=&flag");
        assertEquals(List.of("alice", "bob@example.com"), form.get("user"));
        assertEquals(List.of("Acme Hosting"), form.get("issuer"));
        assertEquals(List.of(""), form.get("empty"));
        assertEquals(List.of(""), form.get("flag"));
        assertEquals(400, org.junit.jupiter.api.Assertions.assertThrows(Http.BadRequest.class,
                () -> Http.parseForm("a=%zz")).status);
    }

    @Test
    void onlyCodeShapedInputReachesTheDaemon() {
        assertEquals(Optional.of("123456"), Codes.clean(" 123 456 "));
        assertEquals(Optional.of("12345-67890"), Codes.clean("12345-67890"));
        assertEquals(Optional.of("1234567890"), Codes.clean("1234567890"));
        for (String bad : new String[] {"", "12345", "abcdef", "123456 code=1", "-12345", "1234567890123", "１２３４５６"}) {
            assertEquals(Optional.empty(), Codes.clean(bad), bad);
        }
    }

    @Test
    void eachRefusalHasItsMessage() {
        TestClock clock = new TestClock();
        assertEquals("The security code is invalid.", Codes.refusal(new VerifyResult(false, null, "invalid", -1, -1), clock));
        assertTrue(Codes.refusal(new VerifyResult(false, null, "replayed", -1, -1), clock).contains("already used"));
        assertEquals("Too many failed attempts: two-factor authentication for this account is locked. "
                        + "Try again in 42 seconds (after 10:00:42 UTC).",
                Codes.refusal(new VerifyResult(false, null, "locked", 42, -1), clock));
        assertTrue(Codes.locked(1, clock).contains("in 1 second "));
    }

    @Test
    void removeLinesStayUnderTheProtocolsLimit() {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            names.add(String.format("%03d", i) + "u".repeat(125));
        }
        List<List<String>> batches = AdminPages.batches(names);
        assertTrue(batches.size() > 1);
        List<String> all = new ArrayList<>();
        for (List<String> batch : batches) {
            assertTrue(("REMOVE " + String.join(" ", batch)).length() <= AdminPages.MAX_REMOVE_LINE);
            all.addAll(batch);
        }
        assertEquals(names, all, "every name once, in order");
        assertEquals(List.of(List.of("alice", "bob")), AdminPages.batches(List.of("alice", "bob")));
        assertEquals(List.of(), AdminPages.batches(List.of()));
    }

    @Test
    void theQrCodeIsAPngOfItsStatedSize() throws Exception {
        QrPng.Image image = QrPng.image("otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme");
        byte[] png = java.util.Base64.getDecoder().decode(image.dataUri().substring("data:image/png;base64,".length()));
        var read = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
        assertEquals(image.size(), read.getWidth());
        assertEquals(image.size(), read.getHeight());
        assertEquals(0, image.size() % QrPng.SCALE);
        assertTrue(image.tag("qr", "QR").contains("width=\"" + image.size() + "\""));
    }

    @Test
    void keysShowInGroupsOfFour() {
        assertEquals("JBSW Y3DP EHPK 3PXP", AccountPages.grouped("JBSWY3DPEHPK3PXP"));
        assertEquals("2026-11-23 10:05 UTC", AccountPages.time("2026-11-23T10:05:30Z"));
    }
}
