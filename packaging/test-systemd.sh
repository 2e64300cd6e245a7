#!/usr/bin/env bash
# The Debian package under a real systemd: boots Debian 12 (bookworm) and Debian 13 (trixie)
# in systemd-nspawn containers and checks, in each, what an administrator meets:
#   install      apt-get install of the .deb; the socket listening with its mode and group,
#                the service not started yet
#   activation   the first connection starts the service; READY (Type=notify) and STATUS;
#                `systemd-analyze security` at most 1.5
#   logins       enrolment; VERIFY as a member of the verifier group, the replay refused;
#                pamtester through pam_twofactord.so; a real sshd (the Debian ssh.service;
#                on trixie OpenSSH >= 9.8 with its sshd-session) logging a user in with
#                password and code; the daemon's RSS idle and after a load
#   backup       `twofactord store backup` under the unit's sandbox: the copy checks out
#   lifecycle    restart, reload, stop and reconnect, reinstall, upgrade to a higher version,
#                kill -9, SIGSTOP until the watchdog restarts it, remove and install again;
#                each followed by a login that must work; then purge, which must leave no
#                failed unit and nothing behind
# Prints "ok - ..." / "not ok - ..." lines, the time of each phase and a last line
# "N passed, N failed"; exits 1 if anything failed.
#
# How: the root file systems are built once by packaging/nspawn-rootfs.sh (debootstrap, cached
# under /var/tmp/twofactord-nspawn/SUITE) and each run boots an overlay of one, so the cache
# stays clean. The container has systemd as PID 1 on a pure cgroup2 hierarchy
# (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), no network but its own loopback (--private-network),
# and is not registered with machined (--register=no --keep-unit: the host needs no
# systemd). Commands run in it through nsenter into its PID 1's namespaces, each under a
# timeout. On exit the containers are powered off (killed after 30 s), the overlays
# unmounted and removed: the host keeps no unit, user, group or PAM file of this test.
#
# Needs root, systemd-nspawn (systemd-container), debootstrap and the Debian mirror for the
# first build of each tree; skipped without root, except under CI=true.
# Usage: packaging/test-systemd.sh [SUITE...]     (default: bookworm trixie; after mvn package)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
    if [[ ${CI:-} == true ]]; then
        echo "test-systemd: CI runs as root: the systemd test must not be skipped" >&2
        exit 1
    fi
    echo "test-systemd: skipped: needs root to boot containers"
    exit 0
fi
for tool in systemd-nspawn debootstrap nsenter; do
    command -v "$tool" >/dev/null || { echo "test-systemd: $tool is missing (systemd-container, debootstrap, util-linux)" >&2; exit 1; }
done
suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(bookworm trixie)
cache=${TWOFACTORD_NSPAWN_CACHE:-/var/tmp/twofactord-nspawn}

passed=0
failed=0
ok() { echo "ok - $suite: $1"; passed=$((passed + 1)); }
not_ok() {
    echo "not ok - $suite: $1"
    failed=$((failed + 1))
    [[ -n ${2:-} ]] && sed 's/^/    /' <<< "$2"
    return 0
}
expect_eq() { # expect_eq DESCRIPTION WANT GOT
    if [[ $3 == "$2" ]]; then ok "$1"; else not_ok "$1" "got:  $3"$'\n'"want: $2"; fi
}
# Elapsed seconds since $1 (an $EPOCHREALTIME), with one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
phase_name=""
phase_start=""
phase() { # phase NAME: ends the previous phase with its time, starts NAME
    [[ -n $phase_name ]] && echo "# $suite: phase $phase_name: $(since "$phase_start") s"
    phase_name=$1
    phase_start=$EPOCHREALTIME
}
total_start=$EPOCHREALTIME

# --- the packages: this build, and the same build under a higher version for the upgrade
work=""
nspawn_dir_existed=$([[ -e /run/systemd/nspawn ]] && echo yes)
timeout_pid=""
ct_pid=""
cleanup_container() {
    if [[ -n $timeout_pid ]] && kill -0 "$timeout_pid" 2>/dev/null; then
        [[ -n $ct_pid ]] && kill -RTMIN+3 "$ct_pid" 2>/dev/null # systemd: halt
        for _ in $(seq 60); do kill -0 "$timeout_pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$timeout_pid" 2>/dev/null; then
            echo "# container did not halt in 30 s: killed"
            pkill -KILL -P "$timeout_pid" 2>/dev/null
            kill -KILL "$timeout_pid" 2>/dev/null
        fi
        wait "$timeout_pid" 2>/dev/null
    fi
    timeout_pid=""
    ct_pid=""
    if [[ -n $work ]]; then
        if mountpoint -q "$work/root"; then
            umount "$work/root" 2>/dev/null || umount -l "$work/root"
        fi
        rm -rf "$work"
        work=""
    fi
}
debs=$(mktemp -d)
cleanup() {
    cleanup_container
    rm -rf "$debs"
    # systemd-nspawn keeps its lock and mount-propagation directories in /run/systemd/nspawn.
    [[ -z $nspawn_dir_existed ]] && rm -rf /run/systemd/nspawn
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run killed by SIGKILL leaves its overlay mounted (its container ends by the timeout
# below, 20 minutes): take away those older than half an hour.
for old in "$cache"/run.*; do
    [[ -d $old && -n $(find "$old" -maxdepth 0 -mmin +30) ]] || continue
    mountpoint -q "$old/root" && umount -l "$old/root"
    rm -rf "$old"
done

suite=build
phase "build the two packages"
jar=$here/daemon/target/twofactord.jar
[[ -f $jar ]] || { echo "test-systemd: $jar is missing: run mvn -B package first" >&2; exit 1; }
if ! deb1=$("$here/packaging/build-deb.sh" "$debs/1"); then
    echo "test-systemd: build-deb.sh failed" >&2
    exit 1
fi
version1=$(dpkg-deb -f "$deb1" Version)
version2=$version1+upgrade
if ! deb2=$(TWOFACTORD_DEB_VERSION=$version2 "$here/packaging/build-deb.sh" "$debs/2" 2>/dev/null); then
    echo "test-systemd: build-deb.sh (upgrade version) failed" >&2
    exit 1
fi
echo "# packages: $(basename "$deb1"), $(basename "$deb2")"
phase ""

# --- the container

# in_ct [-t SECONDS] COMMAND...: runs COMMAND in the container as root, at most SECONDS (60).
in_ct() {
    local t=60
    if [[ $1 == -t ]]; then t=$2; shift 2; fi
    timeout -k 5 $((t + 10)) nsenter --target "$ct_pid" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
        /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root TERM=dumb \
        DEBIAN_FRONTEND=noninteractive timeout -k 5 "$t" "$@"
}
# h FUNCTION ARGS...: a function of the helper script below, in the container.
h() { in_ct /root/tfd/h.sh "$@"; }

# The helper, copied into the container: what the test does there, by name.
write_helper() {
    cat > "$1" <<'HELPER'
#!/bin/bash
# packaging/test-systemd.sh's helper inside the container.
sock=/run/twofactord/twofactord.sock
tfd() { printf '%s\n' "$@" | socat -t 20 - "UNIX-CONNECT:$sock" 2>&1; }
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"; }
mainpid() { systemctl show -P MainPID twofactord.service; }
# Waits up to $1 s for COMMAND... to succeed.
wait_for() {
    local n=$(($1 * 5)); shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
cmd=$1; shift
case $cmd in
tfd) tfd "$@" ;;
# as USER LINE...: lines on one connection as USER.
as) u=$1; shift; printf '%s\n' "$@" | as "$u" socat -t 20 - "UNIX-CONNECT:$sock" 2>&1 ;;
# enroll USER...: "USER SECRET" per user, after ENROLL and CONFIRM.
enroll)
    for u; do
        r=$(tfd "ENROLL $u")
        s=$(sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p' <<< "$r")
        [ -n "$s" ] || { echo "ENROLL $u: $r"; exit 1; }
        c=$(tfd "CONFIRM $u $(oathtool --totp -b "$s")")
        case $c in OK*) ;; *) echo "CONFIRM $u: $c"; exit 1 ;; esac
        echo "$u $s"
    done ;;
# The code of the next step: newer than the one CONFIRM took, inside the window of 1.
code) oathtool --totp -b -N "now + 30 seconds" "$1" ;;
# pam USER CODE: pamtester through pam_twofactord.so (service twofactord-test).
pam) printf '%s\n' "$2" | pamtester -v twofactord-test "$1" authenticate 2>&1 ;;
mainpid) mainpid ;;
# wait-active UNIT SECONDS / wait-newpid OLDPID SECONDS: 0 once it is so.
wait-active) wait_for "$2" systemctl is-active --quiet "$1" ;;
wait-newpid)
    wait_for "$2" bash -c "p=\$(systemctl show -P MainPID twofactord.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $1 ] &&
        systemctl is-active --quiet twofactord.service" ;;
# rss: VmRSS and VmHWM of the daemon, in kB, and the service's cgroup memory in bytes.
rss)
    p=$(mainpid)
    echo "$(awk '/^VmRSS/ { print $2 }' /proc/$p/status) $(awk '/^VmHWM/ { print $2 }' /proc/$p/status) $(systemctl show -P MemoryCurrent twofactord.service)" ;;
# load CONNECTIONS LINES USER: CONNECTIONS connections at once, each sending LINES CHECKs.
load)
    for _ in $(seq "$1"); do
        (for _ in $(seq "$2"); do echo "CHECK $3"; done) | socat -t 30 - "UNIX-CONNECT:$sock" | grep -c '^OK' &
    done | awk '{ n += $1 } END { print n + 0 }'
    wait ;;
*) echo "h.sh: unknown $cmd"; exit 2 ;;
esac
HELPER
    chmod 0755 "$1"
}

start_container() {
    local rootfs=$1
    work=$(mktemp -d "$cache/run.XXXXXX")
    mkdir -p "$work/upper" "$work/ovl" "$work/root"
    if ! mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/ovl" "$work/root"; then
        not_ok "mount an overlay of $rootfs"
        return 1
    fi
    install -d -m 0700 "$work/root/root/tfd"
    cp "$deb1" "$deb2" "$here/client-shim/tests/sshd-login.exp" "$work/root/root/tfd/"
    write_helper "$work/root/root/tfd/h.sh"
    # A bound on the container's life even if this script is killed (the trap then cannot run).
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout -k 10 1200 systemd-nspawn --quiet --boot --register=no --keep-unit \
        --private-network --link-journal=no --console=pipe --machine="tfd-$suite-$$" --directory="$work/root" \
        < /dev/null > "$work/console.log" 2>&1 &
    timeout_pid=$!
    local nspawn_pid p
    for _ in $(seq 100); do
        nspawn_pid=$(pgrep -P "$timeout_pid" -x systemd-nspawn | head -n 1)
        if [[ -n $nspawn_pid ]]; then
            for p in $(pgrep -P "$nspawn_pid"); do
                [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd ]] && ct_pid=$p
            done
        fi
        [[ -n $ct_pid ]] && return 0
        kill -0 "$timeout_pid" 2>/dev/null || break
        sleep 0.1
    done
    not_ok "systemd-nspawn --boot starts systemd" "$(tail -n 20 "$work/console.log")"
    return 1
}

# --- logins

declare -A secret
pool=()
pool_next=0
# login_works WHAT: the daemon answers, and the next unused enrolled user of the pool logs in
# through pamtester and pam_twofactord.so (each user once: a code is good only once). On a
# failure, shows the units' state and the journal, and starts the socket afresh so that the
# steps after it test their own thing.
login_works() {
    local what=$1 start out user code
    start=$EPOCHREALTIME
    out=$(h tfd PING)
    if [[ $out != OK ]]; then
        not_ok "after $what: the daemon answers" "PING: $out"$'\n'"$(diagnose)"
        recover
        return
    fi
    local answered
    answered=$(since "$start")
    user=${pool[pool_next]}
    pool_next=$((pool_next + 1))
    code=$(h code "${secret[$user]}")
    out=$(h pam "$user" "$code")
    if grep -q 'successfully authenticated' <<< "$out"; then
        ok "after $what: a login works (PING answered in $answered s; pamtester $user)"
    else
        not_ok "after $what: a login works (pamtester $user)" "$out"$'\n'"$(diagnose)"
        recover
    fi
}
diagnose() {
    in_ct systemctl status --no-pager --lines=0 twofactord.socket twofactord.service 2>&1 | sed -n '1,30p'
    echo "--- journal:"
    in_ct journalctl --no-pager -n 15 -u twofactord.socket -u twofactord.service 2>&1
}
recover() {
    echo "# recovering: stop, reset-failed, start twofactord.socket"
    in_ct systemctl stop twofactord.service twofactord.socket >/dev/null 2>&1
    in_ct systemctl reset-failed twofactord.service twofactord.socket >/dev/null 2>&1
    in_ct systemctl start twofactord.socket >/dev/null 2>&1
}
no_failed_units() { # no_failed_units WHAT
    local what=$1
    local out
    out=$(in_ct systemctl list-units --failed --no-legend --plain 2>&1)
    expect_eq "after $what: no failed units" "" "$out"
}
show() { in_ct systemctl show -P "$2" "$1" 2>&1; }

# --- one suite

run_suite() {
    suite=$1
    local rootfs out pid pid2 what
    phase "root file system"
    if ! rootfs=$("$here/packaging/nspawn-rootfs.sh" "$suite"); then
        not_ok "a $suite root file system (packaging/nspawn-rootfs.sh)"
        return
    fi

    phase "boot"
    start_container "$rootfs" || { cleanup_container; return; }
    # Until PID 1 has its private socket, systemctl cannot ask it anything: it says so, or
    # (seen once on bookworm, 0.3 s after the start) just "offline".
    for _ in $(seq 100); do
        out=$(in_ct -t 90 systemctl is-system-running --wait 2>&1)
        [[ $out == *"Failed to connect"* || $out == offline ]] || break
        sleep 0.2
    done
    expect_eq "systemd boots to running in the container (pure cgroup2)" "running cgroup2fs" \
        "$out $(in_ct stat -f -c %T /sys/fs/cgroup)"
    [[ $out == running ]] || in_ct systemctl list-units --failed --no-legend --plain | sed 's/^/    /'

    phase "install"
    if out=$(in_ct -t 120 apt-get install -y -q "/root/tfd/$(basename "$deb1")" 2>&1); then
        ok "apt-get install ./$(basename "$deb1")"
    else
        not_ok "apt-get install ./$(basename "$deb1")" "$(tail -n 20 <<< "$out")"
        cleanup_container
        return
    fi
    expect_eq "twofactord.socket is enabled and active" "enabled active" \
        "$(in_ct systemctl is-enabled twofactord.socket) $(in_ct systemctl is-active twofactord.socket)"
    expect_eq "the socket: mode 0666, owner root, group twofactord" "socket 666 root:twofactord" \
        "$(in_ct stat -c '%F %a %U:%G' /run/twofactord/twofactord.sock)"
    expect_eq "twofactord.service is not started by the install" inactive "$(in_ct systemctl is-active twofactord.service)"

    phase "activation"
    local start
    start=$EPOCHREALTIME
    out=$(h tfd PING)
    expect_eq "the first connection starts the service and is answered ($(since "$start") s)" OK "$out"
    expect_eq "READY=1 came (Type=notify: active only after it)" "notify active running" \
        "$(show twofactord.service Type) $(show twofactord.service ActiveState) $(show twofactord.service SubState)"
    out=$(show twofactord.service StatusText)
    if [[ -n $out ]]; then ok "STATUS= is shown: $out"; else not_ok "STATUS= is shown (StatusText is empty)"; fi
    expect_eq "the daemon runs as twofactord" twofactord "$(in_ct ps -o user= -p "$(h mainpid)")"
    out=$(in_ct systemd-analyze security --no-pager twofactord.service 2>&1 | sed -n 's/.*Overall exposure level for twofactord.service: \([0-9.]*\).*/\1/p')
    if [[ -n $out ]] && awk -v e="$out" 'BEGIN { exit !(e <= 1.5) }'; then
        ok "systemd-analyze security twofactord.service: exposure $out (at most 1.5)"
    else
        not_ok "systemd-analyze security twofactord.service: exposure '$out', more than 1.5"
    fi

    phase "logins"
    # Policy on; a pool of users, each good for one login; a login service in the verifier group.
    local users=() u s
    for i in $(seq 16); do users+=("login$i"); done
    users+=(replay tfdssh)
    expect_eq "POLICY ENABLE (as root)" OK "$(h tfd 'POLICY ENABLE' | cut -c1-2)"
    out=$(h enroll "${users[@]}")
    pool=()
    pool_next=0
    while read -r u s; do
        [[ $s =~ ^[A-Z2-7]+$ ]] || continue
        secret[$u]=$s
        [[ $u == login* ]] && pool+=("$u")
    done <<< "$out"
    expect_eq "enrolled ${#users[@]} users (ENROLL, CONFIRM)" "${#users[@]}" "$((${#pool[@]} + 2))"
    in_ct useradd --system --no-create-home --shell /usr/sbin/nologin --groups twofactord tfd-web
    local code
    code=$(h code "${secret[replay]}")
    out=$(h as tfd-web "VERIFY replay $code service=web" "VERIFY replay $code service=web")
    expect_eq "VERIFY as a member of the verifier group; the same code again is refused" \
        $'OK {"method":"totp"}\nNO replayed' "$out"
    expect_eq "VERIFY as a user outside the group is forbidden" "ERR forbidden" \
        "$(h as nobody "VERIFY replay $code" | cut -d' ' -f1-2)"
    in_ct bash -c 'printf "%s\n" "auth required pam_twofactord.so" "account required pam_permit.so" > /etc/pam.d/twofactord-test'
    login_works "enrolment"
    out=$(h pam "${pool[pool_next]}" 000000)
    if grep -q 'Authentication failure\|Authentication service cannot retrieve' <<< "$out" &&
        ! grep -q 'successfully authenticated' <<< "$out"; then
        ok "pamtester with a wrong code fails"
    else
        not_ok "pamtester with a wrong code fails" "$out"
    fi
    pool_next=$((pool_next + 1)) # that user may now be locked out or have a failure counted
    sshd_login

    phase "backup"
    # store backup under the unit's sandbox: the daemon copies its own store as its own user (no
    # chown: @privileged is filtered out), the command moves the copy out and checks it.
    out=$(in_ct -t 90 twofactord store backup /root/tfd-backup 2>&1)
    if grep -q 'the copy checks out' <<< "$out" && in_ct test -f /root/tfd-backup/store/CURRENT \
        && [[ $(in_ct stat -c '%U %a' /root/tfd-backup/store/CURRENT) == "twofactord 600" ]]; then
        ok "store backup under the unit's sandbox: the copy (the daemon's, mode 0600) checks out"
    else
        not_ok "store backup under the unit's sandbox" "$out"
    fi
    login_works "store backup"

    phase "memory"
    local rss hwm mem rss2 hwm2 mem2 n
    sleep 5
    read -r rss hwm mem <<< "$(h rss)"
    start=$EPOCHREALTIME
    n=$(in_ct -t 120 /root/tfd/h.sh load 16 500 login1)
    local took
    took=$(since "$start")
    read -r rss2 hwm2 mem2 <<< "$(h rss)"
    expect_eq "a load of 16 connections at once, 500 CHECKs each, is answered ($took s)" 8000 "$n"
    # The service's cgroup memory needs the memory controller on cgroup2 (a host on the hybrid
    # hierarchy has it on cgroup1 only: MemoryCurrent is then "[not set]").
    mb() { [[ $1 =~ ^[0-9]+$ ]] && echo "$(($1 / 1048576)) MB" || echo "n/a"; }
    echo "# $suite: RSS idle $((rss / 1024)) MB (cgroup $(mb "$mem")); after the load $((rss2 / 1024)) MB, peak $((hwm2 / 1024)) MB (cgroup $(mb "$mem2")); 8000 CHECKs in $took s"

    phase "restart, reload, stop"
    pid=$(h mainpid)
    in_ct systemctl restart twofactord.service
    pid2=$(h mainpid)
    expect_eq "systemctl restart: a new daemon, the socket still active" "new active" \
        "$([[ $pid2 != "$pid" && $pid2 != 0 ]] && echo new || echo "same pid $pid2") $(in_ct systemctl is-active twofactord.socket)"
    login_works "systemctl restart"

    pid=$(h mainpid)
    out=$(in_ct systemctl reload twofactord.service 2>&1)
    expect_eq "systemctl reload is refused (no ExecReload): the daemon stays" "refused $pid" \
        "$([[ $out == *"not applicable"* ]] && echo refused || echo "$out") $(h mainpid)"
    login_works "systemctl reload"

    in_ct systemctl stop twofactord.service 2>/dev/null # "... can still be activated by twofactord.socket"
    expect_eq "systemctl stop twofactord: the service stops, the socket stays active" "inactive active" \
        "$(in_ct systemctl is-active twofactord.service) $(in_ct systemctl is-active twofactord.socket)"
    no_failed_units "systemctl stop"
    login_works "systemctl stop, then a new connection"

    in_ct systemctl stop twofactord.socket twofactord.service
    # Nothing listens (systemd 252 leaves the file, RemoveOnStop=no; 257 removes it): logins
    # fail until the socket starts again.
    expect_eq "systemctl stop twofactord.socket twofactord: both stop, connections fail" \
        "inactive inactive failed inactive" \
        "$(in_ct systemctl is-active twofactord.socket) $(in_ct systemctl is-active twofactord.service) $(out=$(h tfd PING); grep -q 'Connection refused\|No such file' <<< "$out" && echo failed || echo "PING: $out") $(in_ct systemctl is-active twofactord.service)"
    in_ct systemctl start twofactord.socket
    no_failed_units "stopping both"
    login_works "stopping both and starting the socket"

    phase "reinstall, upgrade"
    h tfd PING >/dev/null # a running daemon, for the package to restart
    pid=$(h mainpid)
    if out=$(in_ct -t 120 apt-get install -y -q --reinstall "/root/tfd/$(basename "$deb1")" 2>&1); then
        ok "apt-get install --reinstall"
    else
        not_ok "apt-get install --reinstall" "$(tail -n 20 <<< "$out")"
    fi
    expect_eq "the reinstall restarted the running daemon" new \
        "$(pid2=$(h mainpid); [[ $pid2 != "$pid" && $pid2 != 0 ]] && echo new || echo "same pid $pid2")"
    login_works "apt-get install --reinstall"
    in_ct bash -c 'echo "# an edit of the administrator" >> /etc/twofactord/twofactord.conf'
    h tfd PING >/dev/null
    pid=$(h mainpid)
    if out=$(in_ct -t 120 apt-get install -y -q "/root/tfd/$(basename "$deb2")" 2>&1); then
        ok "apt-get install of version $version2 (an upgrade)"
    else
        not_ok "apt-get install of version $version2 (an upgrade)" "$(tail -n 20 <<< "$out")"
    fi
    expect_eq "after the upgrade: the new version, a new daemon, the edited configuration kept" \
        "$version2 new kept" \
        "$(in_ct dpkg-query -W -f '${Version}' twofactord) $(pid2=$(h mainpid); [[ $pid2 != "$pid" && $pid2 != 0 ]] && echo new || echo "same pid $pid2") $(in_ct grep -q 'an edit of the administrator' /etc/twofactord/twofactord.conf && echo kept)"
    login_works "the upgrade"
    no_failed_units "the upgrade"

    phase "a burst of restarts, kill -9, watchdog"
    # systemd's default start limit (5 starts in 10 s) failed the service and the socket after
    # a burst of restarts (service-start-limit-hit): every login refused until reset-failed.
    # The unit has no start limit; eight restarts in a row leave the socket listening.
    local i
    for i in 1 2 3 4 5 6 7 8; do
        in_ct systemctl restart twofactord.service 2>/dev/null
    done
    expect_eq "eight restarts in a row: the socket and the service are still active" "active active" \
        "$(in_ct systemctl is-active twofactord.socket) $(in_ct systemctl is-active twofactord.service)"
    login_works "eight restarts in a row"
    h tfd PING >/dev/null
    pid=$(h mainpid)
    local restarts
    restarts=$(show twofactord.service NRestarts)
    [[ $pid =~ ^[1-9][0-9]*$ ]] && in_ct kill -KILL "$pid"
    if h wait-newpid "$pid" 30; then
        ok "kill -9: systemd starts a new daemon (Restart=on-failure)"
    else
        not_ok "kill -9: systemd starts a new daemon (Restart=on-failure)" "$(diagnose)"
    fi
    expect_eq "kill -9 counted as one restart" $((restarts + 1)) "$(show twofactord.service NRestarts)"
    login_works "kill -9"

    h tfd PING >/dev/null
    pid=$(h mainpid)
    start=$EPOCHREALTIME
    [[ $pid =~ ^[1-9][0-9]*$ ]] && in_ct kill -STOP "$pid"
    # Meanwhile a login does not hang: the PAM module gives up after its timeout (5 s).
    local t0
    t0=$EPOCHREALTIME
    out=$(h pam "${pool[pool_next]}" "$(h code "${secret[${pool[pool_next]}]}")")
    pool_next=$((pool_next + 1))
    if grep -q 'Authentication service cannot retrieve' <<< "$out"; then
        ok "a login while the daemon hangs is refused after the module's timeout ($(since "$t0") s)"
    else
        not_ok "a login while the daemon hangs is refused after the module's timeout" "$out"
    fi
    if h wait-newpid "$pid" 90; then
        ok "SIGSTOP: the watchdog restarts the daemon ($(since "$start") s; WatchdogSec=$(show twofactord.service WatchdogUSec))"
    else
        not_ok "SIGSTOP: the watchdog restarts the daemon within 90 s" "$(diagnose)"
    fi
    out=$(in_ct journalctl --no-pager -u twofactord.service 2>&1 | grep -c 'Watchdog timeout')
    expect_eq "the journal says why: Watchdog timeout" 1 "$out"
    login_works "the watchdog's restart"

    # The daemon's WARN and ERROR lines (it logs to stderr: the journal's level does not
    # tell them) and systemd's warnings, for the reader: the kill -9 and the watchdog's
    # SIGABRT are expected there.
    in_ct journalctl --no-pager -o short-monotonic -u twofactord.service -u twofactord.socket 2>&1 |
        grep -E ' (WARN|ERROR) |systemd\[1\]: .*(exited|Failed|Watchdog|[Ww]arning)' | cut -c1-220 |
        sed "s/^/# $suite: journal: /"

    phase "remove, install again, purge"
    if out=$(in_ct -t 120 apt-get remove -y -q twofactord 2>&1); then
        ok "apt-get remove twofactord"
    else
        not_ok "apt-get remove twofactord" "$(tail -n 20 <<< "$out")"
    fi
    no_failed_units "remove"
    expect_eq "after remove: nothing listens, the configuration and the store stay" "failed yes yes" \
        "$(out=$(h tfd PING); grep -q 'Connection refused\|No such file' <<< "$out" && echo failed || echo "PING: $out") $(in_ct test -f /etc/twofactord/twofactord.conf && echo yes) $(in_ct test -f /var/lib/twofactord/master.key && echo yes)"
    if out=$(in_ct -t 120 apt-get install -y -q "/root/tfd/$(basename "$deb2")" 2>&1); then
        ok "apt-get install after remove"
    else
        not_ok "apt-get install after remove" "$(tail -n 20 <<< "$out")"
    fi
    # The pool's users were enrolled before the remove: a login proves the store was kept.
    login_works "remove and install again (the enrolments kept)"

    local pam_module
    pam_module=$(in_ct dpkg -L twofactord | grep '/pam_twofactord.so$')
    if out=$(in_ct -t 120 apt-get purge -y -q twofactord 2>&1); then
        ok "apt-get purge twofactord"
    else
        not_ok "apt-get purge twofactord" "$(tail -n 20 <<< "$out")"
    fi
    no_failed_units "purge"
    expect_eq "after purge: no twofactord unit is loaded, its files and state are gone" "" \
        "$(in_ct systemctl list-units --all --no-legend --plain 'twofactord*' 2>&1)$(in_ct bash -c "ls -d /etc/twofactord /var/lib/twofactord /run/twofactord $pam_module /usr/bin/twofactord 2>/dev/null; find /etc/systemd /var/lib/systemd -name '*twofactord*'")"

    phase "shutdown"
    cleanup_container
    phase ""
}

# The real sshd of the distribution, started by its own unit (ssh.service), with the
# "password and code" stack of docs/pam.md in /etc/pam.d/sshd: a password prompt from
# pam_unix, then "Verification code:" from pam_twofactord. sshd listens on the container's
# own 127.0.0.1 (its network namespace has nothing else).
sshd_login() {
    local out version code
    in_ct rm -f /etc/systemd/system/ssh.service /etc/systemd/system/ssh.socket # the tree's masks
    in_ct bash -c 'ssh-keygen -A >/dev/null &&
        printf "%s\n" "ListenAddress 127.0.0.1" "KbdInteractiveAuthentication yes" "PasswordAuthentication no" \
            "AuthenticationMethods keyboard-interactive" "UsePAM yes" "AllowUsers tfdssh" > /etc/ssh/sshd_config.d/twofactord-test.conf &&
        sed -i "s/^@include common-auth\$/&\nauth required pam_twofactord.so/" /etc/pam.d/sshd &&
        useradd --create-home --shell /bin/sh tfdssh && echo "tfdssh:S3cret ssh pass" | chpasswd &&
        systemctl daemon-reload && systemctl start ssh.service'
    version=$(in_ct ssh -V 2>&1 | cut -d, -f1)
    if [[ $(in_ct systemctl is-active ssh.service) != active ]]; then
        not_ok "ssh.service starts ($version)" "$(in_ct systemctl status --no-pager ssh.service 2>&1 | tail -n 15)"
        return
    fi
    code=$(h code "${secret[tfdssh]}")
    out=$(in_ct expect -f /root/tfd/sshd-login.exp 22 tfdssh "S3cret ssh pass" "$code" 2>&1)
    if grep -q '^tfd-login-ok' <<< "$out" && grep -q 'password_prompts=1 code_prompts=1 exit=0' <<< "$out"; then
        ok "$version: ssh login with password and code through pam_twofactord.so"
    else
        not_ok "$version: ssh login with password and code through pam_twofactord.so" "$out"$'\n'"$(in_ct journalctl --no-pager -n 20 -u ssh.service)"
    fi
    out=$(in_ct expect -f /root/tfd/sshd-login.exp 22 tfdssh "S3cret ssh pass" "$code" 2>&1)
    if grep -q 'Permission denied' <<< "$out" && ! grep -q '^tfd-login-ok' <<< "$out"; then
        ok "$version: the same code again is refused"
    else
        not_ok "$version: the same code again is refused" "$out"
    fi
    out=$(in_ct journalctl --no-pager -u twofactord.service 2>&1 | grep 'cmd=VERIFY user=tfdssh ' | grep -o 'outcome=[^ ]* service=[^ ]*' | tr '\n' ' ')
    expect_eq "the daemon's audit: the sshd login accepted, then the replay" "outcome=OK:totp service=sshd outcome=NO:replayed service=sshd " "$out"
    # OpenSSH 9.8 (trixie) runs the session in sshd-session, a binary of its own.
    if [[ -x $work/root/usr/lib/openssh/sshd-session ]]; then
        echo "# $suite: $version has /usr/lib/openssh/sshd-session"
    fi
}

for s in "${suites[@]}"; do
    run_suite "$s"
done
suite=all
echo "# total: $(since "$total_start") s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
