package org.twofactord.daemon.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads {@code key = value} lines ({@code #} starts a comment line) and the command-line flags into
 * one {@link Config}. Flags win over the file. An unknown key, a key given twice or a bad value
 * is an error naming the file, the line and the key.
 */
public final class ConfigLoader {
    static final Set<String> KEYS = Set.of("socket", "state_dir", "socket_mode", "socket_group", "admin_group",
            "verifier_group", "window", "digits", "max_failures", "lockout_s", "idle_timeout_s", "max_connections",
            "max_connections_per_uid", "group_commit", "store", "postgres_url", "postgres_user",
            "postgres_password_file", "postgres_synchronous", "checkpoint_changes", "checkpoint_log_mb",
            "checkpoint_interval_s", "owners_file", "require_group");

    /** What the command line said; null means "not given". */
    public record Flags(Path socket, Path stateDir, Path configFile, boolean dev) {
    }

    private record Entry(String value, int line) {
    }

    private ConfigLoader() {
    }

    /**
     * Builds the configuration. The file given by {@code --config} must exist; the default file may
     * be missing (then the defaults hold). In dev mode the default file is not read at all, so a
     * developer's daemon does not pick up a system configuration by accident.
     */
    public static Config load(Flags flags) throws ConfigException {
        Path file = flags.configFile() != null ? flags.configFile() : Config.DEFAULT_CONFIG;
        Map<String, Entry> entries = Map.of();
        if (flags.configFile() != null || !flags.dev()) {
            try {
                entries = parse(file, Files.readAllLines(file, StandardCharsets.UTF_8));
            } catch (NoSuchFileException e) {
                if (flags.configFile() != null) {
                    throw new ConfigException(file + ": no such file");
                }
            } catch (IOException e) {
                throw new ConfigException(file + ": cannot be read: " + e.getMessage());
            }
        }
        return build(file, entries, flags);
    }

    private static Map<String, Entry> parse(Path file, List<String> lines) throws ConfigException {
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            int lineNo = i + 1;
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new ConfigException(file + ":" + lineNo + ": expected 'key = value'");
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            if (!KEYS.contains(key)) {
                throw new ConfigException(file + ":" + lineNo + ": unknown key '" + key + "'");
            }
            if (entries.containsKey(key)) {
                throw new ConfigException(file + ":" + lineNo + ": key '" + key + "' given twice (first on line "
                        + entries.get(key).line() + ")");
            }
            entries.put(key, new Entry(value, lineNo));
        }
        return entries;
    }

    private static Config build(Path file, Map<String, Entry> e, Flags flags) throws ConfigException {
        Values v = new Values(file, e);
        boolean dev = flags.dev();
        Path stateDir = flags.stateDir() != null ? flags.stateDir()
                : dev ? Config.DEV_DIR : v.path("state_dir", Config.DEFAULT_STATE_DIR);
        Path socket = flags.socket() != null ? flags.socket()
                : dev ? stateDir.resolve(Config.SOCKET_NAME) : v.path("socket", Config.DEFAULT_SOCKET);
        int socketMode = dev && !e.containsKey("socket_mode") ? 0600 : v.mode("socket_mode", 0666);
        Optional<String> socketGroup = dev && !e.containsKey("socket_group") ? Optional.empty()
                : Optional.of(v.group("socket_group", "twofactord"));
        return new Config(
                socket.toAbsolutePath().normalize(),
                stateDir.toAbsolutePath().normalize(),
                socketMode,
                socketGroup,
                e.containsKey("socket_group"),
                v.group("admin_group", "twofactord-admin"),
                v.group("verifier_group", "twofactord"),
                e.containsKey("admin_group") || e.containsKey("verifier_group"),
                v.integer("window", 1, 0, 10),
                v.digits(),
                v.integer("max_failures", 5, 1, 100),
                v.integer("lockout_s", 60, 1, Config.MAX_LOCKOUT_S),
                v.integer("idle_timeout_s", 30, 1, 3600),
                v.integer("max_connections", 256, 1, 4096),
                v.integer("max_connections_per_uid", 16, 1, 4096),
                dev,
                v.bool("group_commit", true),
                postgres(v, e),
                new Config.Checkpoints(
                        v.integer("checkpoint_changes", Config.Checkpoints.DEFAULTS.changes(), 1, 10_000_000),
                        v.integer("checkpoint_log_mb", Config.Checkpoints.DEFAULTS.logMb(), 1, 65_536),
                        v.integer("checkpoint_interval_s", Config.Checkpoints.DEFAULTS.intervalS(), 1, 86_400)),
                v.unlessEmpty("owners_file") ? Optional.of(v.path("owners_file", null)) : Optional.empty(),
                v.unlessEmpty("require_group") ? Optional.of(v.group("require_group", null)) : Optional.empty());
    }

    /**
     * The PostgreSQL settings when {@code store = postgresql}. With the MapDB store the postgres_*
     * keys are still checked, then unused, so a prepared configuration can switch by one line.
     */
    private static Optional<PostgresConfig> postgres(Values v, Map<String, Entry> e) throws ConfigException {
        String kind = v.choice("store", "mapdb", "mapdb", "postgresql");
        String url = v.jdbcUrl("postgres_url");
        String user = v.group("postgres_user", "twofactord");
        Path passwordFile = v.path("postgres_password_file", null);
        boolean requireSynchronous = v.choice("postgres_synchronous", "warn", "warn", "require").equals("require");
        if (!kind.equals("postgresql")) {
            return Optional.empty();
        }
        if (url == null) {
            throw new ConfigException(v.file() + ":" + e.get("store").line()
                    + ": store: postgresql needs postgres_url (jdbc:postgresql://HOST:PORT/DATABASE)");
        }
        return Optional.of(new PostgresConfig(url, user, Optional.ofNullable(passwordFile), requireSynchronous));
    }

    /** Typed access to the entries, each error naming the file, line and key. */
    private record Values(Path file, Map<String, Entry> entries) {
        private ConfigException bad(String key, String why) {
            Entry entry = entries.get(key);
            return new ConfigException(file + ":" + entry.line() + ": " + key + ": " + why);
        }

        /** Whether an optional key is given with a value ({@code key =} alone means none, as leaving it out). */
        boolean unlessEmpty(String key) {
            Entry entry = entries.get(key);
            return entry != null && !entry.value().isEmpty();
        }

        Path path(String key, Path fallback) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            if (!entry.value().startsWith("/")) {
                throw bad(key, "must be an absolute path");
            }
            return Path.of(entry.value());
        }

        int integer(String key, int fallback, int min, int max) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            try {
                int value = Integer.parseInt(entry.value());
                if (value < min || value > max) {
                    throw bad(key, "must be between " + min + " and " + max + ", not " + value);
                }
                return value;
            } catch (NumberFormatException ex) {
                throw bad(key, "not a whole number: '" + entry.value() + "'");
            }
        }

        boolean bool(String key, boolean fallback) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            return switch (entry.value()) {
                case "yes", "true" -> true;
                case "no", "false" -> false;
                default -> throw bad(key, "must be yes or no, not '" + entry.value() + "'");
            };
        }

        String choice(String key, String fallback, String... allowed) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            if (!List.of(allowed).contains(entry.value())) {
                throw bad(key, "must be one of " + String.join(", ", allowed) + ", not '" + entry.value() + "'");
            }
            return entry.value();
        }

        /** A JDBC URL for PostgreSQL; the password has its own file, never the URL. */
        String jdbcUrl(String key) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return null;
            }
            String url = entry.value();
            if (!url.startsWith("jdbc:postgresql://") || url.chars().anyMatch(Character::isWhitespace)) {
                throw bad(key, "must be a URL like jdbc:postgresql://db.example:5432/twofactord");
            }
            if (url.toLowerCase(java.util.Locale.ROOT).contains("password=")) {
                throw bad(key, "must not carry a password: put it in postgres_password_file");
            }
            int query = url.indexOf('?');
            if (query >= 0) {
                for (String parameter : url.substring(query + 1).split("&")) {
                    String name;
                    try {
                        name = java.net.URLDecoder.decode(parameter.split("=", 2)[0], StandardCharsets.UTF_8);
                    } catch (IllegalArgumentException malformed) {
                        throw bad(key, "has a malformed %-escape in its parameters");
                    }
                    String why = DAEMON_SETS.get(name.toLowerCase(java.util.Locale.ROOT));
                    if (why != null) {
                        throw bad(key, "must not set " + name + ": " + why);
                    }
                }
            }
            return url;
        }

        /**
         * Connection parameters the daemon sets itself (PostgresStore.open), by lower-case name, and
         * why a URL may not: pgjdbc lets the URL's parameters win over the daemon's, so that one
         * {@code socketTimeout=30} would let a login wait 30 s on a database that hangs, where the
         * daemon answers {@code ERR unavailable} within the PAM module's 5 s.
         */
        private static final String TIME_LIMITS = "the daemon sets its own time limits (a request fails within the "
                + "client's 5 s)";
        private static final Map<String, String> DAEMON_SETS = Map.of(
                "connecttimeout", TIME_LIMITS,
                "logintimeout", TIME_LIMITS,
                "sockettimeout", TIME_LIMITS,
                "cancelsignaltimeout", TIME_LIMITS,
                "options", "the daemon sets the session's options itself (statement and lock timeouts, "
                        + "synchronous_commit = on)",
                "user", "set postgres_user instead");

        int digits() throws ConfigException {
            int digits = integer("digits", 6, 6, 8);
            if (digits == 7) {
                throw bad("digits", "must be 6 or 8");
            }
            return digits;
        }

        int mode(String key, int fallback) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            if (!entry.value().matches("0?[0-7]{3}")) {
                throw bad(key, "must be an octal mode such as 0660, not '" + entry.value() + "'");
            }
            int mode = Integer.parseInt(entry.value(), 8);
            if ((mode & 0600) != 0600) {
                throw bad(key, "the owner must keep read and write (0600 at least)");
            }
            return mode;
        }

        String group(String key, String fallback) throws ConfigException {
            Entry entry = entries.get(key);
            if (entry == null) {
                return fallback;
            }
            if (!entry.value().matches("[A-Za-z_][A-Za-z0-9_.-]{0,31}")) {
                throw bad(key, "not a valid group name: '" + entry.value() + "'");
            }
            return entry.value();
        }
    }
}
