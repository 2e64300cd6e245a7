package org.twofactord.protocol;

/** The rule for user names on the wire: 1-128 of {@code A-Z a-z 0-9 . _ @ + -}, not starting with {@code .} or {@code -}. */
public final class UserNames {
    public static final int MAX_LENGTH = 128;
    /** The rule in words, for messages. */
    public static final String RULE = "1-128 of A-Z a-z 0-9 . _ @ + -, not starting with . or -";

    private UserNames() {
    }

    public static boolean isValid(String name) {
        return problem(name) == null;
    }

    /** What breaks the rule, in a few words ("it contains a space"), or null for a valid name. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) {
            return "it is empty";
        }
        if (name.length() > MAX_LENGTH) {
            return "it is longer than " + MAX_LENGTH + " characters";
        }
        char first = name.charAt(0);
        if (first == '.' || first == '-') {
            return "it starts with " + first;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
            if (!ok) {
                return "it contains " + describe(name.codePointAt(i));
            }
        }
        return null;
    }

    private static String describe(int c) {
        return switch (c) {
            case ' ' -> "a space";
            case '\n', '\r' -> "a line break";
            case '\t' -> "a tab";
            case 0 -> "a NUL character";
            default -> Character.isISOControl(c) || !Character.isDefined(c) || Character.getType(c) == Character.FORMAT
                    ? String.format("the character U+%04X", c) : "'" + Character.toString(c) + "'";
        };
    }
}
