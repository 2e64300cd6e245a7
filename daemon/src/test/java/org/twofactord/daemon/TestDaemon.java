package org.twofactord.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.twofactord.daemon.auth.NssUserDatabase;
import org.twofactord.daemon.auth.UserDatabase;
import org.twofactord.daemon.config.Config;
import org.twofactord.daemon.config.ConfigException;
import org.twofactord.daemon.config.ConfigLoader;
import org.twofactord.daemon.server.Server;
import org.twofactord.daemon.store.StoreException;

/**
 * A real daemon in this JVM for tests: real socket and store in a temp directory, an injected
 * clock, and config keys as a config file would give them.
 */
public final class TestDaemon implements AutoCloseable {
    public final Path dir;
    public final MutableClock clock;
    private final Map<String, String> settings = new LinkedHashMap<>();
    private UserDatabase users = new NssUserDatabase();
    private long rootUid = currentUid();
    private Server.StoreFactory storeFactory; // null: the store the config names
    private UnaryOperator<Config> configEdit = c -> c;
    private Server server;

    public TestDaemon(Path dir) {
        this(dir, MutableClock.atStepStart());
    }

    public TestDaemon(Path dir, MutableClock clock) {
        this.dir = dir;
        this.clock = clock;
    }

    public TestDaemon set(String key, String value) {
        settings.put(key, value);
        return this;
    }

    public TestDaemon users(UserDatabase db) {
        this.users = db;
        return this;
    }

    /** The uid that counts as root (default: this process's, as in dev mode). */
    public TestDaemon rootUid(long uid) {
        this.rootUid = uid;
        return this;
    }

    public TestDaemon storeFactory(Server.StoreFactory factory) {
        this.storeFactory = factory;
        return this;
    }

    public TestDaemon editConfig(UnaryOperator<Config> edit) {
        this.configEdit = edit;
        return this;
    }

    public Path socket() {
        return dir.resolve("tfd.sock");
    }

    public Path stateDir() {
        return dir.resolve("state");
    }

    public Config config() throws IOException, ConfigException {
        Files.createDirectories(dir);
        Path file = dir.resolve("twofactord.conf");
        StringBuilder text = new StringBuilder();
        settings.forEach((k, v) -> text.append(k).append(" = ").append(v).append('\n'));
        Files.writeString(file, text);
        return configEdit.apply(ConfigLoader.load(new ConfigLoader.Flags(socket(), stateDir(), file, true)));
    }

    public TestDaemon start() throws IOException, ConfigException, StoreException {
        return start(null);
    }

    /**
     * Starts serving {@code listening}, a socket already bound and listening (as systemd passes
     * one), instead of binding {@link #socket()}; null binds as {@link #start()} does.
     */
    public TestDaemon start(org.newsclub.net.unix.AFUNIXServerSocket listening)
            throws IOException, ConfigException, StoreException {
        Config config = config();
        Server.Options options = new Server.Options(clock, new SecureRandom(), users, rootUid,
                storeFactory != null ? storeFactory : Server.configured(config), "test");
        server = listening == null ? Server.start(config, options) : Server.start(config, options, listening);
        return this;
    }

    public void onAcceptFailed(Runnable listener) {
        server.onAcceptFailed(listener);
    }

    /** Whether the server still accepts connections (what the systemd watchdog asks). */
    public boolean accepting() {
        return server != null && server.accepting();
    }

    /** Stops and starts again on the same directory (a clean restart). */
    public TestDaemon restart() throws IOException, ConfigException, StoreException {
        stop();
        return start();
    }

    public void stop() {
        if (server != null) {
            server.stop();
            server = null;
        }
    }

    public Client client() throws IOException {
        return new Client(socket());
    }

    @Override
    public void close() {
        stop();
    }

    public static long currentUid() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A user database with fixed entries, for role tests that need no real accounts. */
    public static UserDatabase fixedUsers(Map<Long, String> names, Map<String, UserDatabase.Group> groups) {
        return new UserDatabase() {
            @Override
            public Optional<Account> byUid(long uid) {
                return Optional.ofNullable(names.get(uid)).map(n -> new Account(n, uid, 100000 + uid));
            }

            @Override
            public Optional<Account> byName(String name) {
                return names.entrySet().stream().filter(e -> e.getValue().equals(name)).findFirst()
                        .map(e -> new Account(name, e.getKey(), 100000 + e.getKey()));
            }

            @Override
            public Optional<Group> group(String name) {
                return Optional.ofNullable(groups.get(name));
            }
        };
    }
}
