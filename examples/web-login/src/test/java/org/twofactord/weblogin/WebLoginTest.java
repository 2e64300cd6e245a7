package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web app over real HTTP, on the paths that need no daemon: cookies, CSRF, headers, the
 * password page, and failing closed when the daemon cannot be reached. The browser test
 * ({@link LoginBrowserIT}, run by run-browser-test.sh) covers the rest against a real daemon.
 */
class WebLoginTest {
    @TempDir
    Path dir;
    WebLogin app;
    String base;
    final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    @BeforeEach
    void start() throws IOException {
        String hash = PasswordFile.hash("alicepw".toCharArray(), PasswordFileTest.FAST, new SecureRandom());
        // No daemon listens on this socket: every call to it fails.
        WebLogin.Settings settings = new WebLogin.Settings(new Daemon(dir.resolve("absent.sock"), Duration.ofSeconds(1)),
                PasswordFile.of(Map.of("alice", hash)), Set.of("root"), false, 0);
        app = new WebLogin(settings, new TestClock(), new SecureRandom()).start();
        base = "http://127.0.0.1:" + app.port();
    }

    @AfterEach
    void stop() {
        app.stop();
    }

    HttpResponse<String> get(String path, String cookie) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path));
        if (cookie != null) {
            b.header("Cookie", cookie);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String cookie, String form) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form));
        if (cookie != null) {
            b.header("Cookie", cookie);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String cookieOf(HttpResponse<?> r) {
        String set = r.headers().firstValue("Set-Cookie").orElseThrow();
        return set.substring(0, set.indexOf(';'));
    }

    static String csrfOf(HttpResponse<String> r) {
        Matcher m = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"").matcher(r.body());
        assertTrue(m.find(), "the form carries a CSRF token");
        return m.group(1);
    }

    @Test
    void theLoginPageSetsAStrictHttpOnlyCookieAndATokenAndSafeHeaders() throws Exception {
        HttpResponse<String> r = get("/login", null);
        assertEquals(200, r.statusCode());
        String set = r.headers().firstValue("Set-Cookie").orElseThrow();
        assertTrue(set.matches("twofactord_web=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict"), set);
        csrfOf(r);
        assertEquals("no-store", r.headers().firstValue("Cache-Control").orElseThrow());
        assertEquals("DENY", r.headers().firstValue("X-Frame-Options").orElseThrow());
        assertTrue(r.headers().firstValue("Content-Security-Policy").orElseThrow().startsWith("default-src 'none'"));
        assertFalse(r.body().contains("<script"), "no scripts at all");
    }

    @Test
    void aFormWithoutTheSessionsTokenIsRefused() throws Exception {
        HttpResponse<String> page = get("/login", null);
        String cookie = cookieOf(page);
        String other = csrfOf(get("/login", null));
        assertEquals(403, post("/login", cookie, "user=alice&pass=alicepw").statusCode(), "no token");
        assertEquals(403, post("/login", cookie, "user=alice&pass=alicepw&csrf=" + other).statusCode(), "another session's token");
        assertEquals(403, post("/login", null, "user=alice&pass=alicepw&csrf=" + csrfOf(page)).statusCode(), "no cookie");
        assertEquals(403, post("/logout", cookie, "").statusCode());
    }

    @Test
    void aWrongPasswordIsTheLoginIsInvalid() throws Exception {
        HttpResponse<String> page = get("/login", null);
        String cookie = cookieOf(page);
        for (String form : new String[] {"user=alice&pass=wrong", "user=nobody&pass=alicepw", "user=bad+name&pass=x"}) {
            HttpResponse<String> r = post("/login", cookie, form + "&csrf=" + csrfOf(page));
            assertEquals(401, r.statusCode(), form);
            assertTrue(r.body().contains("The login is invalid."), form);
            assertTrue(r.headers().firstValue("Set-Cookie").isEmpty(), "no new session for a wrong password");
        }
    }

    @Test
    void withoutTheDaemonNobodyGetsInEvenWithTheRightPassword() throws Exception {
        HttpResponse<String> page = get("/login", null);
        String cookie = cookieOf(page);
        HttpResponse<String> r = post("/login", cookie, "user=alice&pass=alicepw&csrf=" + csrfOf(page));
        assertEquals(503, r.statusCode());
        assertTrue(r.body().contains(Codes.UNAVAILABLE));
        assertTrue(r.headers().firstValue("Set-Cookie").isEmpty());
        HttpResponse<String> account = get("/account", cookie);
        assertEquals(303, account.statusCode());
        assertEquals("/login", account.headers().firstValue("Location").orElseThrow());
    }

    @Test
    void pagesBehindTheLoginSendAnonymousVisitorsToIt() throws Exception {
        for (String path : new String[] {"/", "/account", "/admin", "/login/code", "/login/backup"}) {
            HttpResponse<String> r = get(path, null);
            assertEquals(303, r.statusCode(), path);
            assertEquals("/login", r.headers().firstValue("Location").orElseThrow(), path);
        }
        assertEquals(404, get("/nothing-here", null).statusCode());
    }

    @Test
    void anOversizedFormIsRefusedUnread() throws Exception {
        HttpResponse<String> page = get("/login", null);
        String big = "user=" + "a".repeat(Http.MAX_FORM_BYTES) + "&csrf=" + csrfOf(page);
        assertEquals(413, post("/login", cookieOf(page), big).statusCode());
    }
}
