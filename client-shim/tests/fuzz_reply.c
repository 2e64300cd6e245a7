/*
 * libFuzzer harness for the reply side of pam_twofactord.so: read_line (the
 * socket reader), parse_reply (the reply line) and parse_body (the small JSON
 * reader), and what pam_sm_authenticate makes of them.
 *
 * Built only by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); the
 * module itself is not changed for it. This file #includes pam_twofactord.c
 * after replacing, by function-like macros, the socket calls and the libpam
 * calls the module makes: the module's static functions become reachable here,
 * and pam_sm_authenticate runs unchanged against a fake daemon that answers
 * with the fuzzer's bytes. The production .so exports only pam_sm_* as before.
 *
 * Each input is used three ways:
 *
 *  1. As a byte stream from the daemon, under three ways of cutting it into
 *     recv() results (all at once; one byte at a time with EINTR and EAGAIN in
 *     between; pseudo-random sizes, with now and then a reset connection or a
 *     timeout before the line is complete): once as the reply to CHECK, once as the
 *     reply to VERIFY (after a CHECK that says a code is required). The PAM
 *     return code, the connections, the prompts and the messages to the user
 *     must be exactly what a reference model of docs/pam.md ("What each
 *     outcome returns") predicts. In particular nothing but
 *     PAM_AUTHINFO_UNAVAIL comes back unless the line, LF included, fits in
 *     1024 bytes and has no NUL before its LF (bytes after the LF are
 *     ignored: the connection carries one request). Every log line is
 *     printable ASCII, short (at most 64 bytes of untrusted text) and never
 *     holds the code.
 *  2. As one reply line (up to the first NUL), copied to a heap block of
 *     exactly its size, so that ASan catches a read past the terminating NUL:
 *     parse_reply and parse_body must agree with the reference.
 *  3. As a JSON text for parse_body alone, of any length and depth.
 *
 * A disagreement, a crash, a sanitizer report or a hang is a finding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* A broken invariant aborts, so libFuzzer saves the input; on whatever the build flags say (unlike assert). */
#define CHECK_THAT(cond)                                                                                       \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "fuzz_reply.c:%d: invariant broken: %s\n", __LINE__, #cond);                      \
            abort();                                                                                           \
        }                                                                                                      \
    } while (0)

/* ---- the fake world the module runs in ---- */

static int fuzz_socket(int domain, int type, int protocol);
static int fuzz_connect(int fd, const struct sockaddr *addr, socklen_t len);
static ssize_t fuzz_send(int fd, const void *buf, size_t len, int flags);
static ssize_t fuzz_recv(int fd, void *buf, size_t len, int flags);
static int fuzz_poll(struct pollfd *fds, nfds_t n, int timeout);
static int fuzz_close(int fd);
static int fuzz_pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt);
static int fuzz_pam_get_item(const pam_handle_t *pamh, int type, const void **item);
static int fuzz_pam_set_item(pam_handle_t *pamh, int type, const void *item);
static int fuzz_pam_prompt(pam_handle_t *pamh, int style, char **response, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fuzz_pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fuzz_pam_vprompt(pam_handle_t *pamh, int style, char **response, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static const char *fuzz_pam_strerror(pam_handle_t *pamh, int rc);

#define socket(d, t, p) fuzz_socket(d, t, p)
#define connect(f, a, l) fuzz_connect(f, a, l)
#define send(f, b, l, x) fuzz_send(f, b, l, x)
#define recv(f, b, l, x) fuzz_recv(f, b, l, x)
#define poll(f, n, t) fuzz_poll(f, n, t)
#define close(f) fuzz_close(f)
#define pam_get_user(h, u, p) fuzz_pam_get_user(h, u, p)
#define pam_get_item(h, t, i) fuzz_pam_get_item(h, t, i)
#define pam_set_item(h, t, i) fuzz_pam_set_item(h, t, i)
#define pam_prompt(...) fuzz_pam_prompt(__VA_ARGS__)
#define pam_syslog(...) fuzz_pam_syslog(__VA_ARGS__)
/* pam_verror is a macro of pam_ext.h: pam_vprompt(pamh, PAM_ERROR_MSG, NULL, fmt, args) */
#define pam_vprompt(h, s, r, f, a) fuzz_pam_vprompt(h, s, r, f, a)
#define pam_strerror(h, r) fuzz_pam_strerror(h, r)

#include "../pam_twofactord.c"

#undef socket
#undef connect
#undef send
#undef recv
#undef poll
#undef close

#define FAKE_FD_BASE 1000
#define USER "alice"
#define CODE "123456"
#define SERVICE "sshd"
#define RHOST "203.0.113.7"
#define CHECK_REQUEST TFD_CMD_CHECK " " USER "\n"
#define VERIFY_REQUEST TFD_CMD_VERIFY " " USER " " CODE " " TFD_ARG_SERVICE SERVICE " " TFD_ARG_RHOST RHOST "\n"
#define REQUIRED_REPLY "OK {\"required\":true}\n"
#define ACCEPTED_REPLY "OK {\"method\":\"totp\"}\n"
/* The longest fixed text of a log line, plus the 64 bytes (and "...") of untrusted text it may quote. */
#define LOG_LINE_MAX (100 + LOG_EXCERPT + 3)

enum plan { PLAN_WHOLE, PLAN_BYTES, PLAN_RANDOM, PLAN_COUNT };

static struct {
    /* what the daemon answers on the first and the second connection */
    const uint8_t *stream[2];
    const uint8_t *data; /* the fuzzer's bytes */
    size_t data_len;
    size_t stream_len[2];
    size_t served;
    enum plan plan;
    int fuzzed; /* which connection answers with the fuzzer's bytes */
    uint64_t rng;
    int failed; /* the random plan broke the fuzzed connection: a reset, or a timeout */
    int timeout; /* the next poll times out */
    unsigned calls;
    /* what happened */
    int connections;
    int open_fd; /* -1: none */
    char sent[2][TFD_MAX_LINE + 1];
    size_t sent_len[2];
    int prompts;
    int messages;
    char message[512];
} w;

static uint64_t next_random(void)
{
    /* xorshift64 */
    w.rng ^= w.rng << 13;
    w.rng ^= w.rng >> 7;
    w.rng ^= w.rng << 17;
    return w.rng;
}

static int current(int fd)
{
    CHECK_THAT(w.open_fd >= 0 && fd == w.open_fd);
    return fd - FAKE_FD_BASE;
}

static int fuzz_socket(int domain, int type, int protocol)
{
    CHECK_THAT(domain == AF_UNIX && (type & SOCK_STREAM) && protocol == 0);
    CHECK_THAT(w.open_fd < 0); /* one connection at a time */
    CHECK_THAT(w.connections < 2); /* CHECK, then VERIFY: never a third */
    w.open_fd = FAKE_FD_BASE + w.connections;
    w.connections++;
    w.served = 0;
    w.calls = 0;
    return w.open_fd;
}

static int fuzz_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;

    current(fd);
    CHECK_THAT(len == sizeof(struct sockaddr_un) && un->sun_family == AF_UNIX);
    CHECK_THAT(strcmp(un->sun_path, TFD_DEFAULT_SOCKET) == 0);
    return 0;
}

static ssize_t fuzz_send(int fd, const void *buf, size_t len, int flags)
{
    int c = current(fd);

    CHECK_THAT(flags == MSG_NOSIGNAL && len > 0);
    if (w.plan == PLAN_BYTES) {
        len = 1;
    }
    CHECK_THAT(w.sent_len[c] + len <= TFD_MAX_LINE);
    memcpy(w.sent[c] + w.sent_len[c], buf, len);
    w.sent_len[c] += len;
    return (ssize_t)len;
}

static ssize_t fuzz_recv(int fd, void *buf, size_t len, int flags)
{
    int c = current(fd);
    size_t left = w.stream_len[c] - w.served;
    size_t n = 0;

    CHECK_THAT(flags == 0 && len > 0 && len <= TFD_MAX_LINE);
    CHECK_THAT(w.sent_len[c] > 0); /* the request went out first */
    w.calls++;
    switch (w.plan) {
    case PLAN_WHOLE:
        n = left;
        break;
    case PLAN_BYTES:
        /* Interrupted first, then nothing there yet, then one byte a read, with a pause now and then. */
        if (w.calls == 1) {
            errno = EINTR;
            return -1;
        }
        if (w.calls % 64 == 2) {
            errno = EAGAIN;
            return -1;
        }
        n = 1;
        break;
    case PLAN_RANDOM: {
        uint64_t r = next_random();
        if (c == w.fuzzed && r % 128 == 1) {
            w.failed = 1;
            errno = ECONNRESET;
            return -1;
        }
        if (c == w.fuzzed && r % 128 == 2) {
            w.failed = 1;
            w.timeout = 1;
            errno = EAGAIN;
            return -1;
        }
        if (r % 8 == 0) {
            errno = EAGAIN;
            return -1;
        }
        n = 1 + (size_t)(r >> 8) % (r % 3 == 0 ? 8 : 400);
        break;
    }
    default:
        abort();
    }
    if (n > left) {
        n = left;
    }
    if (n > len) {
        n = len;
    }
    memcpy(buf, w.stream[c] + w.served, n); /* ASan checks that buf holds len bytes */
    w.served += n;
    return (ssize_t)n; /* 0 at the end: the daemon closed the connection */
}

static int fuzz_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (n == 0) {
        return 0; /* connect_daemon's pause while the listen queue is full */
    }
    CHECK_THAT(n == 1 && timeout > 0);
    current(fds[0].fd);
    CHECK_THAT(fds[0].events == POLLIN || fds[0].events == POLLOUT);
    if (w.timeout) {
        return 0;
    }
    fds[0].revents = fds[0].events;
    return 1;
}

static int fuzz_close(int fd)
{
    current(fd);
    w.open_fd = -1;
    return 0;
}

static int fuzz_pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt)
{
    (void)pamh;
    (void)prompt;
    *user = USER;
    return PAM_SUCCESS;
}

static int fuzz_pam_get_item(const pam_handle_t *pamh, int type, const void **item)
{
    (void)pamh;
    *item = type == PAM_SERVICE ? SERVICE : type == PAM_RHOST ? RHOST : NULL;
    return PAM_SUCCESS;
}

static int fuzz_pam_set_item(pam_handle_t *pamh, int type, const void *item)
{
    (void)pamh;
    (void)type;
    (void)item;
    abort(); /* only split_code sets an item, and the harness does not use it */
}

static int fuzz_pam_prompt(pam_handle_t *pamh, int style, char **response, const char *fmt, ...)
{
    (void)pamh;
    (void)fmt;
    CHECK_THAT(style == PAM_PROMPT_ECHO_OFF);
    CHECK_THAT(w.connections == 1 && w.open_fd < 0); /* after CHECK, before VERIFY */
    w.prompts++;
    *response = strdup(CODE);
    return *response != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
}

static void fuzz_pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    int n;

    (void)pamh;
    (void)priority;
    va_start(ap, fmt);
    n = vsnprintf(text, sizeof text, fmt, ap); /* ASan: every %s must be a terminated string */
    va_end(ap);
    CHECK_THAT(n >= 0 && n <= LOG_LINE_MAX);
    for (int i = 0; i < n; i++) {
        CHECK_THAT(text[i] >= 0x20 && text[i] < 0x7f);
    }
    /* The module never logs the code (it may quote a reply that happens to hold those digits). */
    CHECK_THAT(strstr(text, CODE) == NULL || memmem(w.data, w.data_len, CODE, strlen(CODE)) != NULL);
}

/* A message to the user (tell_user): at most one per login. */
static int fuzz_pam_vprompt(pam_handle_t *pamh, int style, char **response, const char *fmt, va_list ap)
{
    (void)pamh;
    CHECK_THAT(style == PAM_ERROR_MSG && response == NULL);
    CHECK_THAT(w.messages == 0);
    w.messages++;
    CHECK_THAT(vsnprintf(w.message, sizeof w.message, fmt, ap) < (int)sizeof w.message);
    return PAM_SUCCESS;
}

static const char *fuzz_pam_strerror(pam_handle_t *pamh, int rc)
{
    (void)pamh;
    (void)rc;
    return "fake error";
}

/* ---- the reference: docs/pam.md and docs/protocol.md, written with explicit bounds ---- */

struct ref {
    const char *s;
    size_t n;
    size_t i;
};

static int ref_at(const struct ref *r, size_t k)
{
    return r->i + k < r->n ? (unsigned char)r->s[r->i + k] : -1;
}

static void ref_ws(struct ref *r)
{
    while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r')) {
        r->i++;
    }
}

static int ref_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int ref_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int ref_string(struct ref *r, int *escaped, size_t *start, size_t *len)
{
    if (ref_at(r, 0) != '"') {
        return 0;
    }
    r->i++;
    *start = r->i;
    *escaped = 0;
    while (r->i < r->n) {
        int c = ref_at(r, 0);
        if (c == '"') {
            *len = r->i - *start;
            r->i++;
            return 1;
        }
        if (c < 0x20) {
            return 0;
        }
        if (c == '\\') {
            int e = ref_at(r, 1);
            *escaped = 1;
            if (e == 'u') {
                for (size_t k = 2; k < 6; k++) {
                    if (!ref_hex(ref_at(r, k))) {
                        return 0;
                    }
                }
                r->i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                r->i += 2;
            } else {
                return 0;
            }
            continue;
        }
        r->i++;
    }
    return 0;
}

/* *whole: the value of a plain non-negative integer of at most 9 digits, else -1. */
static int ref_number(struct ref *r, long *whole)
{
    size_t start = r->i;
    int plain = 1;

    if (ref_at(r, 0) == '-') {
        plain = 0;
        r->i++;
    }
    if (ref_at(r, 0) == '0') {
        r->i++;
    } else if (ref_at(r, 0) >= '1' && ref_at(r, 0) <= '9') {
        while (ref_digit(ref_at(r, 0))) {
            r->i++;
        }
    } else {
        return 0;
    }
    if (ref_at(r, 0) == '.') {
        plain = 0;
        r->i++;
        if (!ref_digit(ref_at(r, 0))) {
            return 0;
        }
        while (ref_digit(ref_at(r, 0))) {
            r->i++;
        }
    }
    if (ref_at(r, 0) == 'e' || ref_at(r, 0) == 'E') {
        plain = 0;
        r->i++;
        if (ref_at(r, 0) == '+' || ref_at(r, 0) == '-') {
            r->i++;
        }
        if (!ref_digit(ref_at(r, 0))) {
            return 0;
        }
        while (ref_digit(ref_at(r, 0))) {
            r->i++;
        }
    }
    *whole = -1;
    if (plain && r->i - start <= 9) {
        *whole = 0;
        for (size_t k = start; k < r->i; k++) {
            *whole = *whole * 10 + (r->s[k] - '0');
        }
    }
    return 1;
}

static int ref_literal(struct ref *r, const char *word)
{
    size_t len = strlen(word);

    if (r->n - r->i < len || memcmp(r->s + r->i, word, len) != 0) {
        return 0;
    }
    r->i += len;
    return 1;
}

/* A value nested depth levels inside the reply's object; deeper than JSON_MAX_DEPTH is refused. */
static int ref_value(struct ref *r, int depth)
{
    int escaped;
    size_t start, len;
    long whole;
    int c = ref_at(r, 0);

    if (depth > JSON_MAX_DEPTH) {
        return 0;
    }
    if (c == '"') {
        return ref_string(r, &escaped, &start, &len);
    }
    if (c == '{' || c == '[') {
        int close = c == '{' ? '}' : ']';
        r->i++;
        ref_ws(r);
        if (ref_at(r, 0) == close) {
            r->i++;
            return 1;
        }
        for (;;) {
            if (close == '}') {
                if (!ref_string(r, &escaped, &start, &len)) {
                    return 0;
                }
                ref_ws(r);
                if (ref_at(r, 0) != ':') {
                    return 0;
                }
                r->i++;
                ref_ws(r);
            }
            if (!ref_value(r, depth + 1)) {
                return 0;
            }
            ref_ws(r);
            if (ref_at(r, 0) == ',') {
                r->i++;
                ref_ws(r);
            } else if (ref_at(r, 0) == close) {
                r->i++;
                return 1;
            } else {
                return 0;
            }
        }
    }
    if (c == 't') {
        return ref_literal(r, "true");
    }
    if (c == 'f') {
        return ref_literal(r, "false");
    }
    if (c == 'n') {
        return ref_literal(r, "null");
    }
    return ref_number(r, &whole);
}

/* The body of a reply: one object and nothing after it; see parse_body's promise. */
static int ref_body(const char *s, size_t n, int *required, long *retry_after)
{
    struct ref r = { s, n, 0 };
    int seen_required = 0, seen_retry = 0;

    *required = -1;
    *retry_after = -1;
    if (ref_at(&r, 0) != '{') {
        return 0;
    }
    r.i++;
    ref_ws(&r);
    if (ref_at(&r, 0) == '}') {
        r.i++;
    } else {
        for (;;) {
            int escaped;
            size_t start, len;
            if (!ref_string(&r, &escaped, &start, &len) || escaped) {
                return 0;
            }
            ref_ws(&r);
            if (ref_at(&r, 0) != ':') {
                return 0;
            }
            r.i++;
            ref_ws(&r);
            if (len == 8 && memcmp(s + start, "required", 8) == 0) {
                if (seen_required++) {
                    return 0;
                }
                if (ref_literal(&r, "true")) {
                    *required = 1;
                } else if (ref_literal(&r, "false")) {
                    *required = 0;
                } else {
                    return 0;
                }
            } else if (len == 11 && memcmp(s + start, "retry_after", 11) == 0) {
                if (seen_retry++ || !ref_number(&r, retry_after) || *retry_after < 0) {
                    return 0;
                }
            } else if (!ref_value(&r, 1)) {
                return 0;
            }
            ref_ws(&r);
            if (ref_at(&r, 0) == ',') {
                r.i++;
                ref_ws(&r);
            } else if (ref_at(&r, 0) == '}') {
                r.i++;
                break;
            } else {
                return 0;
            }
        }
    }
    ref_ws(&r);
    return r.i == r.n;
}

/* What a reply line (no NUL, no LF, CR already dropped) means. */
struct ref_reply {
    int valid;
    enum reply_kind kind;
    size_t word, word_len; /* offsets into the line */
    int has_rest;
    size_t rest; /* offset of the JSON (OK, NO) or the message (ERR) */
};

static int ref_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static struct ref_reply ref_line(const char *t, size_t n)
{
    struct ref_reply r = { 0, REPLY_ERR, 0, 0, 0, 0 };
    size_t k;

    if (n == 2 && memcmp(t, "OK", 2) == 0) {
        r.valid = 1;
        r.kind = REPLY_OK;
        return r;
    }
    if (n > 3 && memcmp(t, "OK ", 3) == 0) {
        r.valid = 1;
        r.kind = REPLY_OK;
        r.has_rest = 1;
        r.rest = 3;
        return r;
    }
    if (n >= 3 && memcmp(t, "NO ", 3) == 0) {
        r.kind = REPLY_NO;
        r.word = 3;
    } else if (n >= 4 && memcmp(t, "ERR ", 4) == 0) {
        r.kind = REPLY_ERR;
        r.word = 4;
    } else {
        return r;
    }
    for (k = r.word; k < n && t[k] != ' '; k++) {
        if (!ref_word_char(t[k])) {
            return r;
        }
    }
    r.word_len = k - r.word;
    if (r.word_len == 0) {
        return r;
    }
    if (k < n) {
        r.has_rest = 1;
        r.rest = k + 1;
        if (r.kind == REPLY_NO && r.rest == n) {
            return r; /* "NO reason " with nothing after the space */
        }
    }
    r.valid = 1;
    return r;
}

/* ---- 1. the whole module against a fake daemon ---- */

enum scenario { CHECK_REPLY, VERIFY_REPLY };

/* The reply line the module should read from a stream: 1 and its text (CR dropped), or 0. */
static int stream_line(const uint8_t *data, size_t size, const char **text, size_t *len)
{
    const uint8_t *lf = memchr(data, '\n', size < TFD_MAX_LINE ? size : TFD_MAX_LINE);

    if (lf == NULL || memchr(data, '\0', (size_t)(lf - data)) != NULL) {
        return 0; /* no LF within 1024 bytes, LF included; or a NUL before it */
    }
    *text = (const char *)data;
    *len = (size_t)(lf - data);
    if (*len > 0 && data[*len - 1] == '\r') {
        (*len)--;
    }
    return 1;
}

/* What docs/pam.md says the module returns for a NO; the message the user gets, or "". */
static int expect_refusal(const char *t, const struct ref_reply *rr, char *message, size_t size)
{
    int required;
    long retry;

    message[0] = '\0';
    if (rr->has_rest && !ref_body(t + rr->rest, strlen(t + rr->rest), &required, &retry)) {
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (rr->word_len == 6 && memcmp(t + rr->word, "locked", 6) == 0) {
        if (!rr->has_rest || retry < 0) {
            snprintf(message, size, "Too many failed attempts. Try again later.");
        } else if (retry < 120) {
            snprintf(message, size, "Too many failed attempts. Try again in %ld second%s.", retry,
                     retry == 1 ? "" : "s");
        } else {
            snprintf(message, size, "Too many failed attempts. Try again in %ld minutes.", (retry + 59) / 60);
        }
        return PAM_MAXTRIES;
    }
    if (rr->word_len == 15 && memcmp(t + rr->word, "enroll-required", 15) == 0) {
        snprintf(message, size, "Two-factor authentication is required for this account, but it is not set up. "
                                "Ask your administrator.");
    }
    return PAM_AUTH_ERR;
}

static void run_module(enum scenario scenario, enum plan plan, const uint8_t *data, size_t size, uint64_t seed)
{
    static const char *argv[] = { "debug" };
    char text[TFD_MAX_LINE + 1];
    char expected_message[512] = "";
    const char *line;
    size_t len;
    int expected = PAM_AUTHINFO_UNAVAIL;
    int expected_connections = 1;
    int rc;

    memset(&w, 0, sizeof w);
    w.open_fd = -1;
    w.plan = plan;
    w.rng = seed | 1;
    w.data = data;
    w.data_len = size;
    w.fuzzed = scenario == CHECK_REPLY ? 0 : 1;
    if (scenario == CHECK_REPLY) {
        w.stream[0] = data;
        w.stream_len[0] = size;
        w.stream[1] = (const uint8_t *)ACCEPTED_REPLY;
        w.stream_len[1] = strlen(ACCEPTED_REPLY);
    } else {
        w.stream[0] = (const uint8_t *)REQUIRED_REPLY;
        w.stream_len[0] = strlen(REQUIRED_REPLY);
        w.stream[1] = data;
        w.stream_len[1] = size;
        expected_connections = 2;
    }

    /* The model. */
    if (stream_line(data, size, &line, &len)) {
        struct ref_reply rr;
        memcpy(text, line, len);
        text[len] = '\0';
        rr = ref_line(text, len);
        if (!rr.valid || rr.kind == REPLY_ERR) {
            expected = PAM_AUTHINFO_UNAVAIL;
        } else if (rr.kind == REPLY_NO) {
            expected = expect_refusal(text, &rr, expected_message, sizeof expected_message);
        } else {
            int required = -1;
            long retry;
            int body_ok = rr.has_rest && ref_body(text + rr.rest, len - rr.rest, &required, &retry);
            if (scenario == CHECK_REPLY) {
                if (!body_ok || required < 0) {
                    expected = PAM_AUTHINFO_UNAVAIL;
                } else if (required == 0) {
                    expected = PAM_IGNORE;
                } else {
                    expected = PAM_SUCCESS; /* asks for the code; VERIFY gets ACCEPTED_REPLY */
                    expected_connections = 2;
                }
            } else {
                expected = !rr.has_rest || body_ok ? PAM_SUCCESS : PAM_AUTHINFO_UNAVAIL;
            }
        }
    }

    rc = pam_sm_authenticate((pam_handle_t *)&w, 0, 1, argv);
    if (w.failed) {
        /* The connection broke before a whole line came: nothing was read. */
        expected = PAM_AUTHINFO_UNAVAIL;
        expected_message[0] = '\0';
        expected_connections = scenario == CHECK_REPLY ? 1 : 2;
    }

    /* One of the known outcomes of this step ... */
    if (scenario == CHECK_REPLY) {
        CHECK_THAT(rc == PAM_IGNORE || rc == PAM_SUCCESS || rc == PAM_AUTH_ERR || rc == PAM_MAXTRIES
                   || rc == PAM_AUTHINFO_UNAVAIL);
    } else {
        CHECK_THAT(rc == PAM_SUCCESS || rc == PAM_AUTH_ERR || rc == PAM_MAXTRIES || rc == PAM_AUTHINFO_UNAVAIL);
    }
    /* ... nothing but "unavailable" for a line over 1024 bytes or with a NUL ... */
    if (!stream_line(data, size, &line, &len)) {
        CHECK_THAT(rc == PAM_AUTHINFO_UNAVAIL);
    }
    /* ... and exactly the one the reference expects. */
    if (rc != expected) {
        fprintf(stderr, "fuzz_reply: %s reply, plan %d: PAM return %d, the reference expects %d\n",
                scenario == CHECK_REPLY ? "CHECK" : "VERIFY", (int)plan, rc, expected);
        abort();
    }
    CHECK_THAT(w.connections == expected_connections);
    CHECK_THAT(w.open_fd < 0); /* every connection closed */
    CHECK_THAT(w.prompts == (expected_connections == 2));
    CHECK_THAT(w.sent_len[0] == strlen(CHECK_REQUEST) && memcmp(w.sent[0], CHECK_REQUEST, w.sent_len[0]) == 0);
    if (expected_connections == 2) {
        CHECK_THAT(w.sent_len[1] == strlen(VERIFY_REQUEST)
                   && memcmp(w.sent[1], VERIFY_REQUEST, w.sent_len[1]) == 0);
    }
    if (strcmp(w.message, expected_message) != 0) {
        fprintf(stderr, "fuzz_reply: the user was told \"%s\", the reference expects \"%s\"\n", w.message,
                expected_message);
        abort();
    }
}

/* ---- 2. and 3. the parsers alone, on exactly sized heap copies ---- */

static void run_parsers(const uint8_t *data, size_t size)
{
    size_t len = strnlen((const char *)data, size); /* a C string ends at the first NUL */
    char *line = malloc(len + 1);
    char *json = malloc(len + 1);
    struct ref_reply rr;
    struct reply reply;
    struct reply_body body;
    int required;
    long retry;
    int ok;

    CHECK_THAT(line != NULL && json != NULL);
    memcpy(line, data, len);
    line[len] = '\0';
    memcpy(json, line, len + 1);

    /* The JSON reader alone, on any text (any length; nesting beyond JSON_MAX_DEPTH is refused). */
    ok = parse_body(json, &body);
    CHECK_THAT(ok == ref_body(json, len, &required, &retry));
    if (ok) {
        CHECK_THAT(body.required == required && body.retry_after == retry);
        CHECK_THAT(body.required >= -1 && body.required <= 1);
        CHECK_THAT(body.retry_after >= -1 && body.retry_after <= 999999999);
    }
    CHECK_THAT(memcmp(json, line, len + 1) == 0); /* it reads, never writes */

    /* The line parser, on any line without a NUL (read_line also leaves out the LF). */
    {
        rr = ref_line(line, len);
        ok = parse_reply(line, &reply);
        CHECK_THAT(ok == rr.valid);
        if (ok) {
            CHECK_THAT(reply.kind == rr.kind);
            if (reply.kind == REPLY_OK) {
                CHECK_THAT(reply.word == NULL);
            } else {
                CHECK_THAT(reply.word == line + rr.word && strlen(reply.word) == rr.word_len);
            }
            if (rr.has_rest) {
                CHECK_THAT(reply.rest == line + rr.rest);
            } else if (reply.kind == REPLY_ERR) {
                CHECK_THAT(reply.rest != NULL && reply.rest[0] == '\0');
            } else {
                CHECK_THAT(reply.rest == NULL);
            }
            if (reply.kind != REPLY_ERR && reply.rest != NULL) {
                ok = parse_body(reply.rest, &body);
                CHECK_THAT(ok == ref_body(reply.rest, strlen(reply.rest), &required, &retry));
                if (ok) {
                    CHECK_THAT(body.required == required && body.retry_after == retry);
                }
            }
        }
    }
    free(line);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 14695981039346656037ULL; /* FNV-1a of the input: the random plan's cuts */

    for (size_t i = 0; i < size; i++) {
        seed = (seed ^ data[i]) * 1099511628211ULL;
    }
    for (int plan = 0; plan < PLAN_COUNT; plan++) {
        run_module(CHECK_REPLY, (enum plan)plan, data, size, seed);
        run_module(VERIFY_REPLY, (enum plan)plan, data, size, seed);
    }
    run_parsers(data, size);
    return 0;
}
