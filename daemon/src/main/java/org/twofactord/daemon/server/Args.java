package org.twofactord.daemon.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.twofactord.protocol.ErrorCodes;
import org.twofactord.protocol.Request;
import org.twofactord.protocol.UserNames;

/** A request's arguments split into positional ones and {@code name=value} ones. */
final class Args {
    final List<String> positional;
    final Map<String, String> named;

    private Args(List<String> positional, Map<String, String> named) {
        this.positional = positional;
        this.named = named;
    }

    /**
     * Splits the arguments; {@code allowedNames} are the names (with their {@code =}) this command
     * takes. Any other {@code name=} word, or one given twice, is a bad request.
     */
    static Args of(Request request, Set<String> allowedNames) {
        List<String> positional = new ArrayList<>();
        Map<String, String> named = new LinkedHashMap<>();
        for (String arg : request.args()) {
            int eq = arg.indexOf('=');
            if (eq > 0 && !allowedNames.isEmpty()) {
                String name = arg.substring(0, eq + 1).toLowerCase(java.util.Locale.ROOT);
                if (!allowedNames.contains(name)) {
                    throw RequestError.badRequest("unknown argument " + name.substring(0, Math.min(name.length(), 32)));
                }
                if (named.put(name, arg.substring(eq + 1)) != null) {
                    throw RequestError.badRequest("argument " + name + " given twice");
                }
            } else {
                positional.add(arg);
            }
        }
        return new Args(positional, named);
    }

    /** Checks the number of positional arguments. */
    Args count(int min, int max, String usage) {
        if (positional.size() < min || positional.size() > max) {
            throw RequestError.badRequest("usage: " + usage);
        }
        return this;
    }

    /** The positional argument at {@code index}, checked to be a valid user name. */
    String user(int index) {
        return checkUser(positional.get(index));
    }

    static String checkUser(String name) {
        if (!UserNames.isValid(name)) {
            throw new RequestError(ErrorCodes.BAD_USER,
                    "a user name is 1-128 characters of A-Z a-z 0-9 . _ @ + -, not starting with . or -");
        }
        return name;
    }

    String named(String name) {
        return named.get(name);
    }
}
