package org.twofactord.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.zxing.BinaryBitmap;
import com.google.zxing.DecodeHintType;
import com.google.zxing.RGBLuminanceSource;
import com.google.zxing.common.HybridBinarizer;
import com.google.zxing.qrcode.QRCodeReader;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;

/** The QR codes decode back to exactly the otpauth URL of the ENROLL reply. */
class QrTest {
    @TempDir
    Path dir;

    static String decode(BufferedImage image) throws Exception {
        int w = image.getWidth();
        int h = image.getHeight();
        int[] pixels = image.getRGB(0, 0, w, h, null, 0, w);
        return new QRCodeReader().decode(new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(w, h, pixels))),
                Map.of(DecodeHintType.TRY_HARDER, Boolean.TRUE)).getText();
    }

    /**
     * Turns half-block text back into an image: each character is two modules stacked, a drawn
     * half is light. Also what a phone sees on a light-on-dark terminal.
     */
    static BufferedImage fromHalfBlocks(List<String> lines, int scale) {
        int width = lines.get(0).length();
        int height = lines.size() * 2;
        BufferedImage image = new BufferedImage(width * scale, height * scale, BufferedImage.TYPE_INT_RGB);
        for (int row = 0; row < lines.size(); row++) {
            String line = lines.get(row);
            for (int x = 0; x < width; x++) {
                char c = x < line.length() ? line.charAt(x) : ' ';
                boolean top = c == '█' || c == '▀';
                boolean bottom = c == '█' || c == '▄';
                fill(image, x, row * 2, scale, top);
                fill(image, x, row * 2 + 1, scale, bottom);
            }
        }
        return image;
    }

    private static void fill(BufferedImage image, int mx, int my, int scale, boolean light) {
        for (int dy = 0; dy < scale; dy++) {
            for (int dx = 0; dx < scale; dx++) {
                image.setRGB(mx * scale + dx, my * scale + dy, light ? 0xFFFFFF : 0x000000);
            }
        }
    }

    private String enrolUrl(TestDaemon daemon) throws Exception {
        try (var c = daemon.client()) {
            c.call("ISSUER SET Acme Hosting");
            return Json.of(c.call("ENROLL mail@example.com")).get("otpauth_url").asText();
        }
    }

    @Test
    void thePngDecodesToTheEnrollUrlWithZxingAndZbarimg() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            Path png = dir.resolve("qr.png");
            Cli.Run r = Cli.run(daemon.socket(), "", false, "enroll", "mail@example.com", "--png", png.toString());
            assertEquals(1, r.exit()); // no code typed: stays pending
            String url;
            try (var c = daemon.client()) {
                url = null;
                // The enroll above made the pending secret; its URL is what the CLI showed as a key.
                String key = CliTest.key(r.out());
                url = "otpauth://totp/" + UrlOf.issuerLabel(c.call("ISSUER")) + ":mail%40example.com?secret=" + key
                        + "&issuer=" + UrlOf.issuerLabel(c.call("ISSUER")) + "&algorithm=SHA1&digits=6&period=30";
            }
            assertEquals(url, decode(ImageIO.read(png.toFile())));
            if (zbarimgAvailable()) {
                Process p = new ProcessBuilder("zbarimg", "--quiet", "--raw", png.toString())
                        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
                String out = new String(p.getInputStream().readAllBytes()).strip();
                p.waitFor(30, TimeUnit.SECONDS);
                assertEquals(url, out);
            }
        }
    }

    /** The PNG holds the secret: a new file of mode 0600, and an existing file is left alone. */
    @Test
    void thePngIsPrivateAndNeverOverwritten() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            Path png = dir.resolve("qr.png");
            Cli.Run r = Cli.run(daemon.socket(), "", false, "enroll", "alice", "--png", png.toString(), "--no-qr");
            assertTrue(r.out().contains("QR code written to " + png + " (mode 0600"), r.out());
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    java.nio.file.Files.getPosixFilePermissions(png)));
            byte[] first = java.nio.file.Files.readAllBytes(png);
            Cli.Run again = Cli.run(daemon.socket(), "", false, "enroll", "bob", "--png", png.toString());
            assertEquals(new Cli.Run(2, "", "twofactord: --png: " + png + " exists; it is not overwritten (the QR code "
                    + "holds the secret): name a new file\n"), again);
            assertTrue(java.util.Arrays.equals(first, java.nio.file.Files.readAllBytes(png)), "the file is unchanged");
            try (var c = daemon.client()) {
                assertFalse(Json.of(c.call("USER bob")).get("pending").asBoolean(), "refused before enrolling");
            }
            Cli.Run noDir = Cli.run(daemon.socket(), "", false, "enroll", "bob", "--png", dir.resolve("none/qr.png").toString());
            assertEquals(new Cli.Run(2, "", "twofactord: --png: there is no directory " + dir.resolve("none") + "\n"), noDir);
        }
    }

    @Test
    void theTerminalHalfBlocksDecodeToTheEnrollUrl() throws Exception {
        try (TestDaemon daemon = new TestDaemon(dir).start()) {
            String url = enrolUrl(daemon);
            String text = Qr.halfBlocks(Qr.matrix(url));
            assertEquals(url, decode(fromHalfBlocks(text.lines().toList(), 6)));
        }
    }

    static boolean zbarimgAvailable() {
        if ("true".equals(System.getenv("CI"))) {
            return true; // CI installs zbar-tools: a missing zbarimg must fail there
        }
        try {
            return new ProcessBuilder("zbarimg", "--version").start().waitFor() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** Builds the percent-encoded issuer from an ISSUER reply, as the daemon encodes it. */
    static final class UrlOf {
        static String issuerLabel(String issuerReply) {
            return Json.of(issuerReply).get("issuer").asText().replace(" ", "%20");
        }
    }
}
