package org.twofactord.weblogin;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One request and its response, over the JDK's {@link HttpExchange}: forms, cookies, headers. */
final class Http {
    /** No form of this app comes near this; a bigger body is refused unread. */
    static final int MAX_FORM_BYTES = 64 * 1024;
    /**
     * No scripts at all, styles only from this server, images from here or inline (the QR code),
     * forms only to this server, and no framing (clickjacking).
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /** Thrown for a request this app will not read (too big, malformed). */
    static final class BadRequest extends IOException {
        final int status;

        BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private final HttpExchange exchange;
    private Map<String, List<String>> form;

    Http(HttpExchange exchange) {
        this.exchange = exchange;
    }

    String method() {
        return exchange.getRequestMethod();
    }

    String path() {
        return exchange.getRequestURI().getPath();
    }

    /** The peer's address, for the daemon's audit log (rhost=). */
    String remoteAddress() {
        return exchange.getRemoteAddress().getAddress().getHostAddress();
    }

    /** The first value of a form field, or "" if absent. */
    String param(String name) throws IOException {
        List<String> values = form().get(name);
        return values == null || values.isEmpty() ? "" : values.get(0);
    }

    /** Every value of a form field (checkbox lists). */
    List<String> params(String name) throws IOException {
        return form().getOrDefault(name, List.of());
    }

    private Map<String, List<String>> form() throws IOException {
        if (form == null) {
            if (!"POST".equals(method())) {
                form = Map.of();
            } else {
                String type = exchange.getRequestHeaders().getFirst("Content-Type");
                if (type == null || !type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
                    throw new BadRequest(415, "forms are sent as application/x-www-form-urlencoded");
                }
                form = parseForm(readBody(exchange.getRequestBody()));
            }
        }
        return form;
    }

    private static String readBody(InputStream in) throws IOException {
        byte[] body = in.readNBytes(MAX_FORM_BYTES + 1);
        if (body.length > MAX_FORM_BYTES) {
            throw new BadRequest(413, "form too large");
        }
        return new String(body, StandardCharsets.UTF_8);
    }

    /** Parses {@code application/x-www-form-urlencoded}; keeps every value of a repeated name. */
    static Map<String, List<String>> parseForm(String body) throws BadRequest {
        Map<String, List<String>> result = new LinkedHashMap<>();
        if (body.isEmpty()) {
            return result;
        }
        for (String pair : body.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            try {
                String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                result.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } catch (IllegalArgumentException e) {
                throw new BadRequest(400, "malformed form");
            }
        }
        return result;
    }

    /** The value of a request cookie, or null. */
    String cookie(String name) {
        List<String> headers = exchange.getRequestHeaders().get("Cookie");
        if (headers == null) {
            return null;
        }
        for (String header : headers) {
            for (String part : header.split(";")) {
                String p = part.strip();
                if (p.startsWith(name + "=")) {
                    return p.substring(name.length() + 1);
                }
            }
        }
        return null;
    }

    /** Sets the session cookie: readable by no script, sent on no cross-site request. */
    void setSessionCookie(String id, boolean secure) {
        exchange.getResponseHeaders().add("Set-Cookie", Sessions.COOKIE + "=" + id
                + "; Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : ""));
    }

    void clearSessionCookie(boolean secure) {
        exchange.getResponseHeaders().add("Set-Cookie", Sessions.COOKIE + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
                + (secure ? "; Secure" : ""));
    }

    /** 303 See Other: after a POST, the browser GETs the next page. */
    void redirect(String location) throws IOException {
        exchange.getResponseHeaders().set("Location", location);
        send(303, "text/plain; charset=utf-8", new byte[0]);
    }

    void html(int status, String page) throws IOException {
        send(status, "text/html; charset=utf-8", page.getBytes(StandardCharsets.UTF_8));
    }

    void send(int status, String contentType, byte[] body) throws IOException {
        var headers = exchange.getResponseHeaders();
        headers.set("Content-Type", contentType);
        headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
        headers.set("X-Content-Type-Options", "nosniff");
        headers.set("X-Frame-Options", "DENY");
        headers.set("Referrer-Policy", "no-referrer");
        // Pages carry secrets, backup codes and tokens: no cache keeps them.
        headers.set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
        exchange.close();
    }
}
