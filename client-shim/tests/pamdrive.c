/*
 * pamdrive: runs pam_authenticate for one service and user with a scripted
 * conversation, and asserts the exact return code, the prompts, the messages
 * shown to the user and the lines logged to syslog. pamtester only says
 * "failed"; this tells PAM_IGNORE from PAM_SUCCESS and PAM_AUTHINFO_UNAVAIL
 * from PAM_AUTH_ERR.
 *
 *   pamdrive [-d CONFDIR] -s SERVICE -u USER -e PAM_XXX
 *            [-r RESPONSE]... [-p PROMPT]... [-n PROMPTS]
 *            [-m MESSAGE_PART]... [-M] [-l LOG_PART]... [-L NOT_IN_LOG]...
 *            [-H RHOST] [-S] [-t MAX_MS] [-v]
 *
 * -r answers the prompts in order; -p gives the expected prompt texts in
 * order (and so their number), -n only their number; -m wants a message
 * containing the text, -M no message at all; -l wants a log line containing
 * the text, -L no log line containing it; -S passes PAM_SILENT; -t fails if
 * pam_authenticate takes longer than MAX_MS. Exit 0 when every assertion holds.
 *
 * syslog() is replaced below (libpam's pam_syslog ends in __syslog_chk), so the
 * program must be linked with -rdynamic for libpam to find it.
 */
#undef _FORTIFY_SOURCE /* this file defines syslog itself */
#define _GNU_SOURCE
#include <security/pam_appl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 64

struct list {
    const char *items[MAX_ITEMS];
    int count;
};

static struct list responses, expected_prompts, want_messages, want_logs, unwanted_logs;
static int next_response;
static char *prompts[MAX_ITEMS];
static int prompt_count;
static char *messages[MAX_ITEMS];
static int message_count;
static char *logs[MAX_ITEMS];
static int log_count;
static int verbose;

static void add(struct list *list, const char *item)
{
    if (list->count == MAX_ITEMS) {
        fprintf(stderr, "pamdrive: too many items\n");
        exit(2);
    }
    list->items[list->count++] = item;
}

static void record(char **array, int *count, const char *text)
{
    if (*count < MAX_ITEMS) {
        array[(*count)++] = strdup(text);
    }
}

/* ---- syslog, captured ---- */

void __syslog_chk(int priority, int flag, const char *format, ...);
void __vsyslog_chk(int priority, int flag, const char *format, va_list ap);

void vsyslog(int priority, const char *format, va_list ap)
{
    char *text = NULL;

    (void)priority;
    if (vasprintf(&text, format, ap) >= 0) {
        record(logs, &log_count, text);
        if (verbose) {
            fprintf(stderr, "  log: %s\n", text);
        }
        free(text);
    }
}

void syslog(int priority, const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
    (void)flag;
    vsyslog(priority, format, ap);
}

void __syslog_chk(int priority, int flag, const char *format, ...)
{
    va_list ap;

    (void)flag;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

/* ---- the conversation ---- */

static int converse(int count, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
    struct pam_response *answers = calloc((size_t)count, sizeof *answers);

    (void)appdata;
    if (answers == NULL) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < count; i++) {
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON:
            record(prompts, &prompt_count, msg[i]->msg);
            if (verbose) {
                fprintf(stderr, "  prompt: \"%s\"\n", msg[i]->msg);
            }
            if (next_response == responses.count) {
                for (int k = 0; k < i; k++) {
                    free(answers[k].resp);
                }
                free(answers);
                return PAM_CONV_ERR;
            }
            answers[i].resp = strdup(responses.items[next_response++]);
            break;
        case PAM_ERROR_MSG:
        case PAM_TEXT_INFO:
            record(messages, &message_count, msg[i]->msg);
            if (verbose) {
                fprintf(stderr, "  message: \"%s\"\n", msg[i]->msg);
            }
            break;
        default:
            break;
        }
    }
    *resp = answers;
    return PAM_SUCCESS;
}

/* ---- return codes by name ---- */

static const struct {
    const char *name;
    int value;
} codes[] = {
    { "PAM_SUCCESS", PAM_SUCCESS },
    { "PAM_IGNORE", PAM_IGNORE },
    { "PAM_AUTH_ERR", PAM_AUTH_ERR },
    { "PAM_AUTHINFO_UNAVAIL", PAM_AUTHINFO_UNAVAIL },
    { "PAM_MAXTRIES", PAM_MAXTRIES },
    { "PAM_SERVICE_ERR", PAM_SERVICE_ERR },
    { "PAM_CONV_ERR", PAM_CONV_ERR },
    { "PAM_USER_UNKNOWN", PAM_USER_UNKNOWN },
    { "PAM_SYSTEM_ERR", PAM_SYSTEM_ERR },
    { "PAM_PERM_DENIED", PAM_PERM_DENIED },
    { "PAM_BUF_ERR", PAM_BUF_ERR },
    { "PAM_ABORT", PAM_ABORT },
};

static const char *code_name(int value)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i].value == value) {
            return codes[i].name;
        }
    }
    return "PAM_(other)";
}

static int code_value(const char *name)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(codes[i].name, name) == 0) {
            return codes[i].value;
        }
    }
    fprintf(stderr, "pamdrive: unknown return code name %s\n", name);
    exit(2);
}

static int contains(char **array, int count, const char *part)
{
    for (int i = 0; i < count; i++) {
        if (strstr(array[i], part) != NULL) {
            return 1;
        }
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    const char *confdir = NULL, *service = NULL, *user = NULL, *expected = NULL, *rhost = NULL;
    int want_prompt_count = -1, no_messages = 0, flags = 0, opt, failures = 0;
    long max_ms = -1;
    struct pam_conv conv = { converse, NULL };
    pam_handle_t *pamh = NULL;
    long long started, elapsed;
    int rc;

    while ((opt = getopt(argc, argv, "d:s:u:e:r:p:n:m:Ml:L:H:St:v")) != -1) {
        switch (opt) {
        case 'd': confdir = optarg; break;
        case 's': service = optarg; break;
        case 'u': user = optarg; break;
        case 'e': expected = optarg; break;
        case 'r': add(&responses, optarg); break;
        case 'p': add(&expected_prompts, optarg); break;
        case 'n': want_prompt_count = atoi(optarg); break;
        case 'm': add(&want_messages, optarg); break;
        case 'M': no_messages = 1; break;
        case 'l': add(&want_logs, optarg); break;
        case 'L': add(&unwanted_logs, optarg); break;
        case 'H': rhost = optarg; break;
        case 'S': flags |= PAM_SILENT; break;
        case 't': max_ms = atol(optarg); break;
        case 'v': verbose = 1; break;
        default: return 2;
        }
    }
    if (service == NULL || user == NULL || expected == NULL || optind != argc) {
        fprintf(stderr, "usage: pamdrive [-d CONFDIR] -s SERVICE -u USER -e PAM_XXX [options]\n");
        return 2;
    }
    alarm(60); /* a hang is a failure, not a stuck CI job */

    rc = confdir != NULL ? pam_start_confdir(service, user, &conv, confdir, &pamh)
                         : pam_start(service, user, &conv, &pamh);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pamdrive: pam_start: %d\n", rc);
        return 2;
    }
    if (rhost != NULL) {
        pam_set_item(pamh, PAM_RHOST, rhost);
    }
    started = now_ms();
    rc = pam_authenticate(pamh, flags);
    elapsed = now_ms() - started;
    pam_end(pamh, rc);

    if (rc != code_value(expected)) {
        fprintf(stderr, "FAIL: pam_authenticate returned %s (%d), expected %s\n", code_name(rc), rc, expected);
        failures++;
    }
    if (expected_prompts.count > 0) {
        want_prompt_count = expected_prompts.count;
        for (int i = 0; i < expected_prompts.count && i < prompt_count; i++) {
            if (strcmp(prompts[i], expected_prompts.items[i]) != 0) {
                fprintf(stderr, "FAIL: prompt %d was \"%s\", expected \"%s\"\n", i + 1, prompts[i],
                        expected_prompts.items[i]);
                failures++;
            }
        }
    }
    if (want_prompt_count >= 0 && prompt_count != want_prompt_count) {
        fprintf(stderr, "FAIL: %d prompts, expected %d\n", prompt_count, want_prompt_count);
        failures++;
    }
    for (int i = 0; i < want_messages.count; i++) {
        if (!contains(messages, message_count, want_messages.items[i])) {
            fprintf(stderr, "FAIL: no message containing \"%s\"\n", want_messages.items[i]);
            failures++;
        }
    }
    if (no_messages && message_count > 0) {
        fprintf(stderr, "FAIL: unexpected message \"%s\"\n", messages[0]);
        failures++;
    }
    for (int i = 0; i < want_logs.count; i++) {
        if (!contains(logs, log_count, want_logs.items[i])) {
            fprintf(stderr, "FAIL: no log line containing \"%s\"\n", want_logs.items[i]);
            failures++;
        }
    }
    for (int i = 0; i < unwanted_logs.count; i++) {
        if (contains(logs, log_count, unwanted_logs.items[i])) {
            fprintf(stderr, "FAIL: a log line contains \"%s\"\n", unwanted_logs.items[i]);
            failures++;
        }
    }
    if (max_ms >= 0 && elapsed > max_ms) {
        fprintf(stderr, "FAIL: took %lld ms, more than %ld\n", elapsed, max_ms);
        failures++;
    }
    if (failures > 0 || verbose) {
        for (int i = 0; i < log_count; i++) {
            fprintf(stderr, "  logged: %s\n", logs[i]);
        }
        for (int i = 0; i < message_count; i++) {
            fprintf(stderr, "  shown: %s\n", messages[i]);
        }
    }
    for (int i = 0; i < prompt_count; i++) {
        free(prompts[i]);
    }
    for (int i = 0; i < message_count; i++) {
        free(messages[i]);
    }
    for (int i = 0; i < log_count; i++) {
        free(logs[i]);
    }
    return failures == 0 ? 0 : 1;
}
