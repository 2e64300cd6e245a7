package org.twofactord.protocol;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One parsed request line: the command word (upper case) and its argument tokens. Tokens are
 * separated by runs of spaces or tabs. The original text is kept so that a command such as
 * {@code ISSUER SET Acme Hosting} can take "the rest of the line".
 */
public final class Request {
    private final String text;
    private final String command;
    private final List<String> args;
    private final List<Integer> argStarts;

    private Request(String text, String command, List<String> args, List<Integer> argStarts) {
        this.text = text;
        this.command = command;
        this.args = args;
        this.argStarts = argStarts;
    }

    /**
     * Parses a line (without its LF). Returns empty for a line of only spaces and tabs, which
     * gets no reply.
     */
    public static Optional<Request> parse(String line) {
        List<String> tokens = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        int i = 0;
        int n = line.length();
        while (i < n) {
            while (i < n && isSpace(line.charAt(i))) {
                i++;
            }
            if (i == n) {
                break;
            }
            int start = i;
            while (i < n && !isSpace(line.charAt(i))) {
                i++;
            }
            tokens.add(line.substring(start, i));
            starts.add(start);
        }
        if (tokens.isEmpty()) {
            return Optional.empty();
        }
        String command = tokens.get(0).toUpperCase(Locale.ROOT);
        return Optional.of(new Request(line, command, List.copyOf(tokens.subList(1, tokens.size())),
                List.copyOf(starts.subList(1, starts.size()))));
    }

    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t';
    }

    /** The command word in upper case. */
    public String command() {
        return command;
    }

    /** The tokens after the command word. */
    public List<String> args() {
        return args;
    }

    public int argCount() {
        return args.size();
    }

    public String arg(int index) {
        return args.get(index);
    }

    /** The argument at {@code index}, upper-cased, for sub-words such as ENABLE or SET. */
    public String word(int index) {
        return args.get(index).toUpperCase(Locale.ROOT);
    }

    /** The same request without argument {@code index} (a word the daemon takes for itself, as {@code as=}). */
    public Request without(int index) {
        int start = argStarts.get(index);
        String rest = text.substring(0, start) + text.substring(start + args.get(index).length());
        return parse(rest).orElseThrow();
    }

    /** The text of the line from argument {@code index} to its end, trailing spaces removed. */
    public String restFrom(int index) {
        return text.substring(argStarts.get(index)).stripTrailing();
    }

    @Override
    public String toString() {
        // Arguments may hold a code: show only the command and the count.
        return "Request[" + command + ", " + args.size() + " args]";
    }
}
