package org.twofactord.weblogin;

import com.google.zxing.BarcodeFormat;
import com.google.zxing.EncodeHintType;
import com.google.zxing.WriterException;
import com.google.zxing.common.BitMatrix;
import com.google.zxing.qrcode.QRCodeWriter;
import com.google.zxing.qrcode.decoder.ErrorCorrectionLevel;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * The otpauth URL as a QR code PNG, inlined in the page as a {@code data:} URI so that the secret
 * never sits behind a URL of its own (nothing to cache, nothing to fetch twice).
 */
final class QrPng {
    /** Light modules around the code: scanners want 4. */
    static final int QUIET_ZONE = 4;
    static final int SCALE = 4;

    /** The PNG as a {@code data:} URI, and its width and height in pixels (it is square). */
    record Image(String dataUri, int size) {
        /** An {@code <img>} at its natural size: module edges stay sharp. */
        String tag(String cssClass, String alt) {
            return "<img class=\"" + cssClass + "\" alt=\"" + Html.esc(alt) + "\" width=\"" + size + "\" height=\""
                    + size + "\" src=\"" + dataUri + "\">";
        }
    }

    private QrPng() {
    }

    static byte[] png(String text) {
        BitMatrix m;
        try {
            m = new QRCodeWriter().encode(text, BarcodeFormat.QR_CODE, 0, 0,
                    Map.of(EncodeHintType.ERROR_CORRECTION, ErrorCorrectionLevel.M, EncodeHintType.MARGIN, 0));
        } catch (WriterException e) {
            throw new IllegalArgumentException("cannot encode a QR code: " + e.getMessage(), e);
        }
        int size = (m.getWidth() + 2 * QUIET_ZONE) * SCALE;
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_BINARY);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int mx = x / SCALE - QUIET_ZONE;
                int my = y / SCALE - QUIET_ZONE;
                boolean dark = mx >= 0 && my >= 0 && mx < m.getWidth() && my < m.getHeight() && m.get(mx, my);
                image.setRGB(x, y, dark ? 0xff000000 : 0xffffffff);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static Image image(String text) {
        byte[] png = png(text);
        // Width: bytes 16-19 of the PNG's IHDR chunk.
        int size = ((png[16] & 0xff) << 24) | ((png[17] & 0xff) << 16) | ((png[18] & 0xff) << 8) | (png[19] & 0xff);
        return new Image("data:image/png;base64," + Base64.getEncoder().encodeToString(png), size);
    }
}
