package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The reseller's Manage Users over real HTTP, against a scripted daemon on a real Unix socket that
 * notes every request line. What it checks is the app's half of the contract: every request of
 * the reseller's pages carries {@code as=<the reseller>}, the app sends the names it was given
 * without deciding itself, and shows the daemon's {@code forbidden} as an error. The daemon's half
 * (what an owner may) is AuthorizationMatrixTest's; both together run in LoginBrowserIT. Not the
 * real daemon here: this module's test suite does not build it.
 */
class ResellerPagesTest {
    static final String ALL = "alicepw";

    @TempDir
    Path dir;
    ScriptedDaemon daemon;
    WebLogin app;
    String base;
    final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();

    /**
     * A stand-in for twofactord, answering as one would with an owners file where reseller1 owns
     * alice and bob, and reseller2 owns carol; the panel connects as root.
     */
    static final class ScriptedDaemon implements AutoCloseable {
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        private final AFUNIXServerSocket server;
        private final Thread thread;

        ScriptedDaemon(Path socket) throws IOException {
            server = AFUNIXServerSocket.newInstance();
            server.bind(AFUNIXSocketAddress.of(socket));
            thread = new Thread(this::serve, "scripted-daemon");
            thread.setDaemon(true);
            thread.start();
        }

        private void serve() {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    OutputStream out = s.getOutputStream();
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        lines.add(line);
                        out.write((answer(line) + "\n").getBytes(StandardCharsets.UTF_8));
                        out.flush();
                        if (line.equals("QUIT")) {
                            break;
                        }
                    }
                } catch (IOException e) {
                    // closed by the test, or a client gone: next connection
                }
            }
        }

        static String user(String name, String owner) {
            return "{\"user\":\"" + name + "\",\"enrolled\":false,\"enrolled_at\":null,\"last_used_at\":null,"
                    + "\"backup_codes_left\":0,\"failures\":0,\"locked_until\":null,\"pending\":false,"
                    + "\"required\":false,\"required_by\":null,\"owner\":" + (owner == null ? "null" : "\"" + owner + "\"") + "}";
        }

        static String answer(String line) {
            String forbidden = "ERR forbidden not an account you own (decided for reseller1, as= says)";
            List<String> words = List.of(line.split(" "));
            String command = words.get(0);
            return switch (command) {
                case "HELLO" -> "OK {\"protocol\":1,\"server\":\"scripted\"}";
                case "QUIT" -> "OK";
                case "CHECK" -> "OK {\"required\":false,\"reason\":\"not-enrolled\"}";
                case "POLICY" -> "OK {\"mode\":\"optional\",\"enabled\":true}";
                case "USER" -> "OK " + user(words.get(1), null);
                case "USERS" -> line.equals("USERS as=reseller1")
                        ? "OK {\"users\":[" + user("alice", "reseller1") + "," + user("bob", "reseller1") + ","
                          + user("reseller1", "root") + "]}"
                        : "ERR forbidden USERS is for administrators or owners";
                case "REMOVE", "UNLOCK" -> {
                    String as = words.get(words.size() - 1);
                    if (!as.equals("as=reseller1")) {
                        // Another person owns nothing here; the panel itself (no as=) is never to ask.
                        yield as.startsWith("as=") ? forbidden : "ERR bad-request the panel asked without as=";
                    }
                    List<String> names = words.subList(1, words.size() - 1);
                    if (names.contains("carol")) {
                        yield forbidden;
                    }
                    if (command.equals("UNLOCK")) {
                        yield "OK";
                    }
                    List<String> removed = names.equals(List.of("*", "except=reseller1")) ? List.of("alice", "bob") : names;
                    yield "OK {\"removed\":[" + removed.stream().map(n -> "\"" + n + "\"").collect(Collectors.joining(","))
                            + "],\"not_enrolled\":[]}";
                }
                default -> "ERR unknown-command " + command;
            };
        }

        /** The lines noted since the last call, but HELLO and QUIT, which every connection sends. */
        List<String> take() {
            synchronized (lines) {
                List<String> taken = lines.stream().filter(l -> !l.startsWith("HELLO ") && !l.equals("QUIT")).toList();
                lines.clear();
                return taken;
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    @BeforeEach
    void start() throws IOException {
        daemon = new ScriptedDaemon(dir.resolve("scripted.sock"));
        String hash = PasswordFile.hash(ALL.toCharArray(), PasswordFileTest.FAST, new SecureRandom());
        PasswordFile passwords = PasswordFile.of(Map.of("alice", hash, "reseller1", hash, "root", hash));
        WebLogin.Settings settings = new WebLogin.Settings(new Daemon(dir.resolve("scripted.sock"), Duration.ofSeconds(5)),
                passwords, Set.of("root"), false, 0);
        app = new WebLogin(settings, new TestClock(), new SecureRandom()).start();
        base = "http://127.0.0.1:" + app.port();
    }

    @AfterEach
    void stop() throws IOException {
        app.stop();
        daemon.close();
    }

    HttpResponse<String> get(String path, String cookie) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String cookie, String... pairs) throws Exception {
        StringBuilder form = new StringBuilder();
        for (int i = 0; i < pairs.length; i += 2) {
            form.append(form.isEmpty() ? "" : "&").append(pairs[i]).append('=')
                    .append(URLEncoder.encode(pairs[i + 1], StandardCharsets.UTF_8));
        }
        return http.send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", cookie)
                .POST(HttpRequest.BodyPublishers.ofString(form.toString())).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A signed-in session of {@code user} (the script asks no code): its cookie and CSRF token. */
    record Login(String cookie, String csrf) {
    }

    Login logIn(String user) throws Exception {
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/login")).build(),
                HttpResponse.BodyHandlers.ofString());
        String cookie = WebLoginTest.cookieOf(page);
        HttpResponse<String> r = post("/login", cookie, "user", user, "pass", ALL, "csrf", WebLoginTest.csrfOf(page));
        assertEquals(303, r.statusCode(), "logged in");
        String signedIn = WebLoginTest.cookieOf(r);
        HttpResponse<String> account = get("/account", signedIn);
        assertEquals(200, account.statusCode());
        return new Login(signedIn, WebLoginTest.csrfOf(account));
    }

    static List<String> checkboxes(String html) {
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("<input type=\"checkbox\" name=\"user\" value=\"([^\"]+)\"").matcher(html);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void everyRequestOfTheResellersPagesIsMadeAsTheReseller() throws Exception {
        Login s = logIn("reseller1");
        assertTrue(get("/account", s.cookie).body().contains("<a href=\"/reseller\">Manage Users</a>"), "the reseller's link");
        daemon.take();

        HttpResponse<String> page = get("/reseller", s.cookie);
        assertEquals(200, page.statusCode());
        assertEquals(List.of("alice", "bob"), checkboxes(page.body()), "the daemon's accounts; its own has no box");
        assertTrue(page.body().contains("reseller1 <span class=\"note\">(you)</span>"));
        assertEquals(List.of("USERS as=reseller1"), daemon.take());

        HttpResponse<String> reset = post("/reseller/users", s.cookie, "csrf", s.csrf, "user", "alice", "user", "bob",
                "action", "reset");
        assertEquals(303, reset.statusCode());
        assertEquals("/reseller", reset.headers().firstValue("Location").orElseThrow());
        assertEquals(List.of("REMOVE alice bob as=reseller1"), daemon.take());
        assertTrue(get("/reseller", s.cookie).body().contains("Two-factor authentication was reset for: alice, bob."));
        daemon.take();

        assertEquals(303, post("/reseller/users", s.cookie, "csrf", s.csrf, "user", "bob", "action", "unlock").statusCode());
        assertEquals(List.of("UNLOCK bob as=reseller1"), daemon.take());

        assertEquals(400, post("/reseller/reset-all", s.cookie, "csrf", s.csrf).statusCode(), "not confirmed");
        daemon.take();
        assertEquals(303, post("/reseller/reset-all", s.cookie, "csrf", s.csrf, "confirm", "yes").statusCode());
        assertEquals(List.of("REMOVE * except=reseller1 as=reseller1"), daemon.take());
        assertTrue(get("/reseller", s.cookie).body()
                .contains("Two-factor authentication was reset for 2 accounts you own: alice, bob. Your own account keeps it."));
        daemon.take();
    }

    @Test
    void aNameTheResellerDoesNotOwnGoesToTheDaemonWhichRefusesIt() throws Exception {
        Login s = logIn("reseller1");
        daemon.take();
        // carol is on no page of reseller1's: a forged form. The app passes it on; the daemon says no.
        HttpResponse<String> r = post("/reseller/users", s.cookie, "csrf", s.csrf, "user", "carol", "action", "reset");
        assertEquals(403, r.statusCode());
        assertTrue(r.body().contains("The daemon refused to reset carol: you may change only the accounts you own "
                + "(forbidden). Nothing was changed."), r.body());
        assertEquals(List.of("REMOVE carol as=reseller1", "USERS as=reseller1"), daemon.take());

        r = post("/reseller/users", s.cookie, "csrf", s.csrf, "user", "bob", "user", "carol", "action", "unlock");
        assertEquals(403, r.statusCode());
        assertTrue(r.body().contains("The daemon refused to unlock carol: you may change only the accounts you own "
                + "(forbidden). Done before the refusal: bob."), r.body());
        assertEquals(List.of("UNLOCK bob as=reseller1", "UNLOCK carol as=reseller1", "USERS as=reseller1"), daemon.take());
    }

    @Test
    void aUserTheDaemonGivesNoAccountsHasNoManageUsers() throws Exception {
        Login s = logIn("alice");
        assertFalse(get("/account", s.cookie).body().contains("Manage Users"));
        HttpResponse<String> page = get("/reseller", s.cookie);
        assertEquals(403, page.statusCode());
        assertTrue(page.body().contains("Only a reseller, an account that owns other accounts, can open this page."));
        assertTrue(daemon.take().contains("USERS as=alice"), "the daemon was asked, as alice");
        assertEquals(403, post("/reseller/users", s.cookie, "csrf", s.csrf, "user", "bob", "action", "unlock").statusCode(),
                "the daemon refuses alice's unlock of bob");
    }

    @Test
    void theAdministratorKeepsHisOwnPage() throws Exception {
        Login s = logIn("root");
        String account = get("/account", s.cookie).body();
        assertTrue(account.contains("<a href=\"/admin\">Two-Factor Authentication</a>"));
        assertFalse(account.contains("Manage Users"));
        HttpResponse<String> r = get("/reseller", s.cookie);
        assertEquals(303, r.statusCode());
        assertEquals("/admin", r.headers().firstValue("Location").orElseThrow());
    }
}
