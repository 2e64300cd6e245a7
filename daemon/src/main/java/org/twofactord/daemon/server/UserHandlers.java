package org.twofactord.daemon.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.twofactord.daemon.auth.Caller;
import org.twofactord.daemon.policy.PolicyMode;
import org.twofactord.daemon.store.key.MasterKey;
import org.twofactord.daemon.store.PendingEnrollment;
import org.twofactord.daemon.store.StoreException;
import org.twofactord.daemon.store.UserRecord;
import org.twofactord.daemon.totp.Base32;
import org.twofactord.daemon.totp.TotpEngine;
import org.twofactord.protocol.Commands;
import org.twofactord.protocol.Keys;
import org.twofactord.protocol.Reasons;
import org.twofactord.protocol.Reply;
import org.twofactord.protocol.Request;

/** The commands that act on users: CHECK, VERIFY, ENROLL, CONFIRM, REMOVE, USER, USERS, BACKUP, UNLOCK, IMPORT, REQUIRE. */
final class UserHandlers {
    /** How long an ENROLL stays pending. */
    static final long PENDING_S = 600;
    /** CONFIRM looks this many steps either side for a clock-skew hint (10 minutes). */
    static final int SKEW_STEPS = 20;
    static final int SECRET_BYTES = 20;

    private static final Logger log = LoggerFactory.getLogger(UserHandlers.class);
    private static final Set<String> VERIFY_ARGS = Set.of(Commands.ARG_SERVICE, Commands.ARG_RHOST);
    private static final Set<String> PROOF_ARG = Set.of(Commands.ARG_CODE);
    private static final Set<String> REMOVE_ARGS = Set.of(Commands.ARG_CODE, Commands.ARG_EXCEPT);

    private final Services services;
    private final CodeCheck codes;

    UserHandlers(Services services) {
        this.services = services;
        this.codes = new CodeCheck(services);
    }

    Reply check(Caller caller, Request request) {
        String name = Args.of(request, Set.of()).count(1, 1, "CHECK <user>").user(0);
        boolean enrolled = services.store.user(name).isPresent();
        return switch (decide(name, enrolled)) {
            case ASK -> Reply.ok(Reply.object().put(Keys.REQUIRED, true));
            case NONE_POLICY_DISABLED -> notRequired("policy-disabled");
            case NONE_NOT_ENROLLED -> notRequired("not-enrolled");
            case DENY_ENROLL_REQUIRED -> Reply.no(Reasons.ENROLL_REQUIRED);
        };
    }

    /**
     * The policy's decision for a user, with its account's own requirement: an account marked
     * required (or in require_group) without 2FA is denied under the optional policy as under
     * the required one. Looked up only when it can change the answer.
     */
    private PolicyMode.Decision decide(String name, boolean enrolled) {
        PolicyMode.Decision decision = services.policy().decide(enrolled);
        if (decision == PolicyMode.Decision.NONE_NOT_ENROLLED && services.required(name)) {
            return PolicyMode.Decision.DENY_ENROLL_REQUIRED;
        }
        return decision;
    }

    private static Reply notRequired(String reason) {
        return Reply.ok(Reply.object().put(Keys.REQUIRED, false).put(Keys.REASON, reason));
    }

    Reply verify(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, VERIFY_ARGS).count(2, 2, "VERIFY <user> <code> [service=<name>] [rhost=<addr>]");
        String name = args.user(0);
        String code = args.positional.get(1);
        Optional<UserRecord> record = services.store.user(name);
        PolicyMode.Decision decision = decide(name, record.isPresent());
        return switch (decision) {
            case NONE_POLICY_DISABLED -> Reply.ok(Reply.object().put(Keys.METHOD, "none").put(Keys.REASON, "policy-disabled"));
            case NONE_NOT_ENROLLED -> Reply.ok(Reply.object().put(Keys.METHOD, "none").put(Keys.REASON, "not-enrolled"));
            case DENY_ENROLL_REQUIRED -> Reply.no(Reasons.ENROLL_REQUIRED);
            case ASK -> codes.check(name, record.get(), code).reply();
        };
    }

    /**
     * A self caller changing an account that has 2FA proves it with {@code code=}, checked and
     * consumed as VERIFY does. Returns the refusal, or empty when the change may go on.
     */
    private Optional<Reply> proof(Caller caller, String name, Optional<UserRecord> record, String code)
            throws StoreException {
        if (caller.admin() || record.isEmpty()) {
            return Optional.empty();
        }
        if (code == null) {
            return Optional.of(Reply.no(Reasons.CODE_REQUIRED));
        }
        CodeCheck.Outcome outcome = codes.check(name, record.get(), code);
        return outcome.accepted() ? Optional.empty() : Optional.of(outcome.reply());
    }

    Reply enroll(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, PROOF_ARG).count(1, 1, "ENROLL <user> [code=<code>]");
        String name = args.user(0);
        if (!caller.admin() && services.policy() == PolicyMode.DISABLED) {
            // As in WHM: the policy is switched on before accounts set up 2FA for themselves.
            return Reply.no(Reasons.POLICY_DISABLED);
        }
        Optional<Reply> refusal = proof(caller, name, services.store.user(name), args.named(Commands.ARG_CODE));
        if (refusal.isPresent()) {
            return refusal.get();
        }
        byte[] secret = new byte[SECRET_BYTES];
        services.random.nextBytes(secret);
        long now = services.nowS();
        PendingEnrollment pending = new PendingEnrollment(services.key.seal(name, secret), now, now + PENDING_S);
        services.write(store -> {
            store.putPending(name, pending);
            return null;
        });
        String issuer = services.issuer();
        String base32 = Base32.encode(secret);
        Arrays.fill(secret, (byte) 0);
        int digits = services.totp.digits();
        return Reply.ok(Reply.object()
                .put(Keys.USER, name)
                .put(Keys.ISSUER, issuer)
                .put(Keys.ACCOUNT, name)
                .put(Keys.SECRET, base32)
                .put(Keys.OTPAUTH_URL, otpauthUrl(issuer, name, base32, digits))
                .put(Keys.DIGITS, digits)
                .put(Keys.PERIOD, TotpEngine.PERIOD_S)
                .put(Keys.ALGORITHM, "SHA1")
                .put(Keys.EXPIRES_IN, PENDING_S));
    }

    /** The key URI that authenticator apps scan; spaces are %20, never '+'. */
    static String otpauthUrl(String issuer, String account, String base32, int digits) {
        String label = encode(issuer) + ":" + encode(account);
        return "otpauth://totp/" + label + "?secret=" + base32 + "&issuer=" + encode(issuer)
                + "&algorithm=SHA1&digits=" + digits + "&period=" + TotpEngine.PERIOD_S;
    }

    /** Percent-encodes all but RFC 3986's unreserved characters. */
    static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A")
                .replace("%7E", "~");
    }

    Reply confirm(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, Set.of()).count(2, 2, "CONFIRM <user> <code>");
        String name = args.user(0);
        String code = args.positional.get(1);
        long now = services.nowS();
        Optional<PendingEnrollment> pending = services.store.pending(name).filter(p -> !p.expiredAt(now));
        if (pending.isEmpty()) {
            return Reply.no(Reasons.NO_PENDING);
        }
        byte[] secret = services.key.open(name, pending.get().sealedSecret());
        long step = services.totp.currentStep();
        OptionalLong matched;
        OptionalLong skewed;
        try {
            matched = services.totp.match(secret, code, step, services.config.window(), Long.MIN_VALUE);
            skewed = matched.isPresent() ? OptionalLong.empty()
                    : services.totp.match(secret, code, step, SKEW_STEPS, Long.MIN_VALUE);
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
        if (matched.isEmpty()) {
            if (skewed.isEmpty()) {
                return Reply.no(Reasons.INVALID);
            }
            long skewS = (skewed.getAsLong() - step) * TotpEngine.PERIOD_S;
            services.stats.lastClockSkewS = skewS;
            log.warn("CONFIRM for {}: the security code is invalid, but it matches a time {} s {} the server's "
                    + "clock; check the server's time synchronisation (timedatectl, chrony or systemd-timesyncd)",
                    name, Math.abs(skewS), skewS > 0 ? "ahead of" : "behind");
            return Reply.no(Reasons.INVALID, Reply.object().put(Keys.CLOCK_SKEW_S, skewS));
        }
        List<String> backup = newBackupCodes();
        byte[] hashes = backupHashes(name, backup);
        long acceptedStep = matched.getAsLong();
        PendingEnrollment expected = pending.get();
        boolean done = services.write(name, store -> {
            Optional<PendingEnrollment> current = store.pending(name);
            if (current.isEmpty() || !current.get().equals(expected)) {
                return false; // re-enrolled or removed meanwhile
            }
            int generation = store.user(name).map(u -> u.generation() + 1).orElse(1);
            store.putUser(name, new UserRecord(expected.sealedSecret(), generation, acceptedStep, 0, 0, 0, now, 0,
                    hashes, 0));
            store.removePending(name);
            return true;
        });
        if (!done) {
            return Reply.no(Reasons.NO_PENDING);
        }
        return Reply.ok(backupReply(backup));
    }

    private List<String> newBackupCodes() {
        List<String> codes = new ArrayList<>(UserRecord.BACKUP_CODES);
        for (int i = 0; i < UserRecord.BACKUP_CODES; i++) {
            long value = (services.random.nextLong() >>> 1) % 10_000_000_000L;
            String digits = String.format("%010d", value);
            codes.add(digits.substring(0, 5) + "-" + digits.substring(5));
        }
        return codes;
    }

    private byte[] backupHashes(String name, List<String> codes) {
        byte[] hashes = new byte[codes.size() * MasterKey.BACKUP_HASH_BYTES];
        for (int i = 0; i < codes.size(); i++) {
            byte[] hash = services.key.backupHash(name, CodeCheck.backupDigits(codes.get(i), 6));
            System.arraycopy(hash, 0, hashes, i * MasterKey.BACKUP_HASH_BYTES, hash.length);
        }
        return hashes;
    }

    private static ObjectNode backupReply(List<String> codes) {
        ObjectNode body = Reply.object();
        ArrayNode array = body.putArray(Keys.BACKUP_CODES);
        codes.forEach(array::add);
        return body;
    }

    Reply backup(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, PROOF_ARG).count(1, 1, "BACKUP <user> [code=<code>]");
        String name = args.user(0);
        Optional<UserRecord> record = services.store.user(name);
        if (record.isEmpty()) {
            return Reply.no(Reasons.NOT_ENROLLED);
        }
        Optional<Reply> refusal = proof(caller, name, record, args.named(Commands.ARG_CODE));
        if (refusal.isPresent()) {
            return refusal.get();
        }
        List<String> backup = newBackupCodes();
        byte[] hashes = backupHashes(name, backup);
        int generation = record.get().generation();
        boolean done = services.write(name, store -> {
            Optional<UserRecord> current = store.user(name);
            if (current.isEmpty() || current.get().generation() != generation) {
                return false;
            }
            store.putUser(name, current.get().withBackup(hashes));
            return true;
        });
        return done ? Reply.ok(backupReply(backup)) : Reply.no(Reasons.NOT_ENROLLED);
    }

    Reply remove(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, REMOVE_ARGS).count(1, Integer.MAX_VALUE,
                "REMOVE <user> [<user> ...] [code=<code>] | REMOVE * [except=<user>]");
        String except = args.named(Commands.ARG_EXCEPT);
        List<String> names;
        if (args.positional.contains("*")) {
            if (args.positional.size() != 1 || args.named(Commands.ARG_CODE) != null) {
                throw RequestError.badRequest("usage: REMOVE * [except=<user>]");
            }
            if (except != null) {
                Args.checkUser(except);
            }
            // An administrator: every account; an owner: every account it owns. Never the
            // caller's own (nor, with as=, the person's), nor the one named by except=.
            names = new ArrayList<>(services.store.names());
            if (!caller.admin()) {
                names.retainAll(Set.copyOf(caller.ownedAccounts()));
            }
            caller.selfName().ifPresent(names::remove);
            names.remove(except);
        } else {
            if (except != null) {
                throw RequestError.badRequest("except= goes with REMOVE * only");
            }
            LinkedHashSet<String> unique = new LinkedHashSet<>();
            for (String name : args.positional) {
                unique.add(Args.checkUser(name));
            }
            names = new ArrayList<>(unique);
            if (!caller.admin()) {
                // The dispatcher let only the caller's own name and accounts it owns through; its
                // own needs the proof for self changes, one proof for the request.
                Optional<String> self = names.stream().filter(caller::isSelf).findFirst();
                if (self.isPresent()) {
                    Optional<Reply> refusal = proof(caller, self.get(), services.store.user(self.get()),
                            args.named(Commands.ARG_CODE));
                    if (refusal.isPresent()) {
                        return refusal.get();
                    }
                }
            }
        }
        List<String> removed = new ArrayList<>();
        List<String> notEnrolled = new ArrayList<>();
        services.write(store -> {
            for (String name : names) {
                (store.user(name).isPresent() ? removed : notEnrolled).add(name);
                store.removeUser(name);
                store.removePending(name);
            }
            return null;
        });
        ObjectNode body = Reply.object();
        ArrayNode gone = body.putArray(Keys.REMOVED);
        removed.forEach(gone::add);
        ArrayNode not = body.putArray(Keys.NOT_ENROLLED);
        notEnrolled.forEach(not::add);
        return Reply.ok(body);
    }

    Reply user(Caller caller, Request request) {
        String name = Args.of(request, Set.of()).count(1, 1, "USER <user>").user(0);
        return Reply.ok(userObject(name));
    }

    /**
     * USERS: an administrator sees every account with 2FA, a pending enrolment or a required
     * mark; an owner sees the accounts it owns (whatever their state) and itself. With
     * {@code owner=<name>}: the accounts that name owns (an owner may ask only for its own).
     */
    Reply users(Caller caller, Request request) {
        Args args = Args.of(request, Set.of(Commands.ARG_OWNER)).count(0, 0, "USERS [owner=<name>]");
        String owner = args.named(Commands.ARG_OWNER);
        java.util.SortedSet<String> names = new java.util.TreeSet<>();
        if (owner != null) {
            names.addAll(services.roles.owners().accountsOf(Args.checkUser(owner)));
        } else if (caller.admin()) {
            names.addAll(services.store.names());
            names.addAll(services.store.requiredNames());
        } else {
            names.addAll(caller.ownedAccounts());
            caller.selfName().ifPresent(names::add);
        }
        ObjectNode body = Reply.object();
        ArrayNode array = body.putArray(Keys.USERS);
        java.util.Map<String, String> requiredBy = services.requiredBy(names);
        for (String name : names) {
            array.add(userObject(name, requiredBy.get(name)));
        }
        return Reply.ok(body);
    }

    private ObjectNode userObject(String name) {
        return userObject(name, services.requiredBy(name));
    }

    /** One account's object, {@code requiredBy} as {@link Services#requiredBy} says. */
    private ObjectNode userObject(String name, String requiredBy) {
        long now = services.nowS();
        Optional<UserRecord> record = services.store.user(name);
        boolean pending = services.store.pending(name).filter(p -> !p.expiredAt(now)).isPresent();
        boolean locked = record.filter(r -> r.lockedAt(now)).isPresent();
        ObjectNode o = Reply.object().put(Keys.USER, name).put(Keys.ENROLLED, record.isPresent());
        putTime(o, Keys.ENROLLED_AT, record.map(UserRecord::enrolledAt).orElse(0L));
        putTime(o, Keys.LAST_USED_AT, record.map(UserRecord::lastUsedAt).orElse(0L));
        o.put(Keys.BACKUP_CODES_LEFT, record.map(UserRecord::backupCodesLeft).orElse(0));
        // A lock is set by the max_failures-th failure in a row, and the count starts again
        // afterwards: while it holds, the count that led to it.
        o.put(Keys.FAILURES, locked ? services.config.maxFailures() : record.map(UserRecord::failures).orElse(0));
        putTime(o, Keys.LOCKED_UNTIL, locked ? record.get().lockedUntil() : 0L);
        o.put(Keys.PENDING, pending);
        o.put(Keys.REQUIRED, requiredBy != null);
        if (requiredBy == null) {
            o.putNull(Keys.REQUIRED_BY);
        } else {
            o.put(Keys.REQUIRED_BY, requiredBy);
        }
        Optional<String> owner = services.roles.owners().ownerOf(name);
        if (owner.isPresent()) {
            o.put(Keys.OWNER, owner.get());
        } else {
            o.putNull(Keys.OWNER);
        }
        return o;
    }

    /**
     * REQUIRE user [on|off]: marks the account required, so that it must enrol before it may
     * log in whatever the policy's mode (unless disabled), or clears the mark. Admin only.
     */
    Reply require(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, Set.of()).count(1, 2, "REQUIRE <user> [on|off]");
        String name = args.user(0);
        boolean on = true;
        if (args.positional.size() == 2) {
            String word = args.positional.get(1).toUpperCase(java.util.Locale.ROOT);
            if (!word.equals(Commands.ON) && !word.equals(Commands.OFF)) {
                throw RequestError.badRequest("usage: REQUIRE <user> [on|off]");
            }
            on = word.equals(Commands.ON);
        }
        boolean mark = on;
        services.write(store -> {
            store.setRequired(name, mark);
            return null;
        });
        return Reply.ok(userObject(name));
    }

    private static void putTime(ObjectNode o, String key, long epochS) {
        if (epochS == 0) {
            o.putNull(key);
        } else {
            o.put(key, Instant.ofEpochSecond(epochS).toString());
        }
    }

    /**
     * IMPORT user base32-secret [code ...] [digits=N]: an extension to protocol v1 for bringing
     * users over from google-authenticator or pam_oath without a new enrolment. The codes (8-digit
     * scratch codes or 10-digit backup codes) become backup codes. The current step counts as
     * used, so a code the old system accepted a moment ago cannot be replayed here.
     */
    Reply importUser(Caller caller, Request request) throws StoreException {
        Args args = Args.of(request, Set.of(Commands.ARG_DIGITS))
                .count(2, 2 + UserRecord.BACKUP_CODES, "IMPORT <user> <base32-secret> [<backup-code> ...] [digits=6|8]");
        String name = args.user(0);
        String digitsArg = args.named(Commands.ARG_DIGITS);
        if (digitsArg != null && !digitsArg.equals(Integer.toString(services.totp.digits()))) {
            throw RequestError.badRequest("this daemon uses " + services.totp.digits() + "-digit codes");
        }
        byte[] secret;
        try {
            secret = Base32.decode(args.positional.get(1));
        } catch (IllegalArgumentException e) {
            throw RequestError.badRequest("the secret is not Base32");
        }
        if (secret.length < 10 || secret.length > 64) {
            Arrays.fill(secret, (byte) 0);
            throw RequestError.badRequest("the secret must be 80 to 512 bits");
        }
        List<String> codes = new ArrayList<>();
        for (String code : args.positional.subList(2, args.positional.size())) {
            String digits = CodeCheck.backupDigits(code, 6);
            if (digits == null) {
                Arrays.fill(secret, (byte) 0);
                throw RequestError.badRequest("a backup code is 8 or 10 digits");
            }
            codes.add(digits);
        }
        byte[] hashes = new byte[codes.size() * MasterKey.BACKUP_HASH_BYTES];
        for (int i = 0; i < codes.size(); i++) {
            System.arraycopy(services.key.backupHash(name, codes.get(i)), 0, hashes, i * MasterKey.BACKUP_HASH_BYTES,
                    MasterKey.BACKUP_HASH_BYTES);
        }
        byte[] sealed = services.key.seal(name, secret);
        Arrays.fill(secret, (byte) 0);
        long now = services.nowS();
        long step = services.totp.currentStep();
        services.write(name, store -> {
            int generation = store.user(name).map(u -> u.generation() + 1).orElse(1);
            store.putUser(name, new UserRecord(sealed, generation, step, 0, 0, 0, now, 0, hashes, 0));
            store.removePending(name);
            return null;
        });
        return Reply.ok(Reply.object().put(Keys.USER, name).put(Keys.BACKUP_CODES_LEFT, codes.size()));
    }

    Reply unlock(Caller caller, Request request) throws StoreException {
        String name = Args.of(request, Set.of()).count(1, 1, "UNLOCK <user>").user(0);
        services.write(name, store -> {
            store.user(name).ifPresent(r -> store.putUser(name, r.unlocked()));
            return null;
        });
        return Reply.ok();
    }
}
