package org.twofactord.weblogin;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient.CheckResult;
import org.twofactord.protocol.TwoFactorClient.VerifyResult;
import org.twofactord.protocol.UserNames;
import org.twofactord.weblogin.Sessions.Stage;
import org.twofactord.weblogin.WebLogin.Request;

/**
 * Logging in: the password page, then CHECK, then (when it says so) the security code page and
 * VERIFY. This is the part every login service has; docs/integration.md walks through it.
 */
final class LoginPages {
    /** The service name the daemon's audit log shows for these logins. */
    static final String SERVICE = "web-login";

    private final WebLogin app;

    LoginPages(WebLogin app) {
        this.app = app;
    }

    void form(Request r) throws IOException {
        if (r.stage() == Stage.SIGNED_IN) {
            r.http.redirect("/account");
            return;
        }
        loginPage(r, 200, null, "");
    }

    private void loginPage(Request r, int status, String error, String user) throws IOException {
        String notice = r.session == null ? null : r.session.takeNotice();
        String csrf = r.ensureSession().csrfToken();
        r.http.html(status, Html.page("Log In", null, List.of(), null,
                "<section class=\"card narrow\"><h1>Log In</h1>" + Html.notice(notice) + Html.error(error)
                        + "<form method=\"post\" action=\"/login\">" + Html.csrfField(csrf)
                        + "<label for=\"user\">Username</label>"
                        + "<input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" autocapitalize=\"none\" "
                        + "spellcheck=\"false\" required autofocus value=\"" + Html.esc(user) + "\">"
                        + "<label for=\"pass\">Password</label>"
                        + "<input id=\"pass\" name=\"pass\" type=\"password\" autocomplete=\"current-password\" required>"
                        + "<button type=\"submit\" class=\"primary\">Log in</button></form></section>"));
    }

    /** POST /login: the password, then CHECK decides the next page. */
    void password(Request r) throws IOException {
        String user = r.http.param("user").strip();
        char[] password = r.http.param("pass").toCharArray();
        boolean ok = UserNames.isValid(user) && app.settings.passwords().check(user, password);
        java.util.Arrays.fill(password, '\0');
        if (!ok) {
            WebLogin.LOG.log(System.Logger.Level.INFO, "password refused for a login attempt from " + r.rhost());
            loginPage(r, 401, "The login is invalid.", user);
            return;
        }
        CheckResult check;
        try {
            check = app.settings.daemon().call(c -> c.check(user));
        } catch (IOException e) {
            // Fail closed: without the daemon's answer nobody gets in.
            WebLogin.LOG.log(System.Logger.Level.WARNING, "CHECK " + user + " failed: " + e.getMessage());
            loginPage(r, 503, Codes.UNAVAILABLE, user);
            return;
        }
        switch (check.outcome()) {
            case REQUIRED -> {
                r.advance(Stage.NEEDS_CODE, user);
                r.http.redirect("/login/code");
            }
            case ENROLL_REQUIRED -> {
                r.advance(Stage.NEEDS_ENROLLMENT, user);
                r.http.redirect("/account");
            }
            case NOT_REQUIRED -> {
                WebLogin.LOG.log(System.Logger.Level.INFO, "login " + user + " without a code (" + check.reason() + ")");
                r.advance(Stage.SIGNED_IN, user);
                r.http.redirect("/account");
            }
        }
    }

    void codeForm(Request r, boolean backup) throws IOException {
        if (r.stage() != Stage.NEEDS_CODE) {
            r.toLoginStep();
            return;
        }
        codePage(r, 200, null, backup);
    }

    private void codePage(Request r, int status, String error, boolean backup) throws IOException {
        String action = backup ? "/login/backup" : "/login/code";
        String body = "<section class=\"card narrow\"><h1>Two-Factor Authentication</h1>"
                + "<p class=\"who-line\">Logging in as <strong>" + Html.esc(r.user()) + "</strong></p>"
                + Html.error(error)
                + (backup
                    ? "<p>Enter one of the backup codes you saved when you set up two-factor authentication, such as 12345-67890 (the dash may be left out). Each code works once.</p>"
                    : "<p>Enter the security code that your authenticator app shows.</p>")
                + "<form method=\"post\" action=\"" + action + "\">" + Html.csrfField(r.session.csrfToken())
                + (backup ? Html.codeField("code", "Backup Code", Html.CodeKind.BACKUP)
                          : Html.codeField("code", "Security Code", Html.CodeKind.TOTP))
                + "<button type=\"submit\" class=\"primary\">Log in</button></form>"
                + (backup
                    ? "<p class=\"aside\"><a href=\"/login/code\">Use the security code from your app</a></p>"
                    : "<p class=\"aside\">Lost your phone? <a href=\"/login/backup\">Use a backup code</a></p>")
                + "<p class=\"aside\"><a href=\"/login\">Log in as someone else</a></p></section>";
        r.http.html(status, Html.page("Two-Factor Authentication", null, List.of(), null, body));
    }

    /** POST /login/code and /login/backup: VERIFY, and what to show for each answer. */
    void code(Request r, boolean backup) throws IOException {
        if (r.stage() != Stage.NEEDS_CODE) {
            r.toLoginStep();
            return;
        }
        String user = r.user();
        Optional<String> code = Codes.clean(r.http.param("code"));
        if (code.isEmpty()) {
            codePage(r, 401, Codes.INVALID, backup);
            return;
        }
        VerifyResult result;
        try {
            result = app.settings.daemon().call(c -> c.verify(user, code.get(), SERVICE, r.rhost()));
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "VERIFY " + user + " failed: " + e.getMessage());
            codePage(r, 503, Codes.UNAVAILABLE, backup);
            return;
        }
        if (result.accepted()) {
            WebLogin.LOG.log(System.Logger.Level.INFO, "login " + user + " with " + result.method());
            r.advance(Stage.SIGNED_IN, user);
            if ("backup".equals(result.method())) {
                int left = result.backupLeft();
                r.session.notice("You logged in with a backup code. You have " + left
                        + (left == 1 ? " backup code" : " backup codes") + " left."
                        + (left <= 3 ? " Generate new ones on this page soon." : ""));
            }
            r.http.redirect("/account");
            return;
        }
        if (Reasons.ENROLL_REQUIRED.equals(result.reason())) {
            // The 2FA was reset while this person was typing, and the policy requires it.
            r.advance(Stage.NEEDS_ENROLLMENT, user);
            r.http.redirect("/account");
            return;
        }
        WebLogin.LOG.log(System.Logger.Level.INFO, "code refused for " + user + ": " + result.reason());
        codePage(r, 401, Codes.refusal(result, app.clock), backup);
    }
}
