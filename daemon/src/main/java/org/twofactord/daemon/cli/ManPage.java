package org.twofactord.daemon.cli;

import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** Writes twofactord(8) in roff from the same picocli model that prints --help, so the two agree. */
final class ManPage {
    private ManPage() {
    }

    static void write(CommandLine root, PrintWriter out) {
        CommandSpec spec = root.getCommandSpec();
        out.println(".TH TWOFACTORD 8 \"\" \"twofactord " + Version.get() + "\" \"System Administration\"");
        out.println(".SH NAME");
        out.println("twofactord \\- " + esc(String.join(" ", spec.usageMessage().description())));
        out.println(".SH SYNOPSIS");
        out.println(".B twofactord");
        out.println(".I command");
        out.println("[options]");
        out.println(".SH DESCRIPTION");
        out.println("The daemon (\\fBtwofactord serve\\fR) answers login services on a Unix socket: does this user need a "
                + "second factor, and is this time-based one-time code (RFC 6238) right. The other commands are its "
                + "command line, speaking the same socket; what each caller may do is decided from the kernel's peer "
                + "credentials.");
        out.println(".SH COMMANDS");
        for (var entry : root.getSubcommands().entrySet()) {
            if (entry.getKey().equals("help")) {
                continue;
            }
            command(entry.getValue(), "twofactord " + entry.getKey(), out);
        }
        out.println(".SH EXIT STATUS");
        out.println("0 ok (for \\fBverify\\fR: the code is accepted); 1 no (refused, a wrong code); 2 usage error; "
                + "3 forbidden; 4 the daemon or its store is unavailable (or an internal error of the command); for \\fBserve\\fR: 74 accepting connections kept failing, 75 a store write failed (start it again to continue from the last commit), 78 bad configuration.");
        out.println(".SH ENVIRONMENT");
        out.println(".TP\n.B TWOFACTORD_SOCKET\nThe socket the client commands use when \\fB\\-\\-socket\\fR is not given.");
        out.println(".SH FILES");
        out.println(".TP\n.I /etc/twofactord/twofactord.conf\nConfiguration.");
        out.println(".TP\n.I /var/lib/twofactord/\nThe store and its master key (back them up together).");
        out.println(".TP\n.I /run/twofactord/twofactord.sock\nThe socket.");
        out.println(".SH SEE ALSO");
        out.println("pam_twofactord(8), oathtool(1)");
        out.flush();
    }

    private static void command(CommandLine cmd, String name, PrintWriter out) {
        CommandSpec spec = cmd.getCommandSpec();
        if (!cmd.getSubcommands().isEmpty()) {
            for (var entry : cmd.getSubcommands().entrySet()) {
                command(entry.getValue(), name + " " + entry.getKey(), out);
            }
            return;
        }
        out.println(".SS \"" + esc(name) + synopsis(spec.positionalParameters()) + "\"");
        for (String line : spec.usageMessage().description()) {
            out.println(esc(line));
            out.println(".br");
        }
        List<OptionSpec> options = spec.options().stream().filter(o -> !o.hidden()).toList();
        for (OptionSpec o : options) {
            out.println(".TP");
            out.println(".B " + esc(String.join(", ", o.names())) + (o.arity().max() > 0 ? " \\fI" + esc(o.paramLabel()) + "\\fR" : ""));
            out.println(esc(String.join(" ", o.description()).replace("${DEFAULT-VALUE}", String.valueOf(o.defaultValue()))));
        }
    }

    private static String synopsis(List<PositionalParamSpec> params) {
        StringBuilder sb = new StringBuilder();
        for (PositionalParamSpec p : params) {
            boolean optional = p.arity().min() == 0;
            sb.append(' ').append(optional ? "[" : "").append(p.paramLabel()).append(p.arity().max() > 1 ? "..." : "")
                    .append(optional ? "]" : "");
        }
        return sb.toString();
    }

    private static String esc(String s) {
        String t = s.replace("\\", "\\\\").replace("-", "\\-");
        return t.startsWith(".") || t.startsWith("'") ? "\\&" + t : t;
    }
}
