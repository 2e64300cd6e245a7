package org.twofactord.daemon.server;

import org.twofactord.daemon.store.StoreTransient;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.audit.Audit;
import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.StoreUnavailable;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;
import org.twofactord.protocol.UserNames;

/**
 * The dispatch table: for each command, who may run it and which handler does. Protocol v1's
 * "Who may do what", in one screen.
 */
final class Dispatcher {
    /**
     * Who may run a command. Owners (protocol 1.1) act on the accounts the owners file gives them,
     * never on themselves by that right: on its own name an owner is a self caller.
     */
    enum Access {
        ANYONE("is open to anyone"),
        VERIFIER("is for verifiers (uid 0 or the verifier group)"),
        ADMIN_OR_SELF("is for administrators, or for a user on its own name"),
        ADMIN_SELF_OR_OWNER("is for administrators, for a user on its own name, or for an owner on the accounts it owns"),
        ADMIN_OR_OWNER_OF("is for administrators, or for an owner on the accounts it owns"),
        ADMIN_OR_OWNER("is for administrators, or for an owner of accounts (then on its own accounts only)"),
        ADMIN("is for administrators (uid 0 or the admin group)"),
        ROOT("changes are for uid 0 only");

        final String refusal;

        Access(String refusal) {
            this.refusal = refusal;
        }
    }

    /**
     * @param access  who may run it, which may depend on the sub-command
     * @param targets the user names the request acts on, for the kinds of access that look at them
     * @param audited whether the request goes to the audit log (a refusal always does)
     */
    private record Route(Function<Request, Access> access, Function<Request, List<String>> targets,
                         Handler handler, Function<Request, Boolean> audited) {
    }

    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

    private final Map<String, Route> routes;
    private final Services services;

    Dispatcher(Services services) {
        this.services = services;
        BasicHandlers basic = new BasicHandlers(services);
        UserHandlers users = new UserHandlers(services);
        Function<Request, List<String>> none = r -> List.of();
        Function<Request, List<String>> first = r -> r.argCount() == 0 ? List.of() : List.of(r.arg(0));
        Function<Request, List<String>> allNames = r -> r.args().stream().filter(a -> a.indexOf('=') < 0).toList();
        Function<Request, List<String>> ownerArg = r -> r.args().stream()
                .filter(a -> a.regionMatches(true, 0, Commands.ARG_OWNER, 0, Commands.ARG_OWNER.length()))
                .map(a -> a.substring(Commands.ARG_OWNER.length())).toList();
        Function<Request, Boolean> always = r -> true;
        Function<Request, Boolean> never = r -> false;
        Function<Request, Boolean> whenChanging = r -> r.argCount() > 0;
        routes = Map.ofEntries(
                Map.entry(Commands.HELLO, new Route(r -> Access.ANYONE, none, basic::hello, never)),
                Map.entry(Commands.PING, new Route(r -> Access.ANYONE, none, basic::ping, never)),
                Map.entry(Commands.QUIT, new Route(r -> Access.ANYONE, none, basic::quit, never)),
                Map.entry(Commands.POLICY, new Route(r -> r.argCount() == 0 ? Access.ANYONE : Access.ROOT, none,
                        basic::policy, whenChanging)),
                Map.entry(Commands.ISSUER, new Route(r -> r.argCount() == 0 ? Access.ANYONE : Access.ROOT, none,
                        basic::issuer, whenChanging)),
                Map.entry(Commands.STATS, new Route(r -> Access.ADMIN, none, basic::stats, never)),
                Map.entry(Commands.CHECK, new Route(r -> Access.VERIFIER, none, users::check, never)),
                Map.entry(Commands.VERIFY, new Route(r -> Access.VERIFIER, none, users::verify, always)),
                Map.entry(Commands.ENROLL, new Route(r -> Access.ADMIN_OR_SELF, first, users::enroll, always)),
                Map.entry(Commands.CONFIRM, new Route(r -> Access.ADMIN_OR_SELF, first, users::confirm, always)),
                Map.entry(Commands.REMOVE, new Route(
                        r -> r.args().contains("*") ? Access.ADMIN_OR_OWNER : Access.ADMIN_SELF_OR_OWNER,
                        r -> r.args().contains("*") ? List.of() : allNames.apply(r), users::remove, always)),
                Map.entry(Commands.USER, new Route(r -> Access.ADMIN_SELF_OR_OWNER, first, users::user, never)),
                // USERS owner=<name>: an owner may ask for its own name only.
                Map.entry(Commands.USERS, new Route(r -> Access.ADMIN_OR_OWNER, ownerArg, users::users, never)),
                Map.entry(Commands.BACKUP, new Route(r -> Access.ADMIN_OR_SELF, first, users::backup, always)),
                Map.entry(Commands.UNLOCK, new Route(r -> Access.ADMIN_OR_OWNER_OF, first, users::unlock, always)),
                Map.entry(Commands.IMPORT, new Route(r -> Access.ADMIN, none, users::importUser, always)),
                Map.entry(Commands.REQUIRE, new Route(r -> Access.ADMIN, none, users::require, always)),
                Map.entry(Commands.SNAPSHOT, new Route(r -> Access.ROOT, none, basic::snapshot, always)));
    }

    Reply dispatch(Caller peer, Request request) {
        Route route = routes.get(request.command());
        if (route == null) {
            return Reply.err(ErrorCodes.UNKNOWN_COMMAND, "unknown command " + Audit.clean(request.command()));
        }
        Caller caller = peer;
        int as = indexOfAs(request);
        if (as >= 0) {
            // An administrator's request made for a person: decided as if the person had called.
            if (!peer.admin()) {
                Audit.record(peer, request.command(), target(request), "ERR forbidden",
                        "asked_as=" + Audit.clean(request.arg(as).substring(Commands.ARG_AS.length())));
                return Reply.err(ErrorCodes.FORBIDDEN, "as= is for administrators (uid 0 or the admin group)");
            }
            String person = request.arg(as).substring(Commands.ARG_AS.length());
            request = request.without(as);
            if (indexOfAs(request) >= 0) {
                return Reply.err(ErrorCodes.BAD_REQUEST, "argument as= given twice");
            }
            if (!UserNames.isValid(person)) {
                return Reply.err(ErrorCodes.BAD_USER,
                        "as=: a user name is 1-128 characters of A-Z a-z 0-9 . _ @ + -, not starting with . or -");
            }
            caller = services.roles.actingAs(peer, person);
        }
        Access access = route.access().apply(request);
        if (!allowed(caller, access, route.targets().apply(request))) {
            Audit.record(caller, request.command(), target(request), "ERR forbidden", null);
            String why = request.command().equals(Commands.SNAPSHOT) ? "is for uid 0 only" : access.refusal;
            return Reply.err(ErrorCodes.FORBIDDEN, request.command() + " " + why
                    + caller.person().map(p -> " (decided for " + p + ", as= says)").orElse(""));
        }
        Reply reply;
        boolean storeFree = request.command().equals(Commands.HELLO) || request.command().equals(Commands.PING)
                || request.command().equals(Commands.QUIT);
        if (services.writer.broken() != null && !storeFree) {
            // What the store holds in memory may never have reached the disk: answer nothing from it.
            return Reply.err(ErrorCodes.UNAVAILABLE, "the store cannot be read or written");
        }
        try {
            reply = route.handler().handle(caller, request);
        } catch (RequestError e) {
            reply = e.reply;
        } catch (StoreException | StoreUnavailable e) {
            if (transientFailure(e)) {
                // The store logs the loss of its database once, and its return; not every request.
                log.debug("{} failed: store unavailable: {}", request.command(), e.getMessage());
            } else {
                log.error("{} failed: store unavailable: {}", request.command(), e.getMessage());
            }
            reply = Reply.err(ErrorCodes.UNAVAILABLE, "the store cannot be read or written");
        } catch (RuntimeException e) {
            log.error("{} failed with an internal error", request.command(), e);
            reply = Reply.err(ErrorCodes.INTERNAL, "internal error (see the daemon's log)");
        }
        if (route.audited().apply(request) || caller.person().isPresent() && !storeFree) {
            Audit.record(caller, request.command(), target(request), outcome(reply), extra(request, reply));
        }
        return reply;
    }

    /** The index of the {@code as=} argument, or -1. */
    private static int indexOfAs(Request request) {
        for (int i = 0; i < request.argCount(); i++) {
            if (request.arg(i).regionMatches(true, 0, Commands.ARG_AS, 0, Commands.ARG_AS.length())) {
                return i;
            }
        }
        return -1;
    }

    private static boolean allowed(Caller caller, Access access, List<String> targets) {
        // A request with a malformed name goes on to get its ERR bad-user; it cannot act on anyone.
        boolean malformed = targets.stream().anyMatch(t -> !UserNames.isValid(t));
        return switch (access) {
            case ANYONE -> true;
            case VERIFIER -> caller.verifier();
            case ADMIN -> caller.admin();
            case ROOT -> caller.root();
            case ADMIN_OR_SELF -> caller.admin() || targets.isEmpty() || malformed
                    || targets.stream().allMatch(caller::isSelf);
            case ADMIN_SELF_OR_OWNER -> caller.admin() || targets.isEmpty() || malformed
                    || targets.stream().allMatch(t -> caller.isSelf(t) || caller.owns(t));
            case ADMIN_OR_OWNER_OF -> caller.admin() || targets.isEmpty() || malformed
                    || targets.stream().allMatch(caller::owns);
            // USERS owner=<name> from an owner: only its own name.
            case ADMIN_OR_OWNER -> caller.admin() || caller.owner() && targets.stream().allMatch(caller::isSelf);
        };
    }

    /** Commands whose first argument is a user name (the one the audit line names). */
    private static final java.util.Set<String> ACTS_ON_USER = java.util.Set.of(Commands.CHECK, Commands.VERIFY,
            Commands.ENROLL, Commands.CONFIRM, Commands.REMOVE, Commands.USER, Commands.BACKUP, Commands.UNLOCK,
            Commands.IMPORT, Commands.REQUIRE);

    private static String target(Request request) {
        if (request.argCount() == 0 || !ACTS_ON_USER.contains(request.command())) {
            return null;
        }
        String first = request.arg(0);
        return UserNames.isValid(first) || first.equals("*") ? first : "(invalid)";
    }

    private static String outcome(Reply reply) {
        StringBuilder sb = new StringBuilder(reply.kind().name());
        if (reply.word() != null) {
            sb.append(' ').append(reply.word());
        } else if (reply.body() != null && reply.body().has(Keys.METHOD)) {
            sb.append(' ').append(reply.body().get(Keys.METHOD).asText());
        }
        return sb.toString();
    }

    private static String extra(Request request, Reply reply) {
        StringBuilder sb = new StringBuilder();
        for (String arg : request.args()) {
            String lower = arg.toLowerCase(java.util.Locale.ROOT);
            if (lower.startsWith(Commands.ARG_SERVICE)) {
                sb.append("service=").append(Audit.clean(arg.substring(Commands.ARG_SERVICE.length()))).append(' ');
            } else if (lower.startsWith(Commands.ARG_RHOST)) {
                sb.append("rhost=").append(Audit.clean(arg.substring(Commands.ARG_RHOST.length()))).append(' ');
            } else if (lower.startsWith(Commands.ARG_EXCEPT)) {
                sb.append("except=").append(Audit.clean(arg.substring(Commands.ARG_EXCEPT.length()))).append(' ');
            }
        }
        if (reply.body() != null && reply.body().has(Keys.RETRY_AFTER)) {
            sb.append("retry_after=").append(reply.body().get(Keys.RETRY_AFTER).asLong());
        }
        return sb.toString().strip();
    }

    private static boolean transientFailure(Exception e) {
        return e instanceof org.twofactord.daemon.store.StoreTransient
                || e.getCause() instanceof org.twofactord.daemon.store.StoreTransient;
    }
}
