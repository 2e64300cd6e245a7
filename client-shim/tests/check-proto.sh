#!/bin/bash
# Checks that every string in twofactord_proto.h matches the Java constant it
# names in protocol/, the wire contract's one source of truth.
#   check-proto.sh [HEADER [PROTOCOL_SOURCE_DIR]]
set -u
here=$(cd "$(dirname "$0")" && pwd)
header=${1:-$here/../twofactord_proto.h}
java=${2:-$here/../../protocol/src/main/java/org/twofactord/protocol}
CC=${CC:-cc}
failures=0

[ -f "$header" ] || { echo "check-proto: no header $header"; exit 1; }
[ -d "$java" ] || { echo "check-proto: no Java protocol sources in $java"; exit 1; }

# The value of a C macro as the preprocessor sees it: "CHECK", 1024, ...
c_value() {
    printf '#include "%s"\n' "$header" | "$CC" -E -dM - | sed -n "s/^#define $1 //p"
}

# The value of a Java constant: the text after "NAME = " up to ";", with
# Path.of(...) unwrapped, so "CHECK" or 1024 or "/run/...".
java_value() {
    local file=$java/$1.java
    [ -f "$file" ] || return 0
    sed -n "s/.*[[:space:]]$2 = \(.*\);.*/\1/p" "$file" | sed 's/^Path\.of(\(.*\))$/\1/' | head -n 1
}

same() { # same MACRO CLASS CONSTANT
    local c j
    c=$(c_value "$1")
    j=$(java_value "$2" "$3")
    if [ -z "$c" ] || [ "$c" != "$j" ]; then
        echo "check-proto: $1 is ${c:-<missing>} but $2.$3 is ${j:-<missing>}"
        failures=$((failures + 1))
    fi
}

# The reply words are the names of Reply.Kind.
kind() { # kind MACRO
    local c kinds
    c=$(c_value "$1" | tr -d '"')
    kinds=$(sed -n 's/.*enum Kind *{\([^}]*\)}.*/\1/p' "$java/Reply.java" | tr -d ' ' | tr ',' '\n')
    if [ -z "$c" ] || ! grep -qx "$c" <<<"$kinds"; then
        echo "check-proto: $1 is ${c:-<missing>}, not one of Reply.Kind ($(echo $kinds))"
        failures=$((failures + 1))
    fi
}

same TFD_CMD_CHECK Commands CHECK
same TFD_CMD_VERIFY Commands VERIFY
same TFD_ARG_SERVICE Commands ARG_SERVICE
same TFD_ARG_RHOST Commands ARG_RHOST
same TFD_REASON_LOCKED Reasons LOCKED
same TFD_REASON_ENROLL_REQUIRED Reasons ENROLL_REQUIRED
same TFD_DEFAULT_SOCKET TwoFactorClient DEFAULT_SOCKET
same TFD_MAX_LINE LineReader MAX_LINE_BYTES
same TFD_USER_MAX UserNames MAX_LENGTH
kind TFD_REPLY_OK
kind TFD_REPLY_NO
kind TFD_REPLY_ERR
same TFD_KEY_REQUIRED Keys REQUIRED
same TFD_KEY_RETRY_AFTER Keys RETRY_AFTER

if [ "$failures" -ne 0 ]; then
    echo "check-proto: $failures mismatch(es) between $header and $java"
    exit 1
fi
echo "check-proto: twofactord_proto.h matches protocol/"
