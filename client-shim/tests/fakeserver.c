/*
 * fakeserver: a scripted stand-in for twofactord that misbehaves on purpose.
 *
 *   fakeserver SOCKET LOGFILE ACTION...
 *
 * Request k (counting from 1, over all connections) gets ACTION k; requests
 * after the last action get the last one again. After a line: or trickle:
 * answer the connection stays open for the next request (the module sends VERIFY after
 * CHECK on one connection when it knows the code without a prompt), until the
 * client closes it. Every request line received is appended to LOGFILE, so a
 * test can see what the module sent, or that it sent nothing; one line per
 * connection accepted is appended to LOGFILE.connections. Actions:
 *   line:TEXT      read a request line, answer TEXT and LF
 *   raw:TEXT       read a request line, answer TEXT as is (\n \r \t \0 \\ \xHH), close
 *   long:N         read a request line, answer N bytes of 'A' and LF, close
 *   trickle:TEXT   read a request line, answer TEXT and LF one byte every 100 ms
 *   close          read a request line, close without answering
 *   hangup         on a new connection: close at once, without reading
 *                  (later on a connection: read a request line, close)
 *   silent         read a request line, never answer, keep the connection open
 * The socket appears at SOCKET (bound under another name, then renamed) only
 * once it listens, so a test may start connecting as soon as the file exists.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static FILE *request_log;
static FILE *connection_log;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* Reads one line (up to LF) and logs it; returns 0 if the peer closed first. */
static int read_request(int fd)
{
    char line[4096];
    size_t len = 0;

    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n <= 0) {
            return 0;
        }
        if (c == '\n') {
            break;
        }
        if (len < sizeof line - 1) {
            line[len++] = c;
        }
    }
    line[len] = '\0';
    fprintf(request_log, "%s\n", line);
    fflush(request_log);
    return 1;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes the escapes of raw:TEXT into out; returns the length. */
static size_t unescape(const char *in, char *out)
{
    size_t len = 0;

    while (*in != '\0') {
        if (*in == '\\' && in[1] != '\0') {
            in++;
            switch (*in) {
            case 'n': out[len++] = '\n'; break;
            case 'r': out[len++] = '\r'; break;
            case 't': out[len++] = '\t'; break;
            case '0': out[len++] = '\0'; break;
            case 'x':
                if (hex(in[1]) >= 0 && hex(in[2]) >= 0) {
                    out[len++] = (char)(hex(in[1]) * 16 + hex(in[2]));
                    in += 2;
                }
                break;
            default: out[len++] = *in; break;
            }
            in++;
        } else {
            out[len++] = *in++;
        }
    }
    return len;
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/*
 * Answers one request with action: 1 if the connection stays open for the next
 * request, 0 if it is to be closed, 2 if it is to be left open and unserved.
 */
static int answer(int fd, const char *action)
{
    if (strncmp(action, "line:", 5) == 0) {
        send_all(fd, action + 5, strlen(action + 5));
        send_all(fd, "\n", 1);
    } else if (strncmp(action, "raw:", 4) == 0) {
        char *out = malloc(strlen(action) + 1);
        size_t len = unescape(action + 4, out);
        send_all(fd, out, len);
        free(out);
        return 0; /* raw text may lack its LF: the close ends it */
    } else if (strncmp(action, "long:", 5) == 0) {
        size_t len = (size_t)atol(action + 5);
        char *out = malloc(len + 1);
        memset(out, 'A', len);
        out[len] = '\n';
        send_all(fd, out, len + 1);
        free(out);
        return 0;
    } else if (strncmp(action, "trickle:", 8) == 0) {
        const char *text = action + 8;
        struct timespec pause = { 0, 100 * 1000 * 1000 };
        for (size_t i = 0; text[i] != '\0'; i++) {
            send_all(fd, text + i, 1);
            nanosleep(&pause, NULL);
        }
        send_all(fd, "\n", 1);
    } else if (strcmp(action, "silent") == 0) {
        return 2; /* left open, unanswered, until the process is killed */
    } else if (strcmp(action, "close") == 0 || strcmp(action, "hangup") == 0) {
        return 0;
    } else {
        fprintf(stderr, "fakeserver: unknown action %s\n", action);
        exit(2);
    }
    return 1;
}

/* Serves one connection: its requests take the next actions, from *next on. */
static void serve(int fd, char **actions, int count, int *next)
{
    const char *action = actions[*next < count ? *next : count - 1];

    if (strcmp(action, "hangup") == 0) {
        (*next)++;
        close(fd);
        return;
    }
    /* An action is used only by a request that came: a client that closes takes none. */
    while (read_request(fd)) {
        action = actions[*next < count ? *next : count - 1];
        (*next)++;
        switch (answer(fd, action)) {
        case 1:
            continue;
        case 2:
            return;
        default:
            close(fd);
            return;
        }
    }
    close(fd);
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr;
    char temp[sizeof addr.sun_path];
    int listener;

    if (argc < 4) {
        fprintf(stderr, "usage: fakeserver SOCKET LOGFILE ACTION...\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    request_log = fopen(argv[2], "a");
    if (request_log == NULL) {
        die(argv[2]);
    }
    {
        char name[4096];
        if ((size_t)snprintf(name, sizeof name, "%s.connections", argv[2]) >= sizeof name
            || (connection_log = fopen(name, "a")) == NULL) {
            die("connection log");
        }
    }
    if ((size_t)snprintf(temp, sizeof temp, "%s.tmp", argv[1]) >= sizeof temp) {
        fprintf(stderr, "fakeserver: socket path too long\n");
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, temp, strlen(temp) + 1);
    unlink(temp);
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0) {
        die("bind");
    }
    if (rename(temp, argv[1]) != 0) {
        die("rename");
    }
    for (int next = 0;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        fprintf(connection_log, "connection\n");
        fflush(connection_log);
        serve(fd, argv + 3, argc - 3, &next);
    }
}
