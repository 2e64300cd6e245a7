package org.twofactord.weblogin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.TwoFactorException;
import org.twofactord.weblogin.Sessions.Session;
import org.twofactord.weblogin.Sessions.Stage;

/**
 * The web application: an {@link HttpServer} on 127.0.0.1, one router, and the four groups of
 * pages (log in, Manage My Account, the administrator's Two-Factor Authentication page, a
 * reseller's Manage Users).
 */
final class WebLogin {
    static final System.Logger LOG = System.getLogger("twofactord.weblogin");
    /** Loopback only: in production a TLS reverse proxy sits in front (docs/integration.md). */
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** What the app is started with. */
    record Settings(Daemon daemon, PasswordFile passwords, Set<String> admins, boolean secureCookie, int port) {
    }

    final Settings settings;
    final Sessions sessions;
    final Clock clock;
    private final LoginPages login;
    private final AccountPages account;
    private final AdminPages admin;
    private final ResellerPages reseller;
    private final byte[] css;
    private HttpServer server;
    private ExecutorService executor;

    WebLogin(Settings settings, Clock clock, SecureRandom random) throws IOException {
        this.settings = settings;
        this.clock = clock;
        this.sessions = new Sessions(clock, random);
        this.login = new LoginPages(this);
        this.account = new AccountPages(this);
        this.admin = new AdminPages(this);
        this.reseller = new ResellerPages(this);
        try (InputStream in = WebLogin.class.getResourceAsStream("style.css")) {
            if (in == null) {
                throw new IOException("style.css is missing from the jar");
            }
            this.css = in.readAllBytes();
        }
    }

    /** Binds 127.0.0.1 on the configured port (0: any free one) and starts serving. */
    WebLogin start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(LOOPBACK, settings.port()), 64);
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "web-login");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        return this;
    }

    int port() {
        return server.getAddress().getPort();
    }

    void stop() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
        }
    }

    /** One request: find the session, check the CSRF token of every POST, route. */
    private void handle(HttpExchange exchange) {
        Http http = new Http(exchange);
        try {
            Request request = new Request(http, sessions.find(http.cookie(Sessions.COOKIE)).orElse(null));
            if ("POST".equals(http.method()) && !request.csrfOk()) {
                // No session (expired, or cookies off) or a token from elsewhere: never act on it.
                http.html(403, Html.page("Session Expired", null, List.of(), null,
                        "<section class=\"card narrow\"><h1>Session Expired</h1>"
                                + Html.error("This form has expired or did not come from this site.")
                                + "<p><a href=\"/login\">Log in again</a></p></section>"));
                return;
            }
            route(request);
        } catch (Http.BadRequest e) {
            try {
                http.send(e.status, "text/plain; charset=utf-8", e.getMessage().getBytes());
            } catch (IOException ignored) {
                exchange.close();
            }
        } catch (Exception e) {
            LOG.log(System.Logger.Level.ERROR, "request " + http.method() + " " + http.path() + " failed", e);
            try {
                http.html(500, Html.page("Error", null, List.of(), null, "<section class=\"card narrow\"><h1>Error</h1>"
                        + Html.error("Something went wrong. Try again.") + "</section>"));
            } catch (IOException ignored) {
                exchange.close();
            }
        }
    }

    private void route(Request r) throws IOException {
        String key = r.http.method() + " " + r.http.path();
        switch (key) {
            case "GET /" -> home(r);
            case "GET /style.css" -> r.http.send(200, "text/css; charset=utf-8", css);
            case "GET /login" -> login.form(r);
            case "POST /login" -> login.password(r);
            case "GET /login/code" -> login.codeForm(r, false);
            case "GET /login/backup" -> login.codeForm(r, true);
            case "POST /login/code" -> login.code(r, false);
            case "POST /login/backup" -> login.code(r, true);
            case "POST /logout" -> logout(r);
            case "GET /account" -> account.show(r);
            case "POST /account/setup" -> account.setup(r);
            case "POST /account/confirm" -> account.confirm(r);
            case "POST /account/cancel" -> account.cancel(r);
            case "POST /account/change" -> account.change(r);
            case "GET /admin" -> admin.show(r);
            case "POST /admin/policy" -> admin.policy(r);
            case "POST /admin/issuer" -> admin.issuer(r);
            case "POST /admin/users" -> admin.users(r);
            case "POST /admin/reset-all" -> admin.resetAll(r);
            case "GET /reseller" -> reseller.show(r);
            case "POST /reseller/users" -> reseller.users(r);
            case "POST /reseller/reset-all" -> reseller.resetAll(r);
            default -> r.http.html(404, Html.page("Not Found", null, List.of(), null,
                    "<section class=\"card narrow\"><h1>Not Found</h1><p><a href=\"/\">Home</a></p></section>"));
        }
    }

    private void home(Request r) throws IOException {
        if (r.stage() == Stage.SIGNED_IN) {
            r.http.redirect("/account");
        } else {
            r.toLoginStep();
        }
    }

    private void logout(Request r) throws IOException {
        sessions.remove(r.session);
        r.http.clearSessionCookie(settings.secureCookie());
        r.http.redirect("/login");
    }

    boolean isAdmin(String user) {
        return user != null && settings.admins().contains(user);
    }

    /**
     * True if the daemon shows this signed-in user, not a panel administrator, owning accounts:
     * {@code USERS as=<user>} answers, and lists an account whose owner is the user (owners_file,
     * docs/integration.md). Asked once per session, for the top bar; every request of the page
     * itself is decided by the daemon again. If the daemon cannot be asked, no (asked again later).
     */
    boolean isOwner(Request r) {
        String user = r.user();
        if (r.stage() != Stage.SIGNED_IN || isAdmin(user)) {
            return false;
        }
        Boolean known = r.session.owner();
        if (known != null) {
            return known;
        }
        try {
            boolean owns = settings.daemon().call(c -> c.actingAs(user, a -> a.users()))
                    .stream().anyMatch(u -> user.equals(u.owner()));
            r.session.owner(owns);
            return owns;
        } catch (IOException e) {
            if (e instanceof TwoFactorException t && ErrorCodes.FORBIDDEN.equals(t.word())) {
                r.session.owner(false); // the daemon gives this user no accounts
                return false;
            }
            LOG.log(System.Logger.Level.WARNING, "cannot ask whether " + user + " owns accounts: " + e.getMessage());
            return false;
        }
    }

    /** The top bar's links for a signed-in user. */
    List<Html.NavLink> nav(Request r, String current) {
        List<Html.NavLink> links = new ArrayList<>();
        links.add(new Html.NavLink("/account", "Manage My Account", current.equals("/account")));
        if (isAdmin(r.user())) {
            links.add(new Html.NavLink("/admin", "Two-Factor Authentication", current.equals("/admin")));
        } else if (isOwner(r)) {
            links.add(new Html.NavLink("/reseller", "Manage Users", current.equals("/reseller")));
        }
        return links;
    }

    /** One request with its session (null if it has none), as the pages see it. */
    final class Request {
        final Http http;
        Session session;

        Request(Http http, Session session) {
            this.http = http;
            this.session = session;
        }

        Stage stage() {
            return session == null ? Stage.ANONYMOUS : session.stage();
        }

        String user() {
            return session == null ? null : session.user();
        }

        boolean csrfOk() throws IOException {
            return session != null && session.csrfMatches(http.param("csrf"));
        }

        /** Gives this visitor a session if it has none (the login form needs a CSRF token). */
        Session ensureSession() {
            if (session == null) {
                session = sessions.create();
                http.setSessionCookie(session.id(), settings.secureCookie());
            }
            return session;
        }

        /** Moves the session to {@code stage} under a new id, and sends the new cookie. */
        void advance(Stage stage, String user) {
            session = sessions.advance(ensureSession(), stage, user);
            http.setSessionCookie(session.id(), settings.secureCookie());
        }

        /** Sends the visitor to the page its stage allows. */
        void toLoginStep() throws IOException {
            switch (stage()) {
                case NEEDS_CODE -> http.redirect("/login/code");
                case NEEDS_ENROLLMENT, SIGNED_IN -> http.redirect("/account");
                default -> http.redirect("/login");
            }
        }

        String rhost() {
            return http.remoteAddress();
        }
    }
}
