/*
 * pam_twofactord: the PAM side of twofactord.
 *
 * Asks the daemon over its Unix socket whether the user needs a second
 * factor (CHECK), prompts for the code and has the daemon verify it (VERIFY).
 * The daemon keeps every secret and every counter; this module only carries
 * one line each way. Every path that is not a clear yes is a no: a daemon
 * that cannot be reached, a timeout or a reply this module cannot read gives
 * PAM_AUTHINFO_UNAVAIL, which denies in a "required" line.
 *
 * The protocol is docs/protocol.md; the behaviour is docs/pam.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "twofactord_proto.h"

#define DEFAULT_PROMPT "Verification code: "
#define DEFAULT_SPLIT_PROMPT "Password+code: "
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS 600000
#define DEFAULT_DIGITS 6
#define PROMPT_MAX 256
/* A TOTP code is 6 or 8 digits, a backup code 10 digits with an optional dash. */
#define CODE_MAX 16
/* service= and rhost= values; with the user and the code the line stays far below TFD_MAX_LINE. */
#define FIELD_MAX 256
#define JSON_MAX_DEPTH 16
/* How much of an untrusted string goes into the log. */
#define LOG_EXCERPT 64

struct options {
    const char *socket_path;
    const char *prompt; /* NULL: the default of the mode */
    int timeout_ms;
    int digits;
    int debug;
    int split_code;
};

enum reply_kind { REPLY_OK, REPLY_NO, REPLY_ERR };

/* One parsed reply line; the pointers point into the line buffer. */
struct reply {
    enum reply_kind kind;
    const char *word; /* the reason of a NO, the code of an ERR */
    const char *rest; /* OK and NO: the JSON object or NULL; ERR: the message, maybe "" */
};

/* The members of a reply's JSON object that this module reads. */
struct reply_body {
    int required; /* -1 absent, 0 false, 1 true */
    long retry_after; /* -1 absent */
};

/* ---- small helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Copies at most LOG_EXCERPT bytes of an untrusted string, each unprintable byte as '?'. */
static const char *excerpt(const char *in, char out[LOG_EXCERPT + 4])
{
    size_t i;

    for (i = 0; in[i] != '\0' && i < LOG_EXCERPT; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (in[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* The protocol's user-name rule: 1-128 of A-Z a-z 0-9 . _ @ + -, not starting with . or - */
static int valid_user_name(const char *name)
{
    size_t len = strnlen(name, TFD_USER_MAX + 1);

    if (len == 0 || len > TFD_USER_MAX || name[0] == '.' || name[0] == '-') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '_'
              || c == '@' || c == '+' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* What may be sent as a code: 1-16 of digits and '-'. The daemon judges the rest. */
static int valid_code_shape(const char *code)
{
    size_t len = strnlen(code, CODE_MAX + 1);

    if (len == 0 || len > CODE_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(code[i]) && code[i] != '-') {
            return 0;
        }
    }
    return 1;
}

/* service= and rhost= go on the request line only as one token the daemon cannot misread. */
static int safe_field(const char *value)
{
    size_t len = strnlen(value, FIELD_MAX + 1);

    if (len == 0 || len > FIELD_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c <= 0x20 || c >= 0x7f || c == '=') {
            return 0;
        }
    }
    return 1;
}

/* A decimal in [min, max], digits only. */
static int parse_bounded(const char *text, long min, long max, long *out)
{
    long value = 0;
    size_t i;

    for (i = 0; text[i] != '\0'; i++) {
        if (!is_digit(text[i]) || i >= 9) {
            return 0;
        }
        value = value * 10 + (text[i] - '0');
    }
    if (i == 0 || value < min || value > max) {
        return 0;
    }
    *out = value;
    return 1;
}

static void tell_user(pam_handle_t *pamh, int flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A PAM_ERROR_MSG through the conversation, unless the application asked for silence. */
static void tell_user(pam_handle_t *pamh, int flags, const char *fmt, ...)
{
    va_list ap;

    if (flags & PAM_SILENT) {
        return;
    }
    va_start(ap, fmt);
    pam_verror(pamh, fmt, ap);
    va_end(ap);
}

/* ---- options ---- */

static int parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *opt)
{
    opt->socket_path = TFD_DEFAULT_SOCKET;
    opt->prompt = NULL;
    opt->timeout_ms = DEFAULT_TIMEOUT_MS;
    opt->digits = DEFAULT_DIGITS;
    opt->debug = 0;
    opt->split_code = 0;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        long value;

        if (strcmp(arg, "debug") == 0) {
            opt->debug = 1;
        } else if (strcmp(arg, "split_code") == 0) {
            opt->split_code = 1;
        } else if (strncmp(arg, "socket=", 7) == 0) {
            const char *path = arg + 7;
            if (path[0] != '/' || strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
                pam_syslog(pamh, LOG_ERR, "option socket= needs an absolute path shorter than %zu bytes",
                           sizeof(((struct sockaddr_un *)NULL)->sun_path));
                return 0;
            }
            opt->socket_path = path;
        } else if (strncmp(arg, "prompt=", 7) == 0) {
            const char *text = arg + 7;
            size_t len = strlen(text);
            if (len == 0 || len > PROMPT_MAX) {
                pam_syslog(pamh, LOG_ERR, "option prompt= needs 1-%d bytes of text", PROMPT_MAX);
                return 0;
            }
            for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)text[k];
                if (c < 0x20 || c == 0x7f) {
                    pam_syslog(pamh, LOG_ERR, "option prompt= contains a control character");
                    return 0;
                }
            }
            opt->prompt = text;
        } else if (strncmp(arg, "timeout=", 8) == 0) {
            if (!parse_bounded(arg + 8, 1, MAX_TIMEOUT_MS, &value)) {
                pam_syslog(pamh, LOG_ERR, "option timeout= needs milliseconds from 1 to %d", MAX_TIMEOUT_MS);
                return 0;
            }
            opt->timeout_ms = (int)value;
        } else if (strncmp(arg, "digits=", 7) == 0) {
            if (strcmp(arg + 7, "6") != 0 && strcmp(arg + 7, "8") != 0) {
                pam_syslog(pamh, LOG_ERR, "option digits= must be 6 or 8");
                return 0;
            }
            opt->digits = arg[7] - '0';
        } else {
            char shown[LOG_EXCERPT + 4];
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing every login until it is fixed",
                       excerpt(arg, shown));
            return 0;
        }
    }
    return 1;
}

/* ---- the socket ---- */

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error (errno set). */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = { .fd = fd, .events = events, .revents = 0 };
        int n;

        if (left <= 0) {
            return 0;
        }
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0) {
            return 1; /* POLLERR and POLLHUP too: the next call reports them */
        }
        if (n == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return -1;
        }
    }
}

/* A connected non-blocking socket, or -1 (logged). */
static int connect_daemon(pam_handle_t *pamh, const struct options *opt)
{
    struct sockaddr_un addr;
    long long deadline = now_ms() + opt->timeout_ms;
    int fd;

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, opt->socket_path, strlen(opt->socket_path) + 1); /* length checked with the options */

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pam_syslog(pamh, LOG_ERR, "cannot create a socket: %m");
        return -1;
    }
    while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (errno == EAGAIN) {
            /* The daemon's listen queue is full: try again until the deadline. */
            if (now_ms() >= deadline) {
                pam_syslog(pamh, LOG_ERR, "cannot connect to twofactord at %s: still busy after %d ms",
                           opt->socket_path, opt->timeout_ms);
                goto fail;
            }
            poll(NULL, 0, 10);
            continue;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            int err = 0;
            socklen_t len = sizeof err;
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 0) {
                pam_syslog(pamh, LOG_ERR, "cannot connect to twofactord at %s: timed out after %d ms",
                           opt->socket_path, opt->timeout_ms);
                goto fail;
            }
            if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                pam_syslog(pamh, LOG_ERR, "cannot connect to twofactord at %s: %m", opt->socket_path);
                goto fail;
            }
            if (err != 0) {
                errno = err;
                pam_syslog(pamh, LOG_ERR, "cannot connect to twofactord at %s: %m", opt->socket_path);
                goto fail;
            }
            break;
        }
        pam_syslog(pamh, LOG_ERR, "cannot connect to twofactord at %s: %m", opt->socket_path);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* 1 when all of buf went out before the deadline; 0 (logged) otherwise. */
static int send_all(pam_handle_t *pamh, int fd, const char *buf, size_t len, long long deadline, int timeout_ms)
{
    while (len > 0) {
        /* MSG_NOSIGNAL: a daemon that went away must not kill sshd with SIGPIPE. */
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w > 0) {
                continue;
            }
            if (w == 0) {
                pam_syslog(pamh, LOG_ERR, "sending to twofactord timed out after %d ms", timeout_ms);
                return 0;
            }
        }
        pam_syslog(pamh, LOG_ERR, "sending to twofactord failed: %m");
        return 0;
    }
    return 1;
}

/*
 * Reads one reply line into line (TFD_MAX_LINE bytes) and replaces its LF with
 * a NUL. A reply may use TFD_MAX_LINE bytes, LF included, as a request may.
 * *trailing is set when bytes came after the LF (they are dropped, and the
 * connection must not carry another request).
 * 1 on a line; 0 (logged) on a timeout, an early close, an over-long line or a NUL.
 */
static int read_line(pam_handle_t *pamh, int fd, char *line, long long deadline, int timeout_ms, int *trailing)
{
    size_t have = 0;

    for (;;) {
        ssize_t n;
        char *lf;

        if (have == TFD_MAX_LINE) {
            pam_syslog(pamh, LOG_ERR, "twofactord's reply is longer than %d bytes", TFD_MAX_LINE);
            return 0;
        }
        n = recv(fd, line + have, TFD_MAX_LINE - have, 0);
        if (n == 0) {
            pam_syslog(pamh, LOG_ERR, "twofactord closed the connection before a complete reply");
            return 0;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int w = wait_fd(fd, POLLIN, deadline);
                if (w > 0) {
                    continue;
                }
                if (w == 0) {
                    pam_syslog(pamh, LOG_ERR, "no reply from twofactord within %d ms", timeout_ms);
                    return 0;
                }
            }
            pam_syslog(pamh, LOG_ERR, "reading from twofactord failed: %m");
            return 0;
        }
        lf = memchr(line + have, '\n', (size_t)n);
        have += (size_t)n;
        if (lf != NULL) {
            size_t len = (size_t)(lf - line);
            /* Bytes after the LF are ignored, and the connection is not used again. */
            *trailing = have > len + 1;
            if (memchr(line, '\0', len) != NULL) {
                pam_syslog(pamh, LOG_ERR, "twofactord's reply contains a NUL byte");
                return 0;
            }
            if (len > 0 && line[len - 1] == '\r') {
                len--;
            }
            line[len] = '\0';
            return 1;
        }
    }
}

/* ---- replies ---- */

static int is_word(const char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '-' || s[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

/*
 * Splits "OK [json]", "NO reason [json]" or "ERR code [message]" in place.
 * 1 when the line is one of those; 0 otherwise.
 */
static int parse_reply(char *line, struct reply *reply)
{
    char *space = strchr(line, ' ');
    size_t head = space != NULL ? (size_t)(space - line) : strlen(line);
    char *rest = space != NULL ? space + 1 : NULL;

    reply->word = NULL;
    reply->rest = NULL;
    if (head == strlen(TFD_REPLY_OK) && memcmp(line, TFD_REPLY_OK, head) == 0) {
        reply->kind = REPLY_OK;
        if (rest != NULL && *rest == '\0') {
            return 0;
        }
        reply->rest = rest;
        return 1;
    }
    if (head == strlen(TFD_REPLY_NO) && memcmp(line, TFD_REPLY_NO, head) == 0) {
        reply->kind = REPLY_NO;
    } else if (head == strlen(TFD_REPLY_ERR) && memcmp(line, TFD_REPLY_ERR, head) == 0) {
        reply->kind = REPLY_ERR;
    } else {
        return 0;
    }
    if (rest == NULL) {
        return 0;
    }
    space = strchr(rest, ' ');
    if (!is_word(rest, space != NULL ? (size_t)(space - rest) : strlen(rest))) {
        return 0;
    }
    reply->word = rest;
    if (space != NULL) {
        *space = '\0';
        reply->rest = space + 1;
        if (reply->kind == REPLY_NO && *reply->rest == '\0') {
            return 0;
        }
    } else if (reply->kind == REPLY_ERR) {
        reply->rest = "";
    }
    return 1;
}

/*
 * A strict JSON reader, just enough to validate a reply body and pick the two
 * members this module reads. It never allocates.
 */
struct json {
    const char *p;
};

static void json_ws(struct json *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') {
        j->p++;
    }
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string; *start and *len give its raw text, *escaped whether it holds an escape. */
static int json_string(struct json *j, const char **start, size_t *len, int *escaped)
{
    if (*j->p != '"') {
        return 0;
    }
    j->p++;
    *start = j->p;
    *escaped = 0;
    for (;;) {
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            *len = (size_t)(j->p - *start);
            j->p++;
            return 1;
        }
        if (c < 0x20) {
            return 0; /* a control character, or the end of the line */
        }
        if (c == '\\') {
            *escaped = 1;
            j->p++;
            if (*j->p == 'u') {
                for (int k = 1; k <= 4; k++) {
                    if (!is_hex(j->p[k])) {
                        return 0;
                    }
                }
                j->p += 5;
            } else if (*j->p != '\0' && strchr("\"\\/bfnrt", *j->p) != NULL) {
                j->p++;
            } else {
                return 0;
            }
            continue;
        }
        j->p++;
    }
}

/* A number; *whole is its value when it is a plain non-negative integer below 10^9, else -1. */
static int json_number(struct json *j, long *whole)
{
    const char *start = j->p;
    int plain = 1;

    if (*j->p == '-') {
        plain = 0;
        j->p++;
    }
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (is_digit(*j->p)) {
            j->p++;
        }
    } else {
        return 0;
    }
    if (*j->p == '.') {
        plain = 0;
        j->p++;
        if (!is_digit(*j->p)) {
            return 0;
        }
        while (is_digit(*j->p)) {
            j->p++;
        }
    }
    if (*j->p == 'e' || *j->p == 'E') {
        plain = 0;
        j->p++;
        if (*j->p == '+' || *j->p == '-') {
            j->p++;
        }
        if (!is_digit(*j->p)) {
            return 0;
        }
        while (is_digit(*j->p)) {
            j->p++;
        }
    }
    *whole = -1;
    if (plain && j->p - start <= 9) {
        long value = 0;
        for (const char *q = start; q < j->p; q++) {
            value = value * 10 + (*q - '0');
        }
        *whole = value;
    }
    return 1;
}

static int json_literal(struct json *j, const char *word)
{
    size_t len = strlen(word);

    if (strncmp(j->p, word, len) != 0) {
        return 0;
    }
    j->p += len;
    return 1;
}

static int json_value(struct json *j, int depth)
{
    const char *start;
    size_t len;
    int escaped;
    long whole;

    if (depth > JSON_MAX_DEPTH) {
        return 0;
    }
    switch (*j->p) {
    case '"':
        return json_string(j, &start, &len, &escaped);
    case '{':
    case '[': {
        char close = *j->p == '{' ? '}' : ']';
        int object = close == '}';
        j->p++;
        json_ws(j);
        if (*j->p == close) {
            j->p++;
            return 1;
        }
        for (;;) {
            if (object) {
                if (!json_string(j, &start, &len, &escaped)) {
                    return 0;
                }
                json_ws(j);
                if (*j->p != ':') {
                    return 0;
                }
                j->p++;
                json_ws(j);
            }
            if (!json_value(j, depth + 1)) {
                return 0;
            }
            json_ws(j);
            if (*j->p == ',') {
                j->p++;
                json_ws(j);
                continue;
            }
            if (*j->p == close) {
                j->p++;
                return 1;
            }
            return 0;
        }
    }
    case 't':
        return json_literal(j, "true");
    case 'f':
        return json_literal(j, "false");
    case 'n':
        return json_literal(j, "null");
    default:
        return json_number(j, &whole);
    }
}

static int key_is(const char *key, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(key, name, len) == 0;
}

/*
 * Reads a reply's JSON object: it must be one well-formed object and nothing
 * after it. "required" must be true or false and "retry_after" a whole number
 * of seconds; a member given twice, or a key written with escapes, is
 * ambiguous and makes the whole reply unreadable.
 */
static int parse_body(const char *text, struct reply_body *body)
{
    struct json j = { text };
    int seen_required = 0;
    int seen_retry = 0;

    body->required = -1;
    body->retry_after = -1;
    if (*j.p != '{') {
        return 0;
    }
    j.p++;
    json_ws(&j);
    if (*j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            const char *key;
            size_t len;
            int escaped;

            if (!json_string(&j, &key, &len, &escaped) || escaped) {
                return 0;
            }
            json_ws(&j);
            if (*j.p != ':') {
                return 0;
            }
            j.p++;
            json_ws(&j);
            if (key_is(key, len, TFD_KEY_REQUIRED)) {
                if (seen_required++) {
                    return 0;
                }
                if (json_literal(&j, "true")) {
                    body->required = 1;
                } else if (json_literal(&j, "false")) {
                    body->required = 0;
                } else {
                    return 0;
                }
            } else if (key_is(key, len, TFD_KEY_RETRY_AFTER)) {
                if (seen_retry++ || !json_number(&j, &body->retry_after) || body->retry_after < 0) {
                    return 0;
                }
            } else if (!json_value(&j, 1)) {
                return 0;
            }
            json_ws(&j);
            if (*j.p == ',') {
                j.p++;
                json_ws(&j);
                continue;
            }
            if (*j.p == '}') {
                j.p++;
                break;
            }
            return 0;
        }
    }
    json_ws(&j);
    return *j.p == '\0';
}

/*
 * Sends one request on *fd (connecting first if *fd is -1) and reads its reply
 * into line. The connection stays open for one more request when the reply
 * was read cleanly; otherwise it is closed and *fd is -1.
 * 1 on a parsed reply; 0 (logged) otherwise.
 */
static int ask_daemon(pam_handle_t *pamh, const struct options *opt, int *fd, const char *command,
                      const char *request, char *line, struct reply *reply)
{
    int ok = 0;
    int trailing = 0;

    if (*fd < 0) {
        *fd = connect_daemon(pamh, opt);
    }
    if (*fd < 0) {
        goto out;
    }
    if (!send_all(pamh, *fd, request, strlen(request), now_ms() + opt->timeout_ms, opt->timeout_ms)) {
        goto out;
    }
    if (!read_line(pamh, *fd, line, now_ms() + opt->timeout_ms, opt->timeout_ms, &trailing)) {
        goto out;
    }
    {
        char shown[LOG_EXCERPT + 4];
        excerpt(line, shown);
        if (!parse_reply(line, reply)) {
            pam_syslog(pamh, LOG_ERR, "cannot parse twofactord's reply to %s: \"%s\"", command, shown);
            goto out;
        }
        if (reply->kind == REPLY_ERR) {
            pam_syslog(pamh, LOG_ERR, "twofactord refused to answer %s: \"%s\"", command, shown);
            goto out;
        }
    }
    ok = 1;
out:
    if ((!ok || trailing) && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return ok;
}

/* Closes the connection to the daemon, if open. */
static void hang_up(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/*
 * Whether split_code finds its code without asking anyone: a module before
 * this one set PAM_AUTHTOK. Then VERIFY follows CHECK at once, on the same
 * connection; otherwise the connection is closed before the prompt, so that no
 * daemon thread waits while a person types.
 */
static int code_known_without_prompt(pam_handle_t *pamh, const struct options *opt)
{
    const void *item = NULL;

    return opt->split_code && pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS && item != NULL;
}

/* What a NO means for the login: PAM_MAXTRIES when locked, PAM_AUTH_ERR otherwise. */
static int refusal(pam_handle_t *pamh, int flags, const char *command, const char *user, const struct reply *reply)
{
    struct reply_body body = { -1, -1 };

    if (reply->rest != NULL && !parse_body(reply->rest, &body)) {
        pam_syslog(pamh, LOG_ERR, "cannot parse the JSON of twofactord's reply to %s", command);
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (strcmp(reply->word, TFD_REASON_LOCKED) == 0) {
        long wait_s = body.retry_after;
        if (wait_s < 0) {
            pam_syslog(pamh, LOG_NOTICE, "%s for %s: locked after too many failures", command, user);
            tell_user(pamh, flags, "Too many failed attempts. Try again later.");
            return PAM_MAXTRIES;
        }
        pam_syslog(pamh, LOG_NOTICE, "%s for %s: locked after too many failures (retry after %ld s)", command,
                   user, wait_s);
        if (wait_s < 120) {
            tell_user(pamh, flags, "Too many failed attempts. Try again in %ld second%s.", wait_s,
                      wait_s == 1 ? "" : "s");
        } else {
            tell_user(pamh, flags, "Too many failed attempts. Try again in %ld minutes.", (wait_s + 59) / 60);
        }
        return PAM_MAXTRIES;
    }
    if (strcmp(reply->word, TFD_REASON_ENROLL_REQUIRED) == 0) {
        pam_syslog(pamh, LOG_NOTICE, "%s for %s: two-factor authentication is required but not set up", command,
                   user);
        tell_user(pamh, flags,
                  "Two-factor authentication is required for this account, but it is not set up. "
                  "Ask your administrator.");
        return PAM_AUTH_ERR;
    }
    {
        /* The reason is untrusted text of up to 1020 bytes: like the rest, at most LOG_EXCERPT of it. */
        char shown[LOG_EXCERPT + 4];
        pam_syslog(pamh, LOG_NOTICE, "%s for %s: refused (%s)", command, user, excerpt(reply->word, shown));
    }
    return PAM_AUTH_ERR;
}

/* ---- getting the code ---- */

static int conversation_failed(pam_handle_t *pamh, int rc)
{
    pam_syslog(pamh, LOG_ERR, "conversation failed: %s", pam_strerror(pamh, rc));
    /* PAM_CONV_AGAIN would need PAM_INCOMPLETE support; this module does not resume. */
    return rc == PAM_BUF_ERR ? PAM_BUF_ERR : PAM_CONV_ERR;
}

/* Prompts for the code. PAM_SUCCESS with code filled, or why not. */
static int code_from_prompt(pam_handle_t *pamh, const struct options *opt, const char *user, char *code)
{
    char *typed = NULL;
    int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &typed, "%s", opt->prompt != NULL ? opt->prompt : DEFAULT_PROMPT);

    if (rc != PAM_SUCCESS) {
        rc = conversation_failed(pamh, rc);
        goto out;
    }
    if (typed == NULL || !valid_code_shape(typed)) {
        pam_syslog(pamh, LOG_NOTICE, "code for %s refused without asking twofactord: not 1-%d digits or dashes",
                   user, CODE_MAX);
        rc = PAM_AUTH_ERR;
        goto out;
    }
    memcpy(code, typed, strlen(typed) + 1);
    rc = PAM_SUCCESS;
out:
    if (typed != NULL) {
        explicit_bzero(typed, strlen(typed));
        free(typed);
    }
    return rc;
}

/*
 * split_code: the last opt->digits characters of the password are the code;
 * what comes before them becomes PAM_AUTHTOK for the modules after this one.
 * Prompts for password and code together if no module has asked yet.
 */
static int code_from_authtok(pam_handle_t *pamh, const struct options *opt, const char *user, char *code)
{
    const void *item = NULL;
    char *typed = NULL;
    char *password = NULL;
    const char *whole;
    size_t len;
    size_t digits = (size_t)opt->digits;
    int rc = pam_get_item(pamh, PAM_AUTHTOK, &item);

    if (rc != PAM_SUCCESS) {
        pam_syslog(pamh, LOG_ERR, "cannot read PAM_AUTHTOK: %s", pam_strerror(pamh, rc));
        rc = PAM_AUTH_ERR;
        goto out;
    }
    if (item != NULL) {
        whole = item;
    } else {
        rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &typed, "%s",
                        opt->prompt != NULL ? opt->prompt : DEFAULT_SPLIT_PROMPT);
        if (rc != PAM_SUCCESS) {
            rc = conversation_failed(pamh, rc);
            goto out;
        }
        whole = typed != NULL ? typed : "";
    }
    len = strlen(whole);
    rc = PAM_AUTH_ERR;
    if (len < digits) {
        pam_syslog(pamh, LOG_NOTICE, "split_code for %s: the password is shorter than a code; not asking twofactord",
                   user);
        goto out;
    }
    for (size_t i = len - digits; i < len; i++) {
        if (!is_digit(whole[i])) {
            pam_syslog(pamh, LOG_NOTICE,
                       "split_code for %s: the password does not end in a %zu-digit code; not asking twofactord", user,
                       digits);
            goto out;
        }
    }
    password = malloc(len - digits + 1);
    if (password == NULL) {
        rc = PAM_BUF_ERR;
        goto out;
    }
    memcpy(password, whole, len - digits);
    password[len - digits] = '\0';
    memcpy(code, whole + len - digits, digits);
    code[digits] = '\0';
    /* pam_set_item copies the password and wipes the old item (which may be whole). */
    rc = pam_set_item(pamh, PAM_AUTHTOK, password);
    if (rc != PAM_SUCCESS) {
        pam_syslog(pamh, LOG_ERR, "cannot set PAM_AUTHTOK: %s", pam_strerror(pamh, rc));
        rc = PAM_AUTH_ERR;
        explicit_bzero(code, CODE_MAX + 1);
    }
out:
    if (password != NULL) {
        explicit_bzero(password, len - digits);
        free(password);
    }
    if (typed != NULL) {
        explicit_bzero(typed, strlen(typed));
        free(typed);
    }
    return rc;
}

/* Appends " name=value" if the item is set and safe to send. */
static int append_field(pam_handle_t *pamh, const struct options *opt, int item_type, const char *name,
                        char *request, size_t size, size_t *used)
{
    const void *item = NULL;
    int n;

    if (pam_get_item(pamh, item_type, &item) != PAM_SUCCESS || item == NULL) {
        return 1;
    }
    if (!safe_field(item)) {
        if (opt->debug) {
            pam_syslog(pamh, LOG_DEBUG, "not sending %s: not one printable token without '='", name);
        }
        return 1;
    }
    n = snprintf(request + *used, size - *used, " %s%s", name, (const char *)item);
    if (n < 0 || (size_t)n >= size - *used) {
        return 0;
    }
    *used += (size_t)n;
    return 1;
}

/* ---- the entry points ---- */

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    int rc = PAM_AUTH_ERR;
    struct options opt;
    struct reply reply;
    struct reply_body body;
    const char *user = NULL;
    int fd = -1;
    char code[CODE_MAX + 1];
    char request[TFD_MAX_LINE];
    char line[TFD_MAX_LINE];
    size_t used;
    int n;

    memset(code, 0, sizeof code);
    memset(request, 0, sizeof request);
    memset(line, 0, sizeof line);

    if (!parse_options(pamh, argc, argv, &opt)) {
        rc = PAM_SERVICE_ERR;
        goto out;
    }
    n = pam_get_user(pamh, &user, NULL);
    if (n != PAM_SUCCESS || user == NULL) {
        pam_syslog(pamh, LOG_ERR, "cannot get the user name: %s", pam_strerror(pamh, n));
        goto out;
    }
    if (!valid_user_name(user)) {
        /* Checked before anything is sent, so no name can smuggle a second request line in. */
        char shown[LOG_EXCERPT + 4];
        pam_syslog(pamh, LOG_NOTICE, "refusing user \"%s\": not a valid twofactord user name",
                   excerpt(user, shown));
        goto out;
    }

    n = snprintf(request, sizeof request, "%s %s\n", TFD_CMD_CHECK, user);
    if (n < 0 || (size_t)n >= sizeof request) {
        goto out;
    }
    if (!ask_daemon(pamh, &opt, &fd, TFD_CMD_CHECK, request, line, &reply)) {
        rc = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (reply.kind == REPLY_NO) {
        rc = refusal(pamh, flags, TFD_CMD_CHECK, user, &reply);
        goto out;
    }
    if (reply.rest == NULL || !parse_body(reply.rest, &body) || body.required < 0) {
        pam_syslog(pamh, LOG_ERR, "twofactord's reply to CHECK does not say whether a code is required");
        rc = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (!body.required) {
        if (opt.debug) {
            pam_syslog(pamh, LOG_DEBUG, "CHECK %s: no second factor required", user);
        }
        rc = PAM_IGNORE;
        goto out;
    }
    if (opt.debug) {
        pam_syslog(pamh, LOG_DEBUG, "CHECK %s: a code is required", user);
    }
    if (!code_known_without_prompt(pamh, &opt)) {
        hang_up(&fd); /* VERIFY comes on a new connection, after the prompt */
    }

    n = opt.split_code ? code_from_authtok(pamh, &opt, user, code) : code_from_prompt(pamh, &opt, user, code);
    if (n != PAM_SUCCESS) {
        rc = n;
        goto out;
    }

    n = snprintf(request, sizeof request, "%s %s %s", TFD_CMD_VERIFY, user, code);
    if (n < 0 || (size_t)n >= sizeof request) {
        goto out;
    }
    used = (size_t)n;
    if (!append_field(pamh, &opt, PAM_SERVICE, TFD_ARG_SERVICE, request, sizeof request - 1, &used)
        || !append_field(pamh, &opt, PAM_RHOST, TFD_ARG_RHOST, request, sizeof request - 1, &used)) {
        goto out;
    }
    request[used++] = '\n';
    request[used] = '\0';

    if (!ask_daemon(pamh, &opt, &fd, TFD_CMD_VERIFY, request, line, &reply)) {
        rc = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (reply.kind == REPLY_NO) {
        rc = refusal(pamh, flags, TFD_CMD_VERIFY, user, &reply);
        goto out;
    }
    if (reply.rest != NULL && !parse_body(reply.rest, &body)) {
        pam_syslog(pamh, LOG_ERR, "cannot parse the JSON of twofactord's reply to VERIFY");
        rc = PAM_AUTHINFO_UNAVAIL;
        goto out;
    }
    if (opt.debug) {
        pam_syslog(pamh, LOG_DEBUG, "VERIFY %s: accepted", user);
    }
    rc = PAM_SUCCESS;
out:
    hang_up(&fd);
    explicit_bzero(code, sizeof code);
    explicit_bzero(request, sizeof request);
    explicit_bzero(line, sizeof line);
    return rc;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
