package org.twofactord.daemon.cli;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import org.twofactord.daemon.totp.Base32;

/**
 * Readers of the state files of the tools twofactord replaces. Each gives the users it could
 * bring over, with notes on what it could not honour, and the users it had to skip with why.
 */
final class Importers {
    private Importers() {
    }

    /** One user to import: the Base32 secret and the codes that become backup codes. */
    record Found(String user, String base32Secret, List<String> backupCodes, int digits, List<String> notes) {
        @Override
        public String toString() {
            return "Found[" + user + ", secret=***, " + backupCodes.size() + " codes]";
        }
    }

    /** A user (or line) that cannot be imported, and why. */
    record Skipped(String what, String why) {
    }

    record Result(List<Found> found, List<Skipped> skipped) {
    }

    /**
     * A {@code ~/.google_authenticator} file: the Base32 secret on line 1, option lines starting
     * with {@code " }, then 8-digit scratch codes one a line.
     */
    static Result googleAuthenticator(String user, List<String> lines) {
        List<Found> found = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        if (lines.isEmpty() || lines.get(0).isBlank()) {
            skipped.add(new Skipped(user, "the file is empty"));
            return new Result(found, skipped);
        }
        String secret = lines.get(0).strip().toUpperCase(Locale.ROOT);
        try {
            byte[] raw = Base32.decode(secret);
            if (raw.length < 10) {
                skipped.add(new Skipped(user, "the secret is shorter than 80 bits"));
                return new Result(found, skipped);
            }
            secret = Base32.encode(raw);
        } catch (IllegalArgumentException e) {
            skipped.add(new Skipped(user, "line 1 is not a Base32 secret"));
            return new Result(found, skipped);
        }
        List<String> notes = new ArrayList<>();
        List<String> scratch = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("\"")) {
                String[] words = line.substring(1).strip().split("\\s+");
                String option = words[0];
                switch (option) {
                    case "TOTP_AUTH" -> { }
                    case "HOTP_COUNTER" -> {
                        skipped.add(new Skipped(user, "counter-based HOTP (\" HOTP_COUNTER) is not supported"));
                        return new Result(List.of(), skipped);
                    }
                    case "STEP_SIZE" -> {
                        if (words.length < 2 || !words[1].equals("30")) {
                            skipped.add(new Skipped(user, "a step size other than 30 s (\" STEP_SIZE) is not supported"));
                            return new Result(List.of(), skipped);
                        }
                    }
                    case "WINDOW_SIZE" -> notes.add("\" WINDOW_SIZE is not honoured per user: the daemon's window setting applies");
                    case "DISALLOW_REUSE" -> notes.add("\" DISALLOW_REUSE: twofactord always refuses reused codes");
                    case "RATE_LIMIT" -> notes.add("\" RATE_LIMIT is replaced by the daemon's lockout (max_failures, lockout_s)");
                    case "TIME_SKEW" -> notes.add("\" TIME_SKEW is not honoured: keep the server's clock synchronised");
                    default -> notes.add("\" " + option + " is not known and was ignored");
                }
                continue;
            }
            if (line.matches("\\d{8}")) {
                if (scratch.size() < 10) {
                    scratch.add(line);
                } else {
                    notes.add("more than 10 scratch codes: the rest were not imported");
                }
            } else {
                notes.add("line " + (i + 1) + " is neither an option nor a scratch code and was ignored");
            }
        }
        if (!scratch.isEmpty()) {
            notes.add(scratch.size() + " scratch code(s) imported as backup codes");
        }
        found.add(new Found(user, secret, scratch, 6, notes));
        return new Result(found, skipped);
    }

    /**
     * A pam_oath users file: {@code TYPE USER PIN SECRET [COUNTER [LASTOTP TIME]]}, with TYPE
     * {@code HOTP/T30} (TOTP, 6 digits), {@code HOTP/T30/8}, or {@code HOTP} (counter-based, not
     * supported), PIN {@code -} for none, and the secret in hex.
     */
    static Result pamOath(List<String> lines) {
        List<Found> found = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+");
            String where = "line " + (i + 1);
            if (f.length < 4) {
                skipped.add(new Skipped(where, "expected TYPE USER PIN SECRET"));
                continue;
            }
            String type = f[0].toUpperCase(Locale.ROOT);
            String user = f[1];
            String[] parts = type.split("/");
            if (!parts[0].equals("HOTP") || parts.length < 2 || !parts[1].startsWith("T")) {
                skipped.add(new Skipped(user, "counter-based " + f[0] + " is not supported (only HOTP/T30, which is TOTP)"));
                continue;
            }
            if (!parts[1].equals("T30")) {
                skipped.add(new Skipped(user, "a step of " + parts[1].substring(1) + " s is not supported (only 30 s)"));
                continue;
            }
            int digits = parts.length > 2 ? parseDigits(parts[2]) : 6;
            if (digits == 0) {
                skipped.add(new Skipped(user, f[0] + ": only 6 or 8 digits are supported"));
                continue;
            }
            if (!f[2].equals("-")) {
                skipped.add(new Skipped(user, "a pam_oath PIN is not supported; import this user without one"));
                continue;
            }
            byte[] raw;
            try {
                raw = HexFormat.of().parseHex(f[3]);
            } catch (IllegalArgumentException e) {
                skipped.add(new Skipped(user, "the secret is not hex"));
                continue;
            }
            if (raw.length < 10) {
                skipped.add(new Skipped(user, "the secret is shorter than 80 bits"));
                continue;
            }
            found.add(new Found(user, Base32.encode(raw), List.of(), digits, List.of()));
        }
        return new Result(found, skipped);
    }

    private static int parseDigits(String s) {
        return s.equals("6") ? 6 : s.equals("8") ? 8 : 0;
    }
}
