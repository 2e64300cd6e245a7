package org.twofactord.daemon.server;

import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.policy.PolicyMode;
import org.twofactord.daemon.store.Store;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;

/** HELLO, PING, QUIT, POLICY, ISSUER and STATS. */
final class BasicHandlers {
    static final int MAX_ISSUER_CHARS = 64;

    private final Services services;

    BasicHandlers(Services services) {
        this.services = services;
    }

    Reply hello(Caller caller, Request request) {
        if (request.argCount() > 1) {
            throw RequestError.badRequest("usage: HELLO [version]");
        }
        if (request.argCount() == 1 && !request.arg(0).equals(Integer.toString(Commands.PROTOCOL_VERSION))) {
            throw RequestError.badRequest("unsupported protocol version");
        }
        return Reply.ok(Reply.object().put(Keys.PROTOCOL, Commands.PROTOCOL_VERSION)
                .put(Keys.SERVER, "twofactord/" + services.version));
    }

    Reply ping(Caller caller, Request request) {
        return Reply.ok();
    }

    Reply quit(Caller caller, Request request) {
        return Reply.ok();
    }

    Reply policy(Caller caller, Request request) throws StoreException {
        if (request.argCount() > 1) {
            throw RequestError.badRequest("usage: POLICY [ENABLE | DISABLE | REQUIRE]");
        }
        if (request.argCount() == 1) {
            PolicyMode mode = switch (request.word(0)) {
                case Commands.ENABLE -> PolicyMode.OPTIONAL;
                case Commands.DISABLE -> PolicyMode.DISABLED;
                case Commands.REQUIRE -> PolicyMode.REQUIRED;
                default -> throw RequestError.badRequest("usage: POLICY [ENABLE | DISABLE | REQUIRE]");
            };
            services.write(store -> {
                store.putMeta(Store.META_POLICY, mode.wireName());
                return null;
            });
            return policyReply(mode);
        }
        return policyReply(services.policy());
    }

    private static Reply policyReply(PolicyMode mode) {
        return Reply.ok(Reply.object().put(Keys.MODE, mode.wireName()).put(Keys.ENABLED, mode != PolicyMode.DISABLED));
    }

    Reply issuer(Caller caller, Request request) throws StoreException {
        if (request.argCount() == 0) {
            return issuerReply();
        }
        String word = request.word(0);
        if (word.equals(Commands.RESET) && request.argCount() == 1) {
            services.write(store -> {
                store.removeMeta(Store.META_ISSUER);
                return null;
            });
            return issuerReply();
        }
        if (word.equals(Commands.SET) && request.argCount() >= 2) {
            String text = request.restFrom(1);
            checkIssuer(text);
            services.write(store -> {
                store.putMeta(Store.META_ISSUER, text);
                return null;
            });
            return issuerReply();
        }
        throw RequestError.badRequest("usage: ISSUER [SET <text> | RESET]");
    }

    /** 1-64 printable characters, spaces allowed, no colon (it separates issuer and account). */
    static void checkIssuer(String text) {
        int length = text.codePointCount(0, text.length());
        if (length < 1 || length > MAX_ISSUER_CHARS) {
            throw RequestError.badRequest("an issuer is 1-" + MAX_ISSUER_CHARS + " characters");
        }
        boolean printable = text.codePoints().allMatch(c -> c >= ' ' && c != 0x7f && !Character.isISOControl(c)
                && Character.getType(c) != Character.FORMAT);
        if (!printable || text.indexOf(':') >= 0) {
            throw RequestError.badRequest("an issuer is printable characters without ':'");
        }
    }

    private Reply issuerReply() {
        boolean isDefault = services.store.meta(Store.META_ISSUER).isEmpty();
        return Reply.ok(Reply.object().put(Keys.ISSUER, services.issuer()).put(Keys.DEFAULT, isDefault));
    }

    /**
     * SNAPSHOT (an extension, uid 0): a consistent copy of the store, taken by the writer between
     * two commits, into {@code state_dir/snapshots/<time>/}. {@code twofactord store backup}
     * fetches it from there with the master key.
     */
    Reply snapshot(Caller caller, Request request) throws StoreException {
        if (request.argCount() != 0) {
            throw RequestError.badRequest("usage: SNAPSHOT");
        }
        java.nio.file.Path parent = services.config.stateDir().resolve("snapshots");
        try {
            java.nio.file.Files.createDirectories(parent);
        } catch (java.io.IOException e) {
            throw new StoreException("cannot make " + parent + ": " + e.getMessage(), e);
        }
        String stamp = services.clock.instant().toString().replace(":", "");
        java.nio.file.Path dir = parent.resolve(stamp + "-" + System.nanoTime() % 100000);
        services.write(store -> {
            store.snapshot(dir);
            return null;
        });
        return Reply.ok(Reply.object().put(Keys.PATH, dir.toString()));
    }

    Reply stats(Caller caller, Request request) {
        if (request.argCount() != 0) {
            throw RequestError.badRequest("usage: STATS");
        }
        Stats s = services.stats;
        var body = Reply.object()
                .put(Keys.UPTIME_S, (System.nanoTime() - s.startedNanos) / 1_000_000_000L)
                .put(Keys.USERS, services.store.userCount())
                .put(Keys.VERIFY_OK, s.verifyOk.get())
                .put(Keys.VERIFY_NO, s.verifyNo.get())
                .put(Keys.REPLAYS, s.replays.get())
                .put(Keys.LOCKOUTS, s.lockouts.get())
                .put(Keys.CONNECTIONS, s.connections.get());
        Long skew = s.lastClockSkewS;
        if (skew == null) {
            body.putNull(Keys.CLOCK_SKEW_S);
        } else {
            body.put(Keys.CLOCK_SKEW_S, skew);
        }
        var health = services.store.health();
        if (!health.isEmpty()) {
            var store = body.putObject(Keys.STORE);
            health.forEach((k, v) -> {
                if (v == null) {
                    store.putNull(k);
                } else if (v instanceof Number n) {
                    store.put(k, n.longValue());
                } else {
                    store.put(k, v.toString());
                }
            });
        }
        return Reply.ok(body);
    }
}
