#!/bin/bash
# A real sshd logs a user in with a password and a code through pam_twofactord.so.
# run-tests.sh runs this in its root-only part; on its own: bash tests/sshd-test.sh
# (after make, as root).
#
# It starts the daemon from a private copy of the jar, and an sshd on 127.0.0.1 at a free
# high port, with its own sshd_config, host key and PID file in a temp dir. That sshd
# listens only to 127.0.0.1, lets only the test user in (AllowUsers), and only with
# keyboard-interactive. Its PAM service is the documented "password and code" stack
# (docs/pam.md): @include common-auth, then pam_twofactord.so. The service has a name of
# its own (/etc/pam.d/tfdt-RUN-sshd), so /etc/pam.d/sshd is left alone: OpenSSH
# takes the PAM service name from the name it was started as, so sshd is started
# through a symlink with that name. The daemon's audit line shows that name, and the tests
# check it. A test user gets a password and an enrolled secret. tests/sshd-login.exp
# drives ssh:
#   password + right code          -> logged in, the command runs
#   the same code again (replay)   -> refused
#   password + wrong code          -> refused
#   wrong password                 -> refused, no code asked, nothing sent to the daemon
#
# Needs root, sshd (openssh-server), ssh and ssh-keygen (openssh-client), expect, java,
# socat and oathtool. Without them it is skipped, and under CI=true that is a failure.
# TWOFACTORD_JAR points at another daemon jar (its lib/ directory must sit next to it).
# Prints "ok NAME" / "FAIL NAME" lines like run-tests.sh; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2
SHIM=$PWD
REPO=$(cd .. && pwd)
MODULE=$SHIM/pam_twofactord.so
LOGIN=$SHIM/tests/sshd-login.exp
JAR=${TWOFACTORD_JAR:-$REPO/daemon/target/twofactord.jar}

PASSED=0
FAILED=0
FAILED_NAMES=()

pass() {
    PASSED=$((PASSED + 1))
    echo "ok   $1"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    echo "FAIL $1"
    [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2"
}

finish() {
    echo "sshd: $PASSED passed, $FAILED failed"
    if [ "$FAILED" -ne 0 ]; then
        printf '  failed: %s\n' "${FAILED_NAMES[@]}"
        exit 1
    fi
    exit 0
}

# The project's convention (see ../../run-tests): skipped, but a failure under CI=true.
skip() {
    if [ "${CI:-}" = true ]; then
        fail "sshd login tests run" "CI=true, but: $1"
    else
        echo "skip sshd login tests: $1"
    fi
    finish
}

[ "$(id -u)" = 0 ] || skip "they need root (/etc/pam.d, useradd, sshd); CI runs them as root"
SSHD=
for candidate in /usr/sbin/sshd "$(command -v sshd 2>/dev/null)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        SSHD=$candidate
        break
    fi
done
[ -n "$SSHD" ] || skip "no sshd (Debian package openssh-server)"
missing=
for tool in ssh ssh-keygen expect java socat oathtool useradd chpasswd; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] || skip "missing:$missing (Debian: openssh-client, expect, openjdk-17-jdk-headless, socat, oathtool)"
[ -f "$MODULE" ] || skip "no $MODULE: run make first"

WORK=$(mktemp -d /tmp/twofactord-sshdtest.XXXXXX)
# tfdt-RUN-*: see run-tests.sh.
SERVICE=tfdt-${TFD_TEST_RUN:-s$$}-sshd
SSH_USER=tfdt-${TFD_TEST_RUN:-s$$}-ssh
PASSWORD='S3cret ssh pass'
SOCK=$WORK/state/s.sock
DAEMON_PID=
SSHD_PID=
MADE_RUN_SSHD=

cleanup() {
    if [ -n "$SSHD_PID" ]; then
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    fi
    if [ -n "$DAEMON_PID" ]; then
        kill "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    rm -f "/etc/pam.d/$SERVICE"
    id "$SSH_USER" >/dev/null 2>&1 && userdel "$SSH_USER"
    getent group "$SSH_USER" >/dev/null && groupdel "$SSH_USER"
    [ -n "$MADE_RUN_SSHD" ] && rmdir /run/sshd 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --------------------------------------------------------------------------
# The daemon, from a private copy of the jar (the one in the tree may be rebuilt meanwhile).
start_daemon() {
    if [ ! -f "$JAR" ] || [ ! -d "$(dirname "$JAR")/lib" ]; then
        fail "sshd: daemon jar present" "no $JAR (with lib/ next to it): build the daemon first (mvn -q package)"
        return 1
    fi
    mkdir -p "$WORK/daemon" "$WORK/state"
    cp -r "$JAR" "$(dirname "$JAR")/lib" "$WORK/daemon/"
    java -jar "$WORK/daemon/$(basename "$JAR")" serve --dev --state-dir "$WORK/state" --socket "$SOCK" \
        >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
    DAEMON_PID=$!
    for _ in $(seq 150); do [ -S "$SOCK" ] && return 0; sleep 0.2; done
    fail "sshd: daemon starts" "$(cat "$WORK/daemon.out" "$WORK/daemon.err")"
    return 1
}

# The same helpers as run-tests.sh.
tfd() {
    printf '%s\n' "$@" | socat -t 5 - UNIX-CONNECT:"$SOCK"
}
# enroll USER: prints the secret after ENROLL and CONFIRM.
enroll() {
    local reply secret confirm
    reply=$(tfd "ENROLL $1")
    secret=$(sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p' <<<"$reply")
    [ -n "$secret" ] || { echo "ENROLL $1: $reply" >&2; return 1; }
    confirm=$(tfd "CONFIRM $1 $(oathtool --totp -b "$secret")")
    case $confirm in
    OK*) ;;
    *) echo "CONFIRM $1: $confirm" >&2; return 1 ;;
    esac
    echo "$secret"
}
# The code of the next 30-second step: newer than the one CONFIRM took, inside the window.
next_code() {
    oathtool --totp -b -N "now + 30 seconds" "$1"
}
# A six-digit code that is no code of the window (now -1 .. now +2 steps).
wrong_code() {
    local code=100000 s
    while :; do
        for s in -30 0 30 60; do
            [ "$(oathtool --totp -b -N "now + $s seconds" "$1")" = "$code" ] && { code=$((code + 1)); continue 2; }
        done
        echo "$code"
        return
    done
}

# --------------------------------------------------------------------------
# sshd

# True when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_sshd_config() {
    cat >"$WORK/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $1
HostKey $WORK/host_ed25519_key
PidFile $WORK/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
HostbasedAuthentication no
AuthenticationMethods keyboard-interactive
AuthorizedKeysFile none
PermitRootLogin no
AllowUsers $SSH_USER
MaxAuthTries 3
LoginGraceTime 30
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
LogLevel VERBOSE
EOF
}

# Starts sshd at a free port from 20000-60999 (another try if the bind fails); 0 once it listens.
start_sshd() {
    local attempt out
    if ! out=$(ssh-keygen -q -t ed25519 -N '' -C twofactord-test -f "$WORK/host_ed25519_key" 2>&1); then
        fail "sshd: host key generated" "$out"
        return 1
    fi
    if [ ! -d /run/sshd ]; then # the privilege separation directory
        mkdir -m 0755 /run/sshd && MADE_RUN_SSHD=1
    fi
    # The PAM service name is the name sshd is started as (OpenSSH's SSHD_PAM_SERVICE is
    # __progname); sshd re-executes itself, so the path must be absolute.
    mkdir -p "$WORK/bin"
    ln -s "$SSHD" "$WORK/bin/$SERVICE"
    for attempt in 1 2 3 4 5; do
        PORT=$(shuf -i 20000-60999 -n 1)
        port_in_use "$PORT" && continue
        write_sshd_config "$PORT"
        if ! out=$("$WORK/bin/$SERVICE" -t -f "$WORK/sshd_config" 2>&1); then
            fail "sshd: sshd -t accepts the test config" "$out"
            return 1
        fi
        : >"$WORK/sshd.log"
        "$WORK/bin/$SERVICE" -D -e -f "$WORK/sshd_config" 2>>"$WORK/sshd.log" &
        SSHD_PID=$!
        for _ in $(seq 100); do
            grep -q "Server listening on 127.0.0.1 port $PORT" "$WORK/sshd.log" && return 0
            kill -0 "$SSHD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
        SSHD_PID=
        echo "     sshd at port $PORT (try $attempt) did not come up: $(tail -n 3 "$WORK/sshd.log" | tr '\n' ' ')"
    done
    fail "sshd: starts and listens" "$(tail -n 20 "$WORK/sshd.log" 2>/dev/null)"
    return 1
}

# --------------------------------------------------------------------------
# Logins

verify_lines() {
    grep -c "cmd=VERIFY user=$SSH_USER " "$WORK/daemon.out" "$WORK/daemon.err" 2>/dev/null \
        | awk -F: '{ n += $NF } END { print n + 0 }'
}

# login NAME EXPECT(in|refused) PASSWORD CODE OUTCOME
#   One ssh login through sshd-login.exp. "in": exit 0, the command ran, one password and one
#   code prompt. "refused": exit 255, "Permission denied", the command did not run.
#   OUTCOME: the outcome= of the one new VERIFY audit line of the daemon (OK:totp,
#   NO:replayed, NO:invalid), or "none": no code prompt and no VERIFY at all.
login() {
    local name=$1 expect=$2 password=$3 code=$4 outcome=$5 out rc before after audit problems=()
    before=$(verify_lines)
    out=$(expect -f "$LOGIN" "$PORT" "$SSH_USER" "$password" "$code" 2>&1)
    rc=$?
    sleep 0.2 # the daemon's log line
    after=$(verify_lines)
    audit=$(grep -h "cmd=VERIFY user=$SSH_USER " "$WORK/daemon.out" "$WORK/daemon.err" 2>/dev/null | tail -n 1)
    local code_prompts=1
    [ "$outcome" = none ] && code_prompts=0
    grep -q "password_prompts=1 code_prompts=$code_prompts " <<<"$out" \
        || problems+=("expected one password prompt and $code_prompts code prompt(s)")
    if [ "$expect" = in ]; then
        [ "$rc" = 0 ] || problems+=("ssh exit $rc, expected 0")
        grep -q '^tfd-login-ok' <<<"$out" || problems+=("the remote command did not run")
    else
        [ "$rc" = 255 ] || problems+=("ssh exit $rc, expected 255")
        grep -q 'Permission denied' <<<"$out" || problems+=("no \"Permission denied\"")
        grep -q '^tfd-login-ok' <<<"$out" && problems+=("the remote command ran")
    fi
    if [ "$outcome" = none ]; then
        [ "$after" = "$before" ] || problems+=("VERIFY reached the daemon ($before -> $after audit lines)")
    else
        [ "$after" = $((before + 1)) ] || problems+=("expected one new VERIFY audit line, $before -> $after")
        grep -q "outcome=$outcome service=$SERVICE rhost=127.0.0.1" <<<"$audit" \
            || problems+=("expected outcome=$outcome service=$SERVICE rhost=127.0.0.1 in: $audit")
    fi
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "$(printf '%s\n' "${problems[@]}")"$'\n'"--- expect/ssh:"$'\n'"$out"$'\n'"--- sshd log:"$'\n'"$(tail -n 15 "$WORK/sshd.log")"
    fi
}

sshd_cases() {
    cat >"/etc/pam.d/$SERVICE" <<EOF
# Written by client-shim/tests/sshd-test.sh; removed when it ends.
# The "password and code" stack of docs/pam.md.
@include common-auth
auth required $MODULE socket=$SOCK
@include common-account
session required pam_permit.so
EOF
    tfd "POLICY ENABLE" >/dev/null
    id "$SSH_USER" >/dev/null 2>&1 && userdel "$SSH_USER"
    if useradd -M -U -d /nonexistent -s /bin/sh "$SSH_USER" && echo "$SSH_USER:$PASSWORD" | chpasswd \
        && SECRET=$(enroll "$SSH_USER"); then
        pass "sshd: test user $SSH_USER with a password and an enrolled secret"
    else
        fail "sshd: test user $SSH_USER with a password and an enrolled secret" "$(tail -n 20 "$WORK/daemon.err")"
        return
    fi
    start_sshd || return
    pass "sshd: listens on 127.0.0.1:$PORT as PAM service $SERVICE"

    local code
    code=$(next_code "$SECRET")
    login "sshd: password + right code -> logged in, the command runs" in "$PASSWORD" "$code" OK:totp
    login "sshd: the same code again (replay) -> refused" refused "$PASSWORD" "$code" NO:replayed
    login "sshd: password + wrong code -> refused" refused "$PASSWORD" "$(wrong_code "$SECRET")" NO:invalid
    login "sshd: wrong password -> refused before the code prompt" refused "wrong pass" "$(next_code "$SECRET")" none
}

if start_daemon; then
    sshd_cases
fi
finish
