package org.twofactord.protocol;

/** The rule for user names on the wire: 1-128 of {@code A-Z a-z 0-9 . _ @ + -}, not starting with {@code .} or {@code -}. */
public final class UserNames {
    public static final int MAX_LENGTH = 128;

    private UserNames() {
    }

    public static boolean isValid(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_LENGTH) {
            return false;
        }
        char first = name.charAt(0);
        if (first == '.' || first == '-') {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
