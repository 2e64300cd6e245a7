/*
 * The few strings of twofactord wire protocol v1 that the PAM module needs.
 *
 * The source of truth is the Java module protocol/ (Commands, Reasons, Keys,
 * Reply, LineReader, UserNames, TwoFactorClient). tests/check-proto.sh fails the
 * build when a value here no longer matches the Java constant it names.
 */
#ifndef TWOFACTORD_PROTO_H
#define TWOFACTORD_PROTO_H

/* Commands.CHECK, Commands.VERIFY */
#define TFD_CMD_CHECK "CHECK"
#define TFD_CMD_VERIFY "VERIFY"

/* Commands.ARG_SERVICE, Commands.ARG_RHOST */
#define TFD_ARG_SERVICE "service="
#define TFD_ARG_RHOST "rhost="

/* Reply.Kind */
#define TFD_REPLY_OK "OK"
#define TFD_REPLY_NO "NO"
#define TFD_REPLY_ERR "ERR"

/* Reasons.LOCKED, Reasons.ENROLL_REQUIRED */
#define TFD_REASON_LOCKED "locked"
#define TFD_REASON_ENROLL_REQUIRED "enroll-required"

/* Keys.REQUIRED, Keys.RETRY_AFTER: JSON keys of the CHECK reply and of NO locked */
#define TFD_KEY_REQUIRED "required"
#define TFD_KEY_RETRY_AFTER "retry_after"

/* TwoFactorClient.DEFAULT_SOCKET */
#define TFD_DEFAULT_SOCKET "/run/twofactord/twofactord.sock"

/* LineReader.MAX_LINE_BYTES: the longest line, LF included */
#define TFD_MAX_LINE 1024

/* UserNames.MAX_LENGTH */
#define TFD_USER_MAX 128

#endif
