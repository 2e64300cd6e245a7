package org.twofactord.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.List;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.TwoFactorException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The commands that show state: status, policy, issuer, users, user, stats. */
final class ReadCommands {
    private ReadCommands() {
    }

    @Command(name = "status", description = "Is the daemon reachable; its version, policy, issuer, users and counters.")
    static final class Status extends ClientCommand {
        @Option(names = "--json", description = "Print {\"hello\":…,\"policy\":…,\"issuer\":…,\"stats\":…} with the daemon's JSON unchanged.")
        boolean json;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply policy = client.call(Commands.POLICY);
            Reply issuer = client.call(Commands.ISSUER);
            Reply stats = client.call(Commands.STATS); // admins only; others see the rest
            if (json) {
                ObjectNode all = Reply.object();
                all.putObject("hello").put(Keys.PROTOCOL, client.hello().protocol()).put(Keys.SERVER, client.hello().server());
                all.set("policy", policy.body());
                all.set("issuer", issuer.body());
                if (stats.isOk()) {
                    all.set("stats", stats.body());
                } else {
                    all.putNull("stats");
                }
                io.out.println(all);
                return ExitCodes.OK;
            }
            io.out.println("daemon:   " + client.hello().server() + " (protocol " + client.hello().protocol() + ") at "
                    + socketInUse);
            io.out.println("policy:   " + policy.body().path(Keys.MODE).asText() + describePolicy(policy.body().path(Keys.MODE).asText()));
            io.out.println("issuer:   " + issuer.body().path(Keys.ISSUER).asText()
                    + (issuer.body().path(Keys.DEFAULT).asBoolean() ? " (the host name, default)" : ""));
            if (stats.isOk()) {
                JsonNode s = stats.body();
                io.out.println("users:    " + s.path(Keys.USERS).asLong() + " enrolled");
                io.out.println("verify:   " + s.path(Keys.VERIFY_OK).asLong() + " accepted, " + s.path(Keys.VERIFY_NO).asLong()
                        + " refused (" + s.path(Keys.REPLAYS).asLong() + " replays), " + s.path(Keys.LOCKOUTS).asLong()
                        + " lockouts since start");
                io.out.println("uptime:   " + s.path(Keys.UPTIME_S).asLong() + " s, " + s.path(Keys.CONNECTIONS).asLong()
                        + " connections");
                if (!s.path(Keys.CLOCK_SKEW_S).isNull()) {
                    io.out.println("clock:    last enrolment code was " + s.path(Keys.CLOCK_SKEW_S).asLong()
                            + " s off the server's clock: check time synchronisation");
                }
            } else if (ErrorCodes.FORBIDDEN.equals(stats.word())) {
                io.out.println("(counters are for administrators)");
            }
            return ExitCodes.OK;
        }

        private static String describePolicy(String mode) {
            return switch (mode) {
                case "disabled" -> " (nobody is asked for a code)";
                case "optional" -> " (enrolled users are asked for a code)";
                case "required" -> " (enrolled users are asked; users without 2FA are refused)";
                default -> "";
            };
        }
    }

    @Command(name = "policy", description = {"Show or set the server-wide policy (setting it is for root).",
        "enable: enrolled users are asked for a code; require: users without 2FA are refused too; disable: nobody is asked."})
    static final class Policy extends ClientCommand {
        @Parameters(arity = "0..1", paramLabel = "enable|disable|require", description = "The new policy; none to show it.")
        String change;

        @Option(names = "--json", description = "Print the daemon's JSON unchanged.")
        boolean json;

        @Override
        void validate() {
            if (change != null && word() == null) {
                throw new UsageError(spec.commandLine(), "policy is one of enable, disable, require, not '"
                        + printable(change) + "'");
            }
        }

        private String word() {
            return switch (change.toLowerCase(java.util.Locale.ROOT)) {
                case "enable" -> Commands.ENABLE;
                case "disable" -> Commands.DISABLE;
                case "require" -> Commands.REQUIRE;
                default -> null;
            };
        }

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply reply = client.call(change == null ? Commands.POLICY : Commands.POLICY + " " + word());
            if (json || !reply.isOk()) {
                return printJson(io, reply);
            }
            String mode = reply.body().path(Keys.MODE).asText();
            io.out.println(change == null ? "policy: " + mode : changed(mode));
            return ExitCodes.OK;
        }

        /** What a change did, from the mode the daemon answers (not from the word asked for). */
        static String changed(String mode) {
            return switch (mode) {
                case "optional" -> "policy enabled: enrolled users are asked for a code (mode optional)";
                case "required" -> "policy set to require: enrolled users are asked for a code, users without 2FA "
                        + "are refused (mode required)";
                case "disabled" -> "policy disabled: nobody is asked for a code (mode disabled)";
                default -> "policy: " + mode;
            };
        }
    }

    @Command(name = "issuer", description = "Show, set (issuer set TEXT) or reset (issuer reset) the name shown in authenticator apps; "
            + "changes are for root.")
    static final class Issuer extends ClientCommand {
        @Parameters(arity = "0..*", paramLabel = "set TEXT|reset", description = "What to do; nothing to show the issuer.")
        List<String> words = List.of();

        @Option(names = "--json", description = "Print the daemon's JSON unchanged.")
        boolean json;

        @Override
        void validate() {
            boolean reset = words.size() == 1 && words.get(0).equalsIgnoreCase("reset");
            boolean set = words.size() >= 2 && words.get(0).equalsIgnoreCase("set");
            if (!words.isEmpty() && !reset && !set) {
                throw new UsageError(spec.commandLine(), "usage: twofactord issuer [set TEXT | reset]");
            }
            if (set && !printable(text(), Integer.MAX_VALUE).equals(text())) {
                throw new UsageError(spec.commandLine(), "issuer set: TEXT '" + printable(text())
                        + "' has a line break or another control character; the issuer is one line of text");
            }
        }

        private String text() {
            return String.join(" ", words.subList(1, words.size()));
        }

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            String line = words.isEmpty() ? Commands.ISSUER
                    : words.size() == 1 ? Commands.ISSUER + " " + Commands.RESET
                    : Commands.ISSUER + " " + Commands.SET + " " + text();
            Reply reply = client.call(line);
            if (json || !reply.isOk()) {
                return printJson(io, reply);
            }
            io.out.println("issuer: " + reply.body().path(Keys.ISSUER).asText()
                    + (reply.body().path(Keys.DEFAULT).asBoolean() ? " (the host name, default)" : ""));
            return ExitCodes.OK;
        }
    }

    @Command(name = "users", description = {"List every user the daemon knows, as a table (administrators; an owner "
        + "sees the accounts it owns and itself).", "REQUIRED: 'yes' when the account is marked (require), 'group' when "
        + "require_group makes it required."})
    static final class Users extends ClientCommand {
        @Option(names = "--json", description = "Print the daemon's JSON unchanged.")
        boolean json;

        @Option(names = "--owner", paramLabel = "NAME", description = "Only the accounts NAME owns (owners_file).")
        String owner;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply reply = client.call(owner == null ? Commands.USERS : Commands.USERS + " " + Commands.ARG_OWNER + owner);
            if (json || !reply.isOk()) {
                return printJson(io, reply);
            }
            Table table = new Table("USER", "ENROLLED AT", "LAST USED", "BACKUP", "FAILURES", "LOCKED UNTIL", "REQUIRED",
                    "OWNER");
            for (JsonNode u : reply.body().path(Keys.USERS)) {
                table.row(u.path(Keys.USER).asText(),
                        u.path(Keys.ENROLLED).asBoolean() ? time(u, Keys.ENROLLED_AT)
                                : u.path(Keys.PENDING).asBoolean() ? "(pending)" : "-",
                        time(u, Keys.LAST_USED_AT),
                        u.path(Keys.ENROLLED).asBoolean() ? u.path(Keys.BACKUP_CODES_LEFT).asText() : "-",
                        u.path(Keys.FAILURES).asText(), time(u, Keys.LOCKED_UNTIL), required(u), time(u, Keys.OWNER));
            }
            table.print(io.out);
            return ExitCodes.OK;
        }
    }

    /** "yes" (marked), "group" (require_group) or "-". */
    static String required(JsonNode u) {
        return !u.path(Keys.REQUIRED).asBoolean() ? "-" : "group".equals(u.path(Keys.REQUIRED_BY).asText()) ? "group" : "yes";
    }

    static String time(JsonNode u, String key) {
        JsonNode n = u.path(key);
        return n.isMissingNode() || n.isNull() ? "-" : n.asText();
    }

    @Command(name = "user", description = "Show one user's two-factor state (administrators, or yourself).")
    static final class User extends ClientCommand {
        @Parameters(paramLabel = "NAME", description = "The user.")
        String name;

        @Option(names = "--json", description = "Print the daemon's JSON unchanged.")
        boolean json;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply reply = client.call(Commands.USER + " " + name);
            if (json || !reply.isOk()) {
                return printJson(io, reply);
            }
            JsonNode u = reply.body();
            io.out.println("user:         " + u.path(Keys.USER).asText());
            io.out.println("enrolled:     " + (u.path(Keys.ENROLLED).asBoolean() ? "yes, at " + time(u, Keys.ENROLLED_AT) : "no")
                    + (u.path(Keys.PENDING).asBoolean() ? " (an enrolment is waiting for its code)" : ""));
            io.out.println("last used:    " + time(u, Keys.LAST_USED_AT));
            io.out.println("backup codes: " + u.path(Keys.BACKUP_CODES_LEFT).asInt() + " left");
            io.out.println("failures:     " + u.path(Keys.FAILURES).asInt());
            io.out.println("locked until: " + time(u, Keys.LOCKED_UNTIL));
            io.out.println("required:     " + switch (required(u)) {
                case "yes" -> "yes (marked: must enrol before logging in)";
                case "group" -> "yes (member of require_group: must enrol before logging in)";
                default -> "no (the policy decides)";
            });
            io.out.println("owner:        " + time(u, Keys.OWNER));
            return ExitCodes.OK;
        }
    }

    @Command(name = "stats", description = "Counters since the daemon started (administrators).")
    static final class Stats extends ClientCommand {
        @Option(names = "--json", description = "Print the daemon's JSON unchanged.")
        boolean json;

        @Option(names = "--format", paramLabel = "FORMAT", description = "table (the default), json (as --json), or "
                + "prometheus: the text exposition format, for node_exporter's textfile collector.")
        PrometheusStats.Format format = PrometheusStats.Format.table;

        @Override
        int run(TwoFactorClient client, Io io) throws IOException {
            Reply reply = client.call(Commands.STATS);
            if (format == PrometheusStats.Format.prometheus) {
                return PrometheusStats.print(io, reply);
            }
            if (json || format == PrometheusStats.Format.json || !reply.isOk()) {
                return printJson(io, reply);
            }
            Table table = new Table("COUNTER", "VALUE");
            reply.body().fields().forEachRemaining(f -> table.row(f.getKey(), f.getValue().isNull() ? "-" : f.getValue().asText()));
            table.print(io.out);
            return ExitCodes.OK;
        }
    }

    /** Throws the reply as an exception unless it is OK (for commands that print their own text). */
    static ObjectNode ok(Reply reply) throws TwoFactorException {
        if (!reply.isOk()) {
            throw new TwoFactorException(reply);
        }
        return reply.body() == null ? Reply.object() : reply.body();
    }
}
