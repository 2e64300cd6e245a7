package org.twofactord.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A client of the twofactord socket: one connection, one request at a time, typed results.
 *
 * <p>{@link #connect(Path, Duration)} opens the socket and says HELLO; every call then sends one
 * line and reads one reply. A client is not thread-safe: use one per thread, or guard it.
 *
 * <p><b>Timeouts and dropped connections.</b> The timeout given at connect bounds the connect
 * and each wait for a reply. If it passes, or the daemon closes the connection, or the daemon
 * sends something that is not a reply, the call throws an {@link IOException}
 * ({@link java.net.SocketTimeoutException}, {@link EOFException} or {@link ProtocolException})
 * and the client closes itself: the order of replies can no longer be trusted, so every later
 * call throws too. Nothing is retried automatically, because a VERIFY whose reply was lost may
 * already have used its code; a caller that retries on a new connection may be told
 * {@code replayed}. A login service should treat any {@link IOException} as "no".
 *
 * <p>{@code ERR} replies, and {@code NO} replies to commands whose result has no "no", are
 * thrown as {@link TwoFactorException}.
 */
public final class TwoFactorClient implements Closeable {
    /** Where the system daemon listens. */
    public static final Path DEFAULT_SOCKET = Path.of("/run/twofactord/twofactord.sock");
    /** Replies can be long (USERS); the client still refuses an unbounded one. */
    private static final int MAX_REPLY_BYTES = 64 * 1024 * 1024;

    private final AFUNIXSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private final Hello hello;
    private boolean broken;
    /** The person requests are made for ({@code as=}) inside {@link #actingAs}, or null. */
    private String person;

    /** Work done with a client, for {@link #actingAs}. */
    @FunctionalInterface
    public interface Work<T> {
        T run(TwoFactorClient client) throws IOException;
    }

    private TwoFactorClient(AFUNIXSocket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
        Reply reply = call(Commands.HELLO + " " + Commands.PROTOCOL_VERSION);
        ObjectNode body = expectOk(reply);
        this.hello = new Hello(body.path(Keys.PROTOCOL).asInt(), body.path(Keys.SERVER).asText(""));
    }

    /** Connects to the socket at {@code path}, says HELLO, and returns the client. */
    public static TwoFactorClient connect(Path path, Duration timeout) throws IOException {
        AFUNIXSocket socket = AFUNIXSocket.newInstance();
        try {
            int millis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
            socket.connect(AFUNIXSocketAddress.of(path), millis);
            socket.setSoTimeout(millis);
            return new TwoFactorClient(socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** Connects with a 5-second timeout. */
    public static TwoFactorClient connect(Path path) throws IOException {
        return connect(path, Duration.ofSeconds(5));
    }

    /** What the daemon said to HELLO. */
    public Hello hello() {
        return hello;
    }

    /**
     * Sends one request line as it is and returns the reply, whatever it is. The line must not
     * contain CR or LF.
     */
    public synchronized Reply call(String line) throws IOException {
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("a request is one line");
        }
        if (person != null) {
            line = line + " " + Commands.ARG_AS + person;
        }
        if (broken) {
            throw new IOException("connection to twofactord is closed");
        }
        try {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return Reply.parse(readLine());
        } catch (IOException | RuntimeException e) {
            broken = true;
            socket.close();
            throw e;
        }
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(128);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("twofactord closed the connection");
            }
            if (b == '\n') {
                return buf.toString(StandardCharsets.UTF_8);
            }
            if (buf.size() >= MAX_REPLY_BYTES) {
                throw new ProtocolException("reply line too long");
            }
            buf.write(b);
        }
    }

    private static ObjectNode expectOk(Reply reply) throws TwoFactorException {
        if (!reply.isOk()) {
            throw new TwoFactorException(reply);
        }
        return reply.body() == null ? Reply.object() : reply.body();
    }

    private static String user(String name) {
        String problem = UserNames.problem(name);
        if (problem != null) {
            throw new IllegalArgumentException("not a valid user name (" + problem + "): " + UserNames.RULE);
        }
        return name;
    }

    private static String token(String value, String what) {
        if (value.isEmpty() || value.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) {
            throw new IllegalArgumentException(what + " must be one token without spaces");
        }
        return value;
    }

    /**
     * Runs {@code work} with every request made for {@code person} ({@code as=}, protocol 1.1):
     * an administrator's connection (a panel's) then gets exactly what that person would get.
     * Other threads' requests on this client wait until it is done.
     */
    public synchronized <T> T actingAs(String person, Work<T> work) throws IOException {
        String before = this.person;
        this.person = user(person);
        try {
            return work.run(this);
        } finally {
            this.person = before;
        }
    }

    /** PING: true if the daemon answered OK. */
    public void ping() throws IOException {
        expectOk(call(Commands.PING));
    }

    /** QUIT: the daemon answers and closes; this client closes too. */
    @Override
    public void close() throws IOException {
        if (!broken && !socket.isClosed()) {
            try {
                call(Commands.QUIT);
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        broken = true;
        socket.close();
    }

    /** POLICY (read). */
    public PolicyState policy() throws IOException {
        return PolicyState.from(expectOk(call(Commands.POLICY)));
    }

    /** POLICY ENABLE, DISABLE or REQUIRE (uid 0 only). */
    public PolicyState setPolicy(String word) throws IOException {
        return PolicyState.from(expectOk(call(Commands.POLICY + " " + token(word, "policy"))));
    }

    /** ISSUER (read). */
    public IssuerState issuer() throws IOException {
        return IssuerState.from(expectOk(call(Commands.ISSUER)));
    }

    /** ISSUER SET text (uid 0 only). */
    public IssuerState setIssuer(String text) throws IOException {
        return IssuerState.from(expectOk(call(Commands.ISSUER + " " + Commands.SET + " " + text)));
    }

    /** ISSUER RESET (uid 0 only): back to the host name. */
    public IssuerState resetIssuer() throws IOException {
        return IssuerState.from(expectOk(call(Commands.ISSUER + " " + Commands.RESET)));
    }

    /** STATS, as the daemon's JSON object. */
    public ObjectNode stats() throws IOException {
        return expectOk(call(Commands.STATS));
    }

    /** CHECK user: does this login need a code? */
    public CheckResult check(String name) throws IOException {
        Reply reply = call(Commands.CHECK + " " + user(name));
        if (reply.kind() == Reply.Kind.NO && Reasons.ENROLL_REQUIRED.equals(reply.word())) {
            return new CheckResult(CheckResult.Outcome.ENROLL_REQUIRED, Reasons.ENROLL_REQUIRED);
        }
        ObjectNode body = expectOk(reply);
        if (body.path(Keys.REQUIRED).asBoolean(false)) {
            return new CheckResult(CheckResult.Outcome.REQUIRED, null);
        }
        return new CheckResult(CheckResult.Outcome.NOT_REQUIRED, body.path(Keys.REASON).asText(null));
    }

    /** VERIFY user code, with the optional audit fields (null to leave out). */
    public VerifyResult verify(String name, String code, String service, String rhost) throws IOException {
        StringBuilder line = new StringBuilder(Commands.VERIFY).append(' ').append(user(name))
                .append(' ').append(token(code, "code"));
        if (service != null) {
            line.append(' ').append(Commands.ARG_SERVICE).append(token(service, "service"));
        }
        if (rhost != null) {
            line.append(' ').append(Commands.ARG_RHOST).append(token(rhost, "rhost"));
        }
        Reply reply = call(line.toString());
        if (reply.kind() == Reply.Kind.ERR) {
            throw new TwoFactorException(reply);
        }
        return VerifyResult.from(reply);
    }

    /** VERIFY user code. */
    public VerifyResult verify(String name, String code) throws IOException {
        return verify(name, code, null, null);
    }

    /** ENROLL user [code=]: a new pending secret. {@code proof} may be null. */
    public Enrollment enroll(String name, String proof) throws IOException {
        return Enrollment.from(expectOk(call(withProof(Commands.ENROLL + " " + user(name), proof))));
    }

    /** CONFIRM user code: returns the new backup codes. A wrong code throws with reason invalid. */
    public List<String> confirm(String name, String code) throws IOException {
        return strings(expectOk(call(Commands.CONFIRM + " " + user(name) + " " + token(code, "code")))
                .path(Keys.BACKUP_CODES));
    }

    /** REMOVE users [code=]: returns the reply body ({@code removed}, {@code not_enrolled}). */
    public ObjectNode remove(Collection<String> names, String proof) throws IOException {
        StringBuilder line = new StringBuilder(Commands.REMOVE);
        for (String name : names) {
            line.append(' ').append(user(name));
        }
        return expectOk(call(withProof(line.toString(), proof)));
    }

    /** REMOVE * (admin): everyone but the caller's own account; an owner: every account it owns. */
    public ObjectNode removeAll() throws IOException {
        return expectOk(call(Commands.REMOVE + " *"));
    }

    /** REMOVE * except=name: as {@link #removeAll()}, sparing that account too. */
    public ObjectNode removeAllExcept(String except) throws IOException {
        return expectOk(call(Commands.REMOVE + " * " + Commands.ARG_EXCEPT + user(except)));
    }

    /** USER name. */
    public UserInfo userInfo(String name) throws IOException {
        return UserInfo.from(expectOk(call(Commands.USER + " " + user(name))));
    }

    /** USERS (admin: every account; owner: its accounts and itself). */
    public List<UserInfo> users() throws IOException {
        return users(null);
    }

    /** USERS owner=name: the accounts that name owns; null for {@link #users()}. */
    public List<UserInfo> users(String owner) throws IOException {
        List<UserInfo> result = new ArrayList<>();
        String line = owner == null ? Commands.USERS : Commands.USERS + " " + Commands.ARG_OWNER + user(owner);
        for (JsonNode node : expectOk(call(line)).path(Keys.USERS)) {
            if (node instanceof ObjectNode object) {
                result.add(UserInfo.from(object));
            }
        }
        return result;
    }

    /** BACKUP user [code=]: ten new backup codes replace the old ones. */
    public List<String> backup(String name, String proof) throws IOException {
        return strings(expectOk(call(withProof(Commands.BACKUP + " " + user(name), proof))).path(Keys.BACKUP_CODES));
    }

    /** UNLOCK user (admin, or the account's owner). */
    public void unlock(String name) throws IOException {
        expectOk(call(Commands.UNLOCK + " " + user(name)));
    }

    /** REQUIRE user on|off (admin): whether the account must enrol before it may log in. */
    public UserInfo require(String name, boolean required) throws IOException {
        return UserInfo.from(expectOk(call(Commands.REQUIRE + " " + user(name) + " "
                + (required ? Commands.ON : Commands.OFF).toLowerCase(java.util.Locale.ROOT))));
    }

    private static String withProof(String line, String proof) {
        return proof == null ? line : line + " " + Commands.ARG_CODE + token(proof, "code");
    }

    private static List<String> strings(JsonNode array) {
        List<String> result = new ArrayList<>();
        for (JsonNode node : array) {
            result.add(node.asText());
        }
        return List.copyOf(result);
    }

    /** The reply to HELLO. */
    public record Hello(int protocol, String server) {
    }

    /** The policy: {@code disabled}, {@code optional} or {@code required}. */
    public record PolicyState(String mode, boolean enabled) {
        static PolicyState from(ObjectNode body) {
            return new PolicyState(body.path(Keys.MODE).asText(), body.path(Keys.ENABLED).asBoolean());
        }
    }

    /** The issuer shown in authenticator apps, and whether it is the default (the host name). */
    public record IssuerState(String issuer, boolean isDefault) {
        static IssuerState from(ObjectNode body) {
            return new IssuerState(body.path(Keys.ISSUER).asText(), body.path(Keys.DEFAULT).asBoolean());
        }
    }

    /** The answer to CHECK. */
    public record CheckResult(Outcome outcome, String reason) {
        /** Ask for a code, let the login go on without one, or deny it (enrolment required). */
        public enum Outcome { REQUIRED, NOT_REQUIRED, ENROLL_REQUIRED }

        public boolean codeRequired() {
            return outcome == Outcome.REQUIRED;
        }
    }

    /**
     * The answer to VERIFY. {@code accepted} is the whole yes/no; the rest says why.
     *
     * @param accepted      true only for an OK reply
     * @param method        {@code totp}, {@code backup} or {@code none} when accepted
     * @param reason        the NO reason, or the reason of method {@code none}
     * @param retryAfterS   seconds until a lockout ends, or -1
     * @param backupLeft    backup codes left after a backup code was used, or -1
     */
    public record VerifyResult(boolean accepted, String method, String reason, long retryAfterS, int backupLeft) {
        static VerifyResult from(Reply reply) {
            ObjectNode body = reply.body() == null ? Reply.object() : reply.body();
            if (reply.isOk()) {
                return new VerifyResult(true, body.path(Keys.METHOD).asText(""), body.path(Keys.REASON).asText(null),
                        -1, body.path(Keys.BACKUP_CODES_LEFT).asInt(-1));
            }
            return new VerifyResult(false, null, reply.word(), body.path(Keys.RETRY_AFTER).asLong(-1), -1);
        }
    }

    /** A pending enrolment, as ENROLL returns it. Holds the secret: never log it. */
    public record Enrollment(String user, String issuer, String account, String secret, String otpauthUrl,
                             int digits, int period, String algorithm, long expiresInS) {
        static Enrollment from(ObjectNode b) {
            return new Enrollment(b.path(Keys.USER).asText(), b.path(Keys.ISSUER).asText(), b.path(Keys.ACCOUNT).asText(),
                    b.path(Keys.SECRET).asText(), b.path(Keys.OTPAUTH_URL).asText(), b.path(Keys.DIGITS).asInt(),
                    b.path(Keys.PERIOD).asInt(), b.path(Keys.ALGORITHM).asText(), b.path(Keys.EXPIRES_IN).asLong());
        }

        @Override
        public String toString() {
            return "Enrollment[user=" + user + ", issuer=" + issuer + ", secret=***]";
        }
    }

    /** One user's state, as USER and USERS report it. Times are ISO-8601 strings or null. */
    public record UserInfo(String user, boolean enrolled, String enrolledAt, String lastUsedAt, int backupCodesLeft,
                           int failures, String lockedUntil, boolean pending, boolean required, String requiredBy,
                           String owner) {
        static UserInfo from(ObjectNode b) {
            return new UserInfo(b.path(Keys.USER).asText(), b.path(Keys.ENROLLED).asBoolean(),
                    text(b, Keys.ENROLLED_AT), text(b, Keys.LAST_USED_AT), b.path(Keys.BACKUP_CODES_LEFT).asInt(),
                    b.path(Keys.FAILURES).asInt(), text(b, Keys.LOCKED_UNTIL), b.path(Keys.PENDING).asBoolean(),
                    b.path(Keys.REQUIRED).asBoolean(), text(b, Keys.REQUIRED_BY), text(b, Keys.OWNER));
        }

        private static String text(ObjectNode b, String key) {
            JsonNode node = b.get(key);
            return node == null || node.isNull() ? null : node.asText();
        }
    }
}
