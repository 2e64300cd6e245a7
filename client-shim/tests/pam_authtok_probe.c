/*
 * A test-only PAM module that sets or checks PAM_AUTHTOK, so a test can see
 * exactly what the module after pam_twofactord receives as the password.
 *   set=TEXT      set PAM_AUTHTOK to TEXT; PAM_SUCCESS
 *   expect=TEXT   PAM_SUCCESS if PAM_AUTHTOK is TEXT, else PAM_AUTH_ERR
 *   expect_unset  PAM_SUCCESS if PAM_AUTHTOK is not set, else PAM_AUTH_ERR
 *   reached       log "probe: reached"; PAM_SUCCESS
 * An application never sees PAM_IGNORE (a stack of ignores is PAM_PERM_DENIED),
 * so the tests put "reached" after "[ignore=ignore default=die] pam_twofactord.so":
 * the probe runs, and logs, only when pam_twofactord returned PAM_IGNORE.
 */
#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <string.h>
#include <syslog.h>

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const void *item = NULL;

    (void)flags;
    if (argc != 1) {
        return PAM_SERVICE_ERR;
    }
    if (strcmp(argv[0], "reached") == 0) {
        pam_syslog(pamh, LOG_NOTICE, "probe: reached");
        return PAM_SUCCESS;
    }
    if (strncmp(argv[0], "set=", 4) == 0) {
        return pam_set_item(pamh, PAM_AUTHTOK, argv[0] + 4);
    }
    if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS) {
        return PAM_SERVICE_ERR;
    }
    if (strcmp(argv[0], "expect_unset") == 0) {
        if (item != NULL) {
            pam_syslog(pamh, LOG_NOTICE, "probe: PAM_AUTHTOK is set");
            return PAM_AUTH_ERR;
        }
        return PAM_SUCCESS;
    }
    if (strncmp(argv[0], "expect=", 7) == 0) {
        if (item == NULL || strcmp(item, argv[0] + 7) != 0) {
            pam_syslog(pamh, LOG_NOTICE, "probe: PAM_AUTHTOK is %s", item == NULL ? "unset" : "something else");
            return PAM_AUTH_ERR;
        }
        pam_syslog(pamh, LOG_NOTICE, "probe: PAM_AUTHTOK as expected");
        return PAM_SUCCESS;
    }
    return PAM_SERVICE_ERR;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
