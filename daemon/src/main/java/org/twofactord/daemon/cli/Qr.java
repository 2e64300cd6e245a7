package org.twofactord.daemon.cli;

import com.google.zxing.BarcodeFormat;
import com.google.zxing.EncodeHintType;
import com.google.zxing.WriterException;
import com.google.zxing.common.BitMatrix;
import com.google.zxing.qrcode.QRCodeWriter;
import com.google.zxing.qrcode.decoder.ErrorCorrectionLevel;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/** QR codes of otpauth URLs: as terminal text (Unicode half blocks) and as PNG. */
public final class Qr {
    /** Light modules around the code; scanners want at least 4, 2 reads well on a terminal. */
    static final int TEXT_QUIET_ZONE = 2;
    static final int PNG_QUIET_ZONE = 4;
    static final int PNG_SCALE = 8;

    private Qr() {
    }

    /** The QR matrix (true = dark module), without a quiet zone. */
    public static BitMatrix matrix(String text) {
        try {
            return new QRCodeWriter().encode(text, BarcodeFormat.QR_CODE, 0, 0,
                    Map.of(EncodeHintType.ERROR_CORRECTION, ErrorCorrectionLevel.M, EncodeHintType.MARGIN, 0));
        } catch (WriterException e) {
            throw new IllegalArgumentException("cannot encode a QR code: " + e.getMessage(), e);
        }
    }

    /**
     * The code as lines of half blocks, two module rows per line. Light modules are drawn (as
     * {@code qrencode -t UTF8} does), so on the usual light-on-dark terminal the code shows dark
     * on light, the way a phone camera expects it.
     */
    public static String halfBlocks(BitMatrix m) {
        int size = m.getWidth() + 2 * TEXT_QUIET_ZONE;
        StringBuilder sb = new StringBuilder();
        for (int y = 0; y < size; y += 2) {
            for (int x = 0; x < size; x++) {
                boolean top = light(m, x - TEXT_QUIET_ZONE, y - TEXT_QUIET_ZONE);
                boolean bottom = y + 1 < size ? light(m, x - TEXT_QUIET_ZONE, y + 1 - TEXT_QUIET_ZONE) : false;
                sb.append(top ? (bottom ? '█' : '▀') : (bottom ? '▄' : ' '));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static boolean light(BitMatrix m, int x, int y) {
        return x < 0 || y < 0 || x >= m.getWidth() || y >= m.getHeight() || !m.get(x, y);
    }

    /**
     * Writes the code as a black-on-white PNG with a 4-module quiet zone into {@code file}, a new
     * file of mode 0600: the code holds the secret. An existing file is never overwritten
     * ({@link java.nio.file.FileAlreadyExistsException}); a file left half written is removed.
     */
    public static void png(BitMatrix m, Path file) throws IOException {
        int size = (m.getWidth() + 2 * PNG_QUIET_ZONE) * PNG_SCALE;
        BufferedImage image = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_BINARY);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int mx = x / PNG_SCALE - PNG_QUIET_ZONE;
                int my = y / PNG_SCALE - PNG_QUIET_ZONE;
                image.setRGB(x, y, light(m, mx, my) ? 0xFFFFFF : 0x000000);
            }
        }
        try (OutputStream out = Channels.newOutputStream(Files.newByteChannel(file,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))) {
            // In memory: ImageIO's default cache would put the image in a temporary file.
            try (ImageOutputStream cached = new MemoryCacheImageOutputStream(out)) {
                if (!ImageIO.write(image, "png", cached)) {
                    throw new IOException("no PNG writer in this JVM");
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!(e instanceof java.nio.file.FileAlreadyExistsException)) {
                Files.deleteIfExists(file);
            }
            throw e;
        }
    }
}
