package org.twofactord.weblogin;

import java.util.List;

/** HTML pieces: escaping, the page frame, messages and form fields. Every text from outside goes through {@link #esc}. */
final class Html {
    static final String PANEL_NAME = "Demo Hosting Panel";

    private Html() {
    }

    /** Escapes text for an element's content or a quoted attribute. */
    static String esc(String text) {
        if (text == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }

    /** One link of the top bar. */
    record NavLink(String href, String label, boolean current) {
    }

    /**
     * A whole page. {@code csrf} is the session's token for the log-out button, or null on the
     * login pages (no log-out there).
     */
    static String page(String title, String user, List<NavLink> nav, String csrf, String content) {
        StringBuilder sb = new StringBuilder(4096);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>").append(esc(title)).append(" – ").append(PANEL_NAME).append("</title>")
                .append("<link rel=\"stylesheet\" href=\"/style.css\"></head><body>")
                .append("<header class=\"top\"><span class=\"brand\">").append(PANEL_NAME).append("</span>");
        if (user != null) {
            sb.append("<nav>");
            for (NavLink link : nav) {
                sb.append("<a href=\"").append(esc(link.href())).append('"')
                        .append(link.current() ? " class=\"current\" aria-current=\"page\"" : "").append('>')
                        .append(esc(link.label())).append("</a>");
            }
            sb.append("</nav><span class=\"who\">").append(esc(user)).append("</span>");
            if (csrf != null) {
                sb.append("<form method=\"post\" action=\"/logout\" class=\"logout\">").append(csrfField(csrf))
                        .append("<button type=\"submit\" class=\"link\">Log out</button></form>");
            }
        }
        sb.append("</header><main>").append(content).append("</main></body></html>\n");
        return sb.toString();
    }

    static String csrfField(String token) {
        return "<input type=\"hidden\" name=\"csrf\" value=\"" + esc(token) + "\">";
    }

    static String error(String text) {
        return text == null ? "" : "<p class=\"alert error\" role=\"alert\">" + esc(text) + "</p>";
    }

    static String notice(String text) {
        return text == null ? "" : "<p class=\"alert success\" role=\"status\">" + esc(text) + "</p>";
    }

    static String info(String text) {
        return text == null ? "" : "<p class=\"alert info\">" + esc(text) + "</p>";
    }

    /** What a code field takes. */
    enum CodeKind {
        /** The app's six digits. */
        TOTP,
        /** A ten-digit backup code, with or without its dash. */
        BACKUP,
        /** Either: proofs on "Manage My Account" take both, as the daemon's own proof does. */
        EITHER
    }

    /**
     * A code field. For app codes {@code one-time-code} lets phones offer the code, and
     * {@code numeric} brings up the digit keypad (backup codes too: the dash may be left out).
     */
    static String codeField(String id, String label, CodeKind kind) {
        String pattern = kind == CodeKind.TOTP ? "[0-9 ]*" : "[0-9 \\-]*";
        String autocomplete = kind == CodeKind.BACKUP ? "off" : "one-time-code";
        return "<label for=\"" + id + "\">" + esc(label) + "</label>"
                + "<input id=\"" + id + "\" name=\"code\" type=\"text\" autocomplete=\"" + autocomplete + "\" "
                + "inputmode=\"numeric\" pattern=\"" + pattern + "\" maxlength=\"13\" required "
                + "spellcheck=\"false\" class=\"code\">";
    }
}
