package org.twofactord.weblogin;

import org.twofactord.protocol.Keys;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorClient.Enrollment;
import org.twofactord.protocol.TwoFactorClient.PolicyState;
import org.twofactord.protocol.TwoFactorClient.UserInfo;
import org.twofactord.protocol.TwoFactorClient.VerifyResult;
import org.twofactord.protocol.TwoFactorException;
import org.twofactord.weblogin.Sessions.Stage;
import org.twofactord.weblogin.WebLogin.Request;

/**
 * "Manage My Account": a user's own two-factor authentication. Set up (QR code, account, key,
 * confirm with a code, backup codes shown once), and, for a configured account, new backup codes,
 * reconfigure or remove, each only after a current code.
 *
 * <p>This service talks to the daemon with the admin role, so the daemon does not ask for the
 * {@code code=} proof it asks of a local user changing his own account (docs/protocol.md, "Proof
 * for self changes"). The page asks instead: it sends the typed code as a VERIFY, and goes on only
 * if the daemon accepted it as a TOTP or backup code. That VERIFY is checked and consumed like a
 * login: replays are refused and wrong codes count towards the lockout.
 */
final class AccountPages {
    /** The service name the daemon's audit log shows for the proofs on this page. */
    static final String SERVICE = "web-login-account";
    static final String DISABLED = "Two-factor authentication is disabled on this server.";

    private final WebLogin app;

    AccountPages(WebLogin app) {
        this.app = app;
    }

    /** What the page shows about the account. */
    private record State(PolicyState policy, UserInfo info) {
        boolean disabled() {
            return "disabled".equals(policy.mode());
        }

        boolean required() {
            return "required".equals(policy.mode());
        }
    }

    private static State state(TwoFactorClient c, String user) throws IOException {
        return new State(c.policy(), c.userInfo(user));
    }

    /** Signed in, or sent here to enrol: who may see this page. */
    private static boolean allowed(Request r) {
        return r.stage() == Stage.SIGNED_IN || r.stage() == Stage.NEEDS_ENROLLMENT;
    }

    void show(Request r) throws IOException {
        if (!allowed(r)) {
            r.toLoginStep();
            return;
        }
        Enrollment pending = r.session.pending(app.clock.instant());
        if (pending != null) {
            setupPage(r, 200, pending, null);
        } else {
            statusPage(r, 200, r.session.takeNotice(), null);
        }
    }

    private void statusPage(Request r, int status, String notice, String error) throws IOException {
        String user = r.user();
        State state;
        try {
            state = app.settings.daemon().call(c -> state(c, user));
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "USER " + user + " failed: " + e.getMessage());
            render(r, 503, "<section class=\"card\"><h1>Manage My Account</h1>" + Html.error(Codes.UNAVAILABLE) + "</section>");
            return;
        }
        StringBuilder sb = new StringBuilder("<section class=\"card\"><h1>Manage My Account</h1>"
                + "<h2>Two-Factor Authentication</h2>");
        sb.append(Html.notice(notice)).append(Html.error(error));
        UserInfo info = state.info();
        if (r.stage() == Stage.NEEDS_ENROLLMENT) {
            sb.append(Html.info("The server administrator requires two-factor authentication for every account. "
                    + "Set it up to finish logging in."));
        }
        if (state.disabled()) {
            sb.append(Html.info(info.enrolled()
                    ? DISABLED + " Your configuration is kept, but logins do not ask for a code, and it cannot be "
                      + "changed here, until the administrator enables it again."
                    : DISABLED));
        } else if (!info.enrolled()) {
            sb.append("<p class=\"state off\">Two-factor authentication is <strong>not configured</strong> for your account.</p>")
                    .append("<p>With two-factor authentication, logging in needs your password and a security code "
                            + "from an app on your phone, such as Google Authenticator, Microsoft Authenticator or FreeOTP.</p>")
                    .append("<form method=\"post\" action=\"/account/setup\">").append(Html.csrfField(r.session.csrfToken()))
                    .append("<button type=\"submit\" class=\"primary\">Set Up Two-Factor Authentication</button></form>");
        } else {
            sb.append("<p class=\"state on\">Two-factor authentication is <strong>configured</strong> for your account.</p>")
                    .append("<dl class=\"facts\"><dt>Configured</dt><dd>").append(Html.esc(time(info.enrolledAt())))
                    .append("</dd><dt>Last used</dt><dd>").append(Html.esc(info.lastUsedAt() == null ? "never" : time(info.lastUsedAt())))
                    .append("</dd><dt>Backup codes left</dt><dd>").append(info.backupCodesLeft()).append("</dd></dl>")
                    .append("<h3>Change your configuration</h3>")
                    .append("<p>To make a change, enter a current security code from your app, or one of your backup codes.</p>")
                    .append("<form method=\"post\" action=\"/account/change\">").append(Html.csrfField(r.session.csrfToken()))
                    .append(Html.codeField("code", "Security Code", Html.CodeKind.EITHER))
                    .append("<div class=\"buttons\">")
                    .append("<button type=\"submit\" name=\"action\" value=\"backup\">Generate New Backup Codes</button>")
                    .append("<button type=\"submit\" name=\"action\" value=\"reconfigure\">Reconfigure</button>");
            if (!state.required()) {
                sb.append("<button type=\"submit\" name=\"action\" value=\"remove\" class=\"danger\">Remove Two-Factor Authentication</button>");
            }
            sb.append("</div></form>");
            if (state.required()) {
                sb.append("<p class=\"aside\">The administrator requires two-factor authentication: it can be reconfigured but not removed.</p>");
            }
        }
        sb.append("</section>");
        render(r, status, sb.toString());
    }

    private void setupPage(Request r, int status, Enrollment e, String error) throws IOException {
        String body = "<section class=\"card\"><h1>Set Up Two-Factor Authentication</h1>" + Html.error(error)
                + "<ol class=\"steps\"><li><p>Scan this QR code with your authenticator app:</p>"
                + QrPng.image(e.otpauthUrl()).tag("qr", "QR code for the authenticator app")
                + "</li><li><p>Or, if you cannot scan it, enter these details in the app:</p>"
                + "<dl class=\"facts\"><dt>Issuer</dt><dd id=\"issuer\">" + Html.esc(e.issuer()) + "</dd>"
                + "<dt>Account</dt><dd id=\"account\">" + Html.esc(e.account()) + "</dd>"
                + "<dt>Key</dt><dd id=\"key\" class=\"key\">" + Html.esc(grouped(e.secret())) + "</dd>"
                + "<dt>Type</dt><dd>Time-based, " + e.digits() + " digits, every " + e.period() + " seconds</dd></dl></li>"
                + "<li><p>Enter the security code that the app generates:</p>"
                + "<form method=\"post\" action=\"/account/confirm\">" + Html.csrfField(r.session.csrfToken())
                + Html.codeField("code", "Security Code", Html.CodeKind.TOTP)
                + "<button type=\"submit\" class=\"primary\">Configure Two-Factor Authentication</button></form></li></ol>"
                + "<form method=\"post\" action=\"/account/cancel\" class=\"aside\">" + Html.csrfField(r.session.csrfToken())
                + "<button type=\"submit\" class=\"link\">Cancel</button></form></section>";
        render(r, status, body);
    }

    private void backupCodesPage(Request r, String headline, List<String> codes) throws IOException {
        StringBuilder sb = new StringBuilder("<section class=\"card\"><h1>Backup Codes</h1>").append(Html.notice(headline))
                .append("<p>Save these backup codes in a safe place. If you lose your phone, each one logs you in once "
                        + "in place of a security code. <strong>They are shown only this once.</strong></p><ol class=\"codes\">");
        for (String code : codes) {
            sb.append("<li><code>").append(Html.esc(code)).append("</code></li>");
        }
        sb.append("</ol><p><a class=\"button primary\" href=\"/account\">Continue</a></p></section>");
        render(r, 200, sb.toString());
    }

    private void render(Request r, int status, String content) throws IOException {
        boolean signedIn = r.stage() == Stage.SIGNED_IN;
        r.http.html(status, Html.page("Manage My Account", r.user(),
                signedIn ? app.nav(r, "/account") : List.of(), r.session.csrfToken(), content));
    }

    /** POST /account/setup: a first enrolment. ENROLL, then the setup page shows the QR code. */
    void setup(Request r) throws IOException {
        if (!allowed(r)) {
            r.toLoginStep();
            return;
        }
        String user = r.user();
        String error;
        try {
            error = app.settings.daemon().call(c -> {
                State state = state(c, user);
                if (state.disabled()) {
                    return DISABLED;
                }
                if (state.info().enrolled()) {
                    // A configured account changes only through /account/change, with a code.
                    return "Two-factor authentication is already configured for your account.";
                }
                keepPending(r, c.enroll(user, null));
                return null;
            });
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "ENROLL " + user + " failed: " + e.getMessage());
            error = Codes.UNAVAILABLE;
        }
        if (error != null) {
            statusPage(r, 409, null, error);
        } else {
            r.http.redirect("/account");
        }
    }

    private void keepPending(Request r, Enrollment e) {
        r.session.pending(e, app.clock.instant().plusSeconds(e.expiresInS()));
    }

    /** POST /account/confirm: CONFIRM with the typed code; the backup codes are shown once. */
    void confirm(Request r) throws IOException {
        if (!allowed(r)) {
            r.toLoginStep();
            return;
        }
        String user = r.user();
        Enrollment pending = r.session.pending(app.clock.instant());
        if (pending == null) {
            statusPage(r, 409, null, "The setup has expired. Start again.");
            return;
        }
        Optional<String> code = Codes.clean(r.http.param("code"));
        if (code.isEmpty()) {
            setupPage(r, 401, pending, Codes.INVALID);
            return;
        }
        List<String> backupCodes;
        try {
            backupCodes = app.settings.daemon().call(c -> c.confirm(user, code.get()));
        } catch (TwoFactorException e) {
            if (Reasons.INVALID.equals(e.word())) {
                setupPage(r, 401, pending, Codes.INVALID + skewHint(e));
            } else if (Reasons.NO_PENDING.equals(e.word())) {
                r.session.pending(null, null);
                statusPage(r, 409, null, "The setup has expired. Start again.");
            } else {
                WebLogin.LOG.log(System.Logger.Level.WARNING, "CONFIRM " + user + " failed: " + e.getMessage());
                setupPage(r, 503, pending, Codes.UNAVAILABLE);
            }
            return;
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "CONFIRM " + user + " failed: " + e.getMessage());
            setupPage(r, 503, pending, Codes.UNAVAILABLE);
            return;
        }
        r.session.pending(null, null);
        WebLogin.LOG.log(System.Logger.Level.INFO, "2FA configured for " + user);
        if (r.stage() == Stage.NEEDS_ENROLLMENT) {
            // The enrolment the policy asked for is done: this login is complete.
            r.advance(Stage.SIGNED_IN, user);
        }
        backupCodesPage(r, "Two-factor authentication is now configured for your account.", backupCodes);
    }

    /** CONFIRM's hint when the code was right for another time: the phone's clock is off. */
    private static String skewHint(TwoFactorException e) {
        var body = e.reply().body();
        if (body == null || !body.has(Keys.CLOCK_SKEW_S)) {
            return "";
        }
        long skew = body.get(Keys.CLOCK_SKEW_S).asLong();
        return " The code would be right " + Math.abs(skew) + " seconds " + (skew > 0 ? "from now" : "ago")
                + ": check that the time on your phone is set automatically.";
    }

    void cancel(Request r) throws IOException {
        if (!allowed(r)) {
            r.toLoginStep();
            return;
        }
        r.session.pending(null, null);
        r.http.redirect("/account");
    }

    /** What a change came to: an error to show, or its result. */
    private record Change(String error, List<String> backupCodes, Enrollment enrollment, boolean removed) {
        static Change refused(String error) {
            return new Change(error, null, null, false);
        }
    }

    /** POST /account/change: new backup codes, reconfigure or remove, each after a current code. */
    void change(Request r) throws IOException {
        if (r.stage() != Stage.SIGNED_IN) {
            r.toLoginStep();
            return;
        }
        String user = r.user();
        String action = r.http.param("action");
        if (!List.of("backup", "reconfigure", "remove").contains(action)) {
            statusPage(r, 400, null, "Choose what to change.");
            return;
        }
        Optional<String> code = Codes.clean(r.http.param("code"));
        if (code.isEmpty()) {
            statusPage(r, 401, null, Codes.INVALID);
            return;
        }
        Change change;
        try {
            change = app.settings.daemon().call(c -> {
                State state = state(c, user);
                if (!state.info().enrolled()) {
                    return Change.refused("Two-factor authentication is not configured for your account.");
                }
                if (state.disabled()) {
                    // VERIFY would answer OK without looking at the code: no proof can be had.
                    return Change.refused(DISABLED);
                }
                if (action.equals("remove") && state.required()) {
                    return Change.refused("The administrator requires two-factor authentication: it cannot be removed.");
                }
                VerifyResult proof = c.verify(user, code.get(), SERVICE, r.rhost());
                if (!proof.accepted() || !("totp".equals(proof.method()) || "backup".equals(proof.method()))) {
                    WebLogin.LOG.log(System.Logger.Level.INFO, "proof refused for " + user + ": "
                            + (proof.accepted() ? "method " + proof.method() : proof.reason()));
                    return Change.refused(proof.accepted() ? Codes.INVALID : Codes.refusal(proof, app.clock));
                }
                return switch (action) {
                    case "backup" -> new Change(null, c.backup(user, null), null, false);
                    case "reconfigure" -> new Change(null, null, c.enroll(user, null), false);
                    default -> {
                        c.remove(List.of(user), null);
                        yield new Change(null, null, null, true);
                    }
                };
            });
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, action + " for " + user + " failed: " + e.getMessage());
            change = Change.refused(Codes.UNAVAILABLE);
        }
        if (change.error() != null) {
            statusPage(r, 409, null, change.error());
        } else if (change.backupCodes() != null) {
            WebLogin.LOG.log(System.Logger.Level.INFO, "new backup codes for " + user);
            backupCodesPage(r, "New backup codes replace your old ones.", change.backupCodes());
        } else if (change.enrollment() != null) {
            keepPending(r, change.enrollment());
            r.http.redirect("/account");
        } else {
            WebLogin.LOG.log(System.Logger.Level.INFO, "2FA removed by " + user);
            r.session.notice("Two-factor authentication is removed from your account.");
            r.http.redirect("/account");
        }
    }

    /** The key in groups of four, as authenticator apps show it (they ignore the spaces). */
    static String grouped(String base32) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < base32.length(); i += 4) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(base32, i, Math.min(base32.length(), i + 4));
        }
        return sb.toString();
    }

    /** "2026-11-23T10:00:00Z" as "2026-11-23 10:00 UTC". */
    static String time(String iso) {
        if (iso == null || iso.length() < 16) {
            return iso == null ? "" : iso;
        }
        return iso.substring(0, 10) + " " + iso.substring(11, 16) + " UTC";
    }
}
