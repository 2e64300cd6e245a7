package org.twofactord.weblogin;

import org.twofactord.protocol.Keys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorClient.IssuerState;
import org.twofactord.protocol.TwoFactorClient.PolicyState;
import org.twofactord.protocol.TwoFactorClient.UserInfo;
import org.twofactord.protocol.TwoFactorException;
import org.twofactord.protocol.UserNames;
import org.twofactord.weblogin.Sessions.Stage;
import org.twofactord.weblogin.WebLogin.Request;

/**
 * The administrator's "Two-Factor Authentication" page, after WHM's: the security policy, the
 * issuer, and "Manage Users" (every user's state, reset selected users, reset all but one's own).
 * Only the panel's administrators (--admin) see it, and only once fully logged in.
 */
final class AdminPages {
    /** A REMOVE line stays well under the protocol's 1024 bytes; longer lists go in several. */
    static final int MAX_REMOVE_LINE = 900;
    private static final Map<String, String> POLICY_WORDS = Map.of(
            "disabled", "DISABLE", "optional", "ENABLE", "required", "REQUIRE");
    private static final Map<String, String> POLICY_NAMES = Map.of(
            "disabled", "Disabled", "optional", "Enabled", "required", "Required");

    private final WebLogin app;

    AdminPages(WebLogin app) {
        this.app = app;
    }

    /** True if this request may use the page; otherwise the answer has been sent. */
    private boolean allowed(Request r) throws IOException {
        if (r.stage() != Stage.SIGNED_IN) {
            r.toLoginStep();
            return false;
        }
        if (!app.isAdmin(r.user())) {
            r.http.html(403, Html.page("Access Denied", r.user(), app.nav(r, ""), r.session.csrfToken(),
                    "<section class=\"card\"><h1>Access Denied</h1>"
                            + Html.error("Only the server administrator can open this page.") + "</section>"));
            return false;
        }
        return true;
    }

    private record State(PolicyState policy, IssuerState issuer, List<UserInfo> users) {
    }

    void show(Request r) throws IOException {
        if (allowed(r)) {
            page(r, 200, r.session.takeNotice(), null);
        }
    }

    private void page(Request r, int status, String notice, String error) throws IOException {
        State state;
        try {
            state = app.settings.daemon().call(c -> new State(c.policy(), c.issuer(), c.users()));
        } catch (IOException e) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "admin page: " + e.getMessage());
            render(r, 503, Html.error(Codes.UNAVAILABLE));
            return;
        }
        String csrf = Html.csrfField(r.session.csrfToken());
        StringBuilder sb = new StringBuilder(Html.notice(notice)).append(Html.error(error));

        sb.append("<section class=\"card\"><h2>Security Policy</h2><form method=\"post\" action=\"/admin/policy\">")
                .append(csrf).append("<fieldset class=\"choices\"><legend>Two-factor authentication for this server</legend>");
        policyChoice(sb, state, "disabled", "logins never ask for a security code.");
        policyChoice(sb, state, "optional", "users who set up two-factor authentication must give a security code to log in.");
        policyChoice(sb, state, "required", "every user must give a security code; users without one set it up at their next login.");
        sb.append("</fieldset><button type=\"submit\" class=\"primary\">Save</button></form></section>");

        sb.append("<section class=\"card\"><h2>Issuer</h2><p>The name that authenticator apps show beside the codes of this server")
                .append(state.issuer().isDefault() ? " (now the default: the server's host name)" : "")
                .append(". New setups use it; existing ones keep working.</p>")
                .append("<form method=\"post\" action=\"/admin/issuer\">").append(csrf)
                .append("<label for=\"issuer\">Issuer</label><input id=\"issuer\" name=\"issuer\" type=\"text\" maxlength=\"64\" value=\"")
                .append(Html.esc(state.issuer().issuer())).append("\">")
                .append("<div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"save\" class=\"primary\">Save</button>")
                .append("<button type=\"submit\" name=\"action\" value=\"reset\">Reset to Default</button></div></form></section>");

        sb.append("<section class=\"card\"><h2>Manage Users</h2><form method=\"post\" action=\"/admin/users\">").append(csrf)
                .append(USERS_TABLE_HEAD);
        for (UserInfo u : allUsers(state.users())) {
            userRow(sb, u, null);
        }
        sb.append("</tbody></table><div class=\"buttons\">")
                .append("<button type=\"submit\" name=\"action\" value=\"reset\" class=\"danger\">Reset Selected Users</button>")
                .append("<button type=\"submit\" name=\"action\" value=\"unlock\">Unlock Selected Users</button></div></form>")
                .append("<form method=\"post\" action=\"/admin/reset-all\" class=\"reset-all\">").append(csrf)
                .append("<label class=\"check\"><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> ")
                .append("Reset two-factor authentication for every user except me (").append(Html.esc(r.user())).append(")</label>")
                .append("<button type=\"submit\" class=\"danger\">Reset All Users</button></form></section>");
        render(r, status, sb.toString());
    }

    /** The head of the Manage Users table, up to its body's rows. */
    static final String USERS_TABLE_HEAD = "<table class=\"users\"><thead><tr><th><span class=\"sr-only\">Select</span></th>"
            + "<th>User</th><th>Status</th><th>Configured</th><th>Last used</th><th>Backup codes</th><th>Failed attempts</th>"
            + "</tr></thead><tbody>";

    /**
     * One row of the Manage Users table. A row with a {@code note} (shown after the name) has no
     * checkbox: the reseller's own account, which it changes on Manage My Account.
     */
    static void userRow(StringBuilder sb, UserInfo u, String note) {
        String id = "u-" + Html.esc(u.user());
        if (note == null) {
            sb.append("<tr><td><input type=\"checkbox\" name=\"user\" value=\"").append(Html.esc(u.user()))
                    .append("\" id=\"").append(id).append("\"></td><td><label for=\"").append(id).append("\">")
                    .append(Html.esc(u.user())).append("</label></td><td>");
        } else {
            sb.append("<tr><td></td><td>").append(Html.esc(u.user())).append(" <span class=\"note\">")
                    .append(Html.esc(note)).append("</span></td><td>");
        }
        sb.append(status(u)).append("</td><td>")
                .append(Html.esc(u.enrolled() ? AccountPages.time(u.enrolledAt()) : "")).append("</td><td>")
                .append(Html.esc(u.enrolled() ? (u.lastUsedAt() == null ? "never" : AccountPages.time(u.lastUsedAt())) : ""))
                .append("</td><td>").append(u.enrolled() ? Integer.toString(u.backupCodesLeft()) : "")
                .append("</td><td>").append(u.enrolled() ? Integer.toString(u.failures()) : "").append("</td></tr>");
    }

    private static void policyChoice(StringBuilder sb, State state, String mode, String text) {
        sb.append("<label class=\"choice\"><input type=\"radio\" name=\"mode\" value=\"").append(mode).append('"')
                .append(mode.equals(state.policy().mode()) ? " checked" : "").append("> <strong>")
                .append(POLICY_NAMES.get(mode)).append("</strong>: ").append(Html.esc(text)).append("</label>");
    }

    /** The daemon's users (enrolled or pending) and the panel's own accounts, by name. */
    private List<UserInfo> allUsers(List<UserInfo> known) {
        Map<String, UserInfo> byName = new TreeMap<>();
        for (String name : app.settings.passwords().users()) {
            byName.put(name, new UserInfo(name, false, null, null, 0, 0, null, false, false, null, null));
        }
        for (UserInfo u : known) {
            byName.put(u.user(), u);
        }
        return new ArrayList<>(byName.values());
    }

    private static String status(UserInfo u) {
        String s = u.enrolled() ? "<span class=\"badge on\">Configured</span>"
                : u.pending() ? "<span class=\"badge pending\">Setting up</span>"
                : "<span class=\"badge off\">Not configured</span>";
        if (u.lockedUntil() != null) {
            String until = u.lockedUntil().length() >= 19 ? u.lockedUntil().substring(11, 19) + " UTC" : u.lockedUntil();
            s += " <span class=\"badge locked\">Locked until " + Html.esc(until) + "</span>";
        }
        return s;
    }

    private void render(Request r, int status, String content) throws IOException {
        r.http.html(status, Html.page("Two-Factor Authentication", r.user(), app.nav(r, "/admin"),
                r.session.csrfToken(), "<h1 class=\"page\">Two-Factor Authentication</h1>" + content));
    }

    /** POST /admin/policy. Changing the policy is for uid 0 only: a panel not run as root is told no. */
    void policy(Request r) throws IOException {
        if (!allowed(r)) {
            return;
        }
        String mode = r.http.param("mode");
        String word = POLICY_WORDS.get(mode);
        if (word == null) {
            page(r, 400, null, "Choose a policy.");
            return;
        }
        try {
            PolicyState now = app.settings.daemon().call(c -> c.setPolicy(word));
            WebLogin.LOG.log(System.Logger.Level.INFO, r.user() + " set the policy to " + now.mode());
            done(r, "The security policy is now " + POLICY_NAMES.getOrDefault(now.mode(), now.mode()) + ".");
        } catch (IOException e) {
            page(r, 409, null, refusal(e, "change the security policy"));
        }
    }

    /** POST /admin/issuer: set it, or back to the host name. */
    void issuer(Request r) throws IOException {
        if (!allowed(r)) {
            return;
        }
        boolean reset = "reset".equals(r.http.param("action"));
        String text = r.http.param("issuer").strip();
        if (!reset && (text.isEmpty() || text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0)) {
            page(r, 400, null, "An issuer is 1 to 64 printable characters without ':'.");
            return;
        }
        try {
            IssuerState now = app.settings.daemon().call(c -> reset ? c.resetIssuer() : c.setIssuer(text));
            done(r, "The issuer is now \u201c" + now.issuer() + "\u201d" + (now.isDefault() ? " (the default)." : "."));
        } catch (IOException e) {
            page(r, 409, null, refusal(e, "change the issuer"));
        }
    }

    /** POST /admin/users: reset (REMOVE) or unlock the selected users. */
    void users(Request r) throws IOException {
        if (!allowed(r)) {
            return;
        }
        String action = r.http.param("action");
        List<String> names = r.http.params("user").stream().filter(UserNames::isValid).distinct().toList();
        if (names.isEmpty()) {
            page(r, 400, null, "Select at least one user.");
            return;
        }
        try {
            if ("unlock".equals(action)) {
                app.settings.daemon().call(c -> {
                    for (String name : names) {
                        c.unlock(name);
                    }
                    return null;
                });
                done(r, "Unlocked: " + String.join(", ", names) + ".");
            } else if ("reset".equals(action)) {
                List<String> removed = app.settings.daemon().call(c -> remove(c, names));
                WebLogin.LOG.log(System.Logger.Level.INFO, r.user() + " reset 2FA of " + removed);
                done(r, removed.isEmpty() ? "None of the selected users had two-factor authentication configured."
                        : "Two-factor authentication was reset for: " + String.join(", ", removed) + ".");
            } else {
                page(r, 400, null, "Choose what to do with the selected users.");
            }
        } catch (IOException e) {
            page(r, 409, null, refusal(e, "change these users"));
        }
    }

    /**
     * POST /admin/reset-all: every user but the administrator's own account. Not {@code REMOVE *}:
     * that spares the account of the uid this service runs as, which need not be the panel's
     * administrator. The list is read, then removed; a user who enrols in between keeps it.
     */
    void resetAll(Request r) throws IOException {
        if (!allowed(r)) {
            return;
        }
        if (!"yes".equals(r.http.param("confirm"))) {
            page(r, 400, null, "Tick the box to confirm.");
            return;
        }
        String me = r.user();
        try {
            List<String> removed = app.settings.daemon().call(c -> remove(c,
                    c.users().stream().map(UserInfo::user).filter(n -> !n.equals(me)).toList()));
            WebLogin.LOG.log(System.Logger.Level.INFO, me + " reset 2FA of every user but his own: " + removed.size());
            done(r, "Two-factor authentication was reset for " + removed.size()
                    + (removed.size() == 1 ? " user" : " users") + ", all but your own account.");
        } catch (IOException e) {
            page(r, 409, null, refusal(e, "reset the users"));
        }
    }

    /** REMOVE in lines short enough for the protocol; returns the names that had 2FA. */
    static List<String> remove(TwoFactorClient c, List<String> names) throws IOException {
        List<String> removed = new ArrayList<>();
        for (List<String> batch : batches(names)) {
            c.remove(batch, null).path(Keys.REMOVED).forEach(n -> removed.add(n.asText()));
        }
        return removed;
    }

    /** Splits names into groups whose REMOVE line stays under {@link #MAX_REMOVE_LINE} bytes. */
    static List<List<String>> batches(List<String> names) {
        List<List<String>> result = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        int length = "REMOVE".length();
        for (String name : names) {
            int add = 1 + name.getBytes(StandardCharsets.UTF_8).length;
            if (!batch.isEmpty() && length + add > MAX_REMOVE_LINE) {
                result.add(batch);
                batch = new ArrayList<>();
                length = "REMOVE".length();
            }
            batch.add(name);
            length += add;
        }
        if (!batch.isEmpty()) {
            result.add(batch);
        }
        return result;
    }

    private void done(Request r, String notice) throws IOException {
        r.session.notice(notice);
        r.http.redirect("/admin");
    }

    private static String refusal(IOException e, String what) {
        if (e instanceof TwoFactorException t && ErrorCodes.FORBIDDEN.equals(t.word())) {
            return "The daemon refused to " + what + ": this panel's service lacks the role for it "
                    + "(policy and issuer changes are for root only; see docs/integration.md).";
        }
        if (e instanceof TwoFactorException t && ErrorCodes.BAD_REQUEST.equals(t.word())) {
            return "The daemon refused: " + t.reply().message();
        }
        WebLogin.LOG.log(System.Logger.Level.WARNING, "admin action failed: " + e.getMessage());
        return Codes.UNAVAILABLE;
    }
}
