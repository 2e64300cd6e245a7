package org.twofactord.weblogin;

import org.twofactord.protocol.Keys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.TwoFactorClient.UserInfo;
import org.twofactord.protocol.TwoFactorException;
import org.twofactord.protocol.UserNames;
import org.twofactord.weblogin.Sessions.Stage;
import org.twofactord.weblogin.WebLogin.Request;

/**
 * A reseller's "Manage Users", after WHM's for resellers: the accounts the daemon shows it owning
 * (its {@code owners_file}), reset or unlock selected ones, reset all but its own account.
 *
 * <p>Every daemon request of these pages is made with {@code as=<the reseller>}
 * ({@code TwoFactorClient.actingAs}), so the daemon, not this page, decides which accounts the
 * reseller may touch: a form naming another reseller's account, however it was made, gets the
 * daemon's {@code ERR forbidden}, and the page says so.
 */
final class ResellerPages {
    /** A notice lists the names of a "reset all" up to this many; beyond, only how many. */
    static final int NAMES_IN_NOTICE = 10;

    private final WebLogin app;

    ResellerPages(WebLogin app) {
        this.app = app;
    }

    void show(Request r) throws IOException {
        if (r.stage() != Stage.SIGNED_IN) {
            r.toLoginStep();
        } else if (app.isAdmin(r.user())) {
            r.http.redirect("/admin"); // the administrator's page has every user
        } else {
            page(r, 200, r.session.takeNotice(), null);
        }
    }

    private void page(Request r, int status, String notice, String error) throws IOException {
        String me = r.user();
        List<UserInfo> users;
        try {
            users = app.settings.daemon().call(c -> c.actingAs(me, a -> a.users()));
        } catch (IOException e) {
            if (e instanceof TwoFactorException t && ErrorCodes.FORBIDDEN.equals(t.word())) {
                r.http.html(403, Html.page("Access Denied", me, app.nav(r, ""), r.session.csrfToken(),
                        "<section class=\"card\"><h1>Access Denied</h1>"
                                + Html.error("Only a reseller, an account that owns other accounts, can open this page.")
                                + "</section>"));
                return;
            }
            WebLogin.LOG.log(System.Logger.Level.WARNING, "reseller page of " + me + ": " + e.getMessage());
            render(r, 503, Html.error(Codes.UNAVAILABLE));
            return;
        }
        String csrf = Html.csrfField(r.session.csrfToken());
        StringBuilder sb = new StringBuilder(Html.notice(notice)).append(Html.error(error));
        sb.append("<section class=\"card\"><h2>Manage Users</h2>")
                .append("<p>The accounts you own on this server. Resetting an account removes its two-factor ")
                .append("authentication: its user sets it up again. Your own account is changed on Manage My Account.</p>")
                .append("<form method=\"post\" action=\"/reseller/users\">").append(csrf)
                .append(AdminPages.USERS_TABLE_HEAD);
        for (UserInfo u : users) {
            AdminPages.userRow(sb, u, u.user().equals(me) ? "(you)" : null);
        }
        sb.append("</tbody></table><div class=\"buttons\">")
                .append("<button type=\"submit\" name=\"action\" value=\"reset\" class=\"danger\">Reset Selected Users</button>")
                .append("<button type=\"submit\" name=\"action\" value=\"unlock\">Unlock Selected Users</button></div></form>")
                .append("<form method=\"post\" action=\"/reseller/reset-all\" class=\"reset-all\">").append(csrf)
                .append("<label class=\"check\"><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> ")
                .append("Reset two-factor authentication for every account I own, except my own account (")
                .append(Html.esc(me)).append(")</label>")
                .append("<button type=\"submit\" class=\"danger\">Reset All, Except My Own Account</button></form></section>");
        render(r, status, sb.toString());
    }

    private void render(Request r, int status, String content) throws IOException {
        r.http.html(status, Html.page("Manage Users", r.user(), app.nav(r, "/reseller"), r.session.csrfToken(),
                "<h1 class=\"page\">Two-Factor Authentication</h1>" + content));
    }

    /** POST /reseller/users: reset (REMOVE) or unlock the selected accounts, as the reseller. */
    void users(Request r) throws IOException {
        if (r.stage() != Stage.SIGNED_IN) {
            r.toLoginStep();
            return;
        }
        String me = r.user();
        String action = r.http.param("action");
        List<String> names = r.http.params("user").stream().filter(UserNames::isValid).distinct().toList();
        if (names.isEmpty()) {
            page(r, 400, null, "Select at least one user.");
            return;
        }
        // The names the daemon has carried out, for a refusal half-way (several lines).
        List<String> handled = new ArrayList<>();
        try {
            if ("unlock".equals(action)) {
                app.settings.daemon().call(c -> c.actingAs(me, a -> {
                    for (String name : names) {
                        a.unlock(name);
                        handled.add(name);
                    }
                    return null;
                }));
                WebLogin.LOG.log(System.Logger.Level.INFO, me + " (reseller) unlocked " + names);
                done(r, "Unlocked: " + String.join(", ", names) + ".");
            } else if ("reset".equals(action)) {
                List<String> removed = new ArrayList<>();
                app.settings.daemon().call(c -> c.actingAs(me, a -> {
                    for (List<String> batch : AdminPages.batches(names)) {
                        a.remove(batch, null).path(Keys.REMOVED).forEach(n -> removed.add(n.asText()));
                        handled.addAll(batch);
                    }
                    return null;
                }));
                WebLogin.LOG.log(System.Logger.Level.INFO, me + " (reseller) reset 2FA of " + removed);
                done(r, removed.isEmpty() ? "None of the selected users had two-factor authentication configured."
                        : "Two-factor authentication was reset for: " + String.join(", ", removed) + ".");
            } else {
                page(r, 400, null, "Choose what to do with the selected users.");
            }
        } catch (IOException e) {
            List<String> rest = names.stream().filter(n -> !handled.contains(n)).toList();
            refused(r, e, ("unlock".equals(action) ? "unlock " : "reset ") + String.join(", ", rest), handled);
        }
    }

    /**
     * POST /reseller/reset-all: {@code REMOVE * except=<reseller>}, as the reseller: every account
     * it owns but its own (WHM's "Disable All, except your own account"). With as= the daemon
     * spares the person's own account anyway; except= says so in the request too.
     */
    void resetAll(Request r) throws IOException {
        if (r.stage() != Stage.SIGNED_IN) {
            r.toLoginStep();
            return;
        }
        if (!"yes".equals(r.http.param("confirm"))) {
            page(r, 400, null, "Tick the box to confirm.");
            return;
        }
        String me = r.user();
        try {
            List<String> removed = new ArrayList<>();
            app.settings.daemon().call(c -> c.actingAs(me, a -> a.removeAllExcept(me)))
                    .path(Keys.REMOVED).forEach(n -> removed.add(n.asText()));
            WebLogin.LOG.log(System.Logger.Level.INFO, me + " (reseller) reset 2FA of every account but his own: "
                    + removed.size());
            String which = removed.isEmpty() || removed.size() > NAMES_IN_NOTICE ? ""
                    : ": " + String.join(", ", removed);
            done(r, "Two-factor authentication was reset for " + removed.size()
                    + (removed.size() == 1 ? " account" : " accounts") + " you own" + which
                    + ". Your own account keeps it.");
        } catch (IOException e) {
            refused(r, e, "reset your accounts", List.of());
        }
    }

    private void done(Request r, String notice) throws IOException {
        r.session.notice(notice);
        r.http.redirect("/reseller");
    }

    /** The page again, with what the daemon said: a reason a reseller can act on. */
    private void refused(Request r, IOException e, String what, List<String> handled) throws IOException {
        String before = handled.isEmpty() ? " Nothing was changed."
                : " Done before the refusal: " + String.join(", ", handled) + ".";
        if (e instanceof TwoFactorException t && ErrorCodes.FORBIDDEN.equals(t.word())) {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "Manage Users of " + r.user() + ": the daemon refused to " + what
                    + " (forbidden)");
            page(r, 403, null, "The daemon refused to " + what + ": you may change only the accounts you own"
                    + " (forbidden)." + before);
        } else if (e instanceof TwoFactorException t && Reasons.CODE_REQUIRED.equals(t.word())) {
            page(r, 409, null, "Your own two-factor authentication is changed on Manage My Account, "
                    + "with a security code." + before);
        } else if (e instanceof TwoFactorException t && ErrorCodes.BAD_REQUEST.equals(t.word())) {
            page(r, 400, null, "The daemon refused: " + t.reply().message() + before);
        } else {
            WebLogin.LOG.log(System.Logger.Level.WARNING, "reseller action failed: " + e.getMessage());
            page(r, 503, null, Codes.UNAVAILABLE);
        }
    }
}
