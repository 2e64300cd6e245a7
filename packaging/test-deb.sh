#!/usr/bin/env bash
# Builds the .deb and checks it as an administrator would meet it, on a host without systemd
# as PID 1 (as CI is): apt-get install; the user, groups, directories and modes; the units;
# `twofactord --help`; the daemon started by hand as user twofactord serving its socket with
# the configured mode and group, to root and to a member of the verifier group but not to
# others; apt-get remove keeping the configuration and the state; apt-get purge removing
# everything it installed.
# Needs root (it installs a package and adds a user); skipped without, except under CI=true.
# Usage: packaging/test-deb.sh    (after mvn -B install or verify; run-tests runs it)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
    if [[ ${CI:-} == true ]]; then
        echo "test-deb: CI runs as root: the package test must not be skipped" >&2
        exit 1
    fi
    echo "test-deb: skipped: needs root to install the package"
    exit 0
fi
if dpkg-query -W -f='${Status}' twofactord 2>/dev/null | grep -q 'ok installed\|config-files'; then
    if [[ ${CI:-} == true ]]; then
        apt-get -o DPkg::Lock::Timeout=300 purge -y -q twofactord >/dev/null
    else
        echo "test-deb: twofactord is installed here; this test installs and purges its own." >&2
        echo "test-deb: run 'apt-get purge twofactord' first (that deletes /var/lib/twofactord)." >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Wait for a dpkg lock held by another apt-get (another test run, unattended-upgrades).
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }

passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
expect_eq() { # expect_eq DESCRIPTION WANT GOT
    if [[ $3 == "$2" ]]; then ok "$1"; else not_ok "$1: '$3', not '$2'"; fi
}
check() { # check DESCRIPTION COMMAND...
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; echo "$out" | sed 's/^/    /'; fi
}
mode_owner() { stat -c '%a %U:%G' "$1" 2>&1; }

work=$(mktemp -d)
chmod 0755 "$work"
daemon_pid=""
web_user=tfd-deb-web
# The package leaves its user and groups behind on purge; the test takes away those it made.
accounts_before=$(getent passwd twofactord; getent group twofactord twofactord-admin)
cleanup() {
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null
    getent passwd "$web_user" >/dev/null && userdel "$web_user"
    if [[ -z $accounts_before ]] && ! dpkg-query -W -f='${Status}' twofactord 2>/dev/null | grep -q 'ok installed'; then
        getent passwd twofactord >/dev/null && userdel twofactord
        getent group twofactord-admin >/dev/null && groupdel twofactord-admin
        getent group twofactord >/dev/null && groupdel twofactord
    fi
    rm -rf "$work"
}
trap cleanup EXIT

deb=$("$here/packaging/build-deb.sh" "$work") || { echo "test-deb: build-deb.sh failed" >&2; exit 1; }
echo "# built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
if ! out=$(apt_get install -y -q "$deb" 2>&1); then
    echo "$out"
    not_ok "apt-get install ./$(basename "$deb")"
    echo "test-deb: $passed passed, $failed failed"
    exit 1
fi
ok "apt-get install ./$(basename "$deb")"
# Its files, not the directories it shares (dpkg lists /lib, a symlink to usr/lib on Debian 12).
installed_files=$(dpkg -L twofactord | while read -r f; do [[ -f $f && ! -L $f ]] && echo "$f"; done)

# Accounts and directories.
IFS=: read -r _ _ uid _ _ home shell <<< "$(getent passwd twofactord)"
expect_eq "user twofactord: a system account without login" "system /var/lib/twofactord /usr/sbin/nologin" \
    "$([[ -n $uid && $uid -lt 1000 ]] && echo system) $home $shell"
expect_eq "twofactord's primary group is twofactord (the verifier group)" twofactord "$(id -gn twofactord 2>&1)"
check "group twofactord-admin exists" getent group twofactord-admin
expect_eq "/var/lib/twofactord" "700 twofactord:twofactord" "$(mode_owner /var/lib/twofactord)"
expect_eq "/run/twofactord" "755 twofactord:twofactord" "$(mode_owner /run/twofactord)"
expect_eq "/etc/twofactord/twofactord.conf" "644 root:root" "$(mode_owner /etc/twofactord/twofactord.conf)"
check "the configuration is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}' twofactord | grep -q '^ /etc/twofactord/twofactord.conf '"
expect_eq "/usr/bin/twofactord" "755 root:root" "$(mode_owner /usr/bin/twofactord)"
expect_eq "the jar and its libraries" "yes" \
    "$([[ -f /usr/share/twofactord/twofactord.jar && -f /usr/share/twofactord/lib/junixsocket-common-2.11.1.jar ]] && echo yes)"
files=(/lib/systemd/system/twofactord.socket /lib/systemd/system/twofactord.service
    /usr/lib/sysusers.d/twofactord.conf /usr/lib/tmpfiles.d/twofactord.conf /usr/share/doc/twofactord/operations.md)
if [[ -f $here/daemon/target/docs/twofactord.8 ]]; then
    files+=(/usr/share/man/man8/twofactord.8.gz /usr/share/bash-completion/completions/twofactord)
else
    echo "# no man page or completion in this build (daemon/target/docs)"
fi
for f in "${files[@]}"; do
    expect_eq "$f" "644 root:root" "$(mode_owner "$f")"
done
pam=$(dpkg -L twofactord | grep '/security/pam_twofactord.so$' || true)
if [[ -n $pam ]]; then
    expect_eq "the PAM module $pam" "644 root:root" "$(mode_owner "$pam")"
else
    echo "# no PAM module in this package (client-shim/ built none)"
fi
expect_eq "the socket is enabled (sockets.target.wants)" /lib/systemd/system/twofactord.socket \
    "$(readlink /etc/systemd/system/sockets.target.wants/twofactord.socket)"
# The installed units, with /usr/bin/twofactord really there; any warning fails.
out=$(systemd-analyze verify --man=no /lib/systemd/system/twofactord.socket /lib/systemd/system/twofactord.service 2>&1)
expect_eq "systemd-analyze verify on the installed units" "" "$out"

help=$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- twofactord --help 2>&1)
expect_eq "twofactord --help runs for any user and lists serve" yes \
    "$(grep -q '^  serve ' <<< "$help" && echo yes || echo "$help")"
expect_eq "twofactord --version" "twofactord $(dpkg-query -W -f='${Version}' twofactord | sed 's/~snapshot$/-SNAPSHOT/')" \
    "$(twofactord --version 2>&1)"

# The daemon by hand as twofactord (no systemd here), with a configuration that narrows the
# socket to 0660 and the group twofactord. The directory is set-group-ID root, so the socket
# would be group root unless the daemon set the group itself.
sockdir="$work/run"
install -d -m 2755 -o twofactord -g root "$sockdir"
socket="$sockdir/twofactord.sock"
printf 'socket_mode = 0660\nsocket_group = twofactord\n' > "$work/twofactord.conf"
chmod 0644 "$work/twofactord.conf"
setpriv --reuid=twofactord --regid=twofactord --init-groups -- \
    twofactord serve --config "$work/twofactord.conf" --socket "$socket" > "$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 120); do
    [[ $(echo PING | socat -t 5 - "UNIX-CONNECT:$socket" 2>/dev/null) == OK ]] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.25
done
expect_eq "the daemon, run as twofactord, answers root" OK "$(echo PING | socat -t 5 - "UNIX-CONNECT:$socket" 2>&1)"
expect_eq "its socket has the configured mode and group" "660 twofactord:twofactord" "$(mode_owner "$socket")"
expect_eq "the daemon runs as twofactord" twofactord "$(ps -o user= -p "$daemon_pid" 2>&1)"
expect_eq "it made its master key, for itself alone" "600 twofactord:twofactord" \
    "$(mode_owner /var/lib/twofactord/master.key)"
out=$(echo PING | setpriv --reuid=nobody --regid=nogroup --clear-groups -- socat -t 5 - "UNIX-CONNECT:$socket" 2>&1)
expect_eq "a user outside the group cannot connect to the 0660 socket" yes \
    "$(grep -q 'Permission denied' <<< "$out" && echo yes || echo "$out")"
# docs/operations.md: a login service gets the verifier role by joining the group twofactord.
useradd -M -s /usr/sbin/nologin "$web_user"
usermod -aG twofactord "$web_user"
out=$(echo "CHECK root" | setpriv --reuid="$web_user" --regid="$web_user" --init-groups -- \
    socat -t 5 - "UNIX-CONNECT:$socket" 2>&1)
expect_eq "a member of the group twofactord may CHECK" 'OK {"required":false,"reason":"policy-disabled"}' "$out"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
expect_eq "SIGTERM stops it with status 0" 0 "$?"
daemon_pid=""
expect_eq "and it removed its socket" gone "$([[ -e $socket ]] && echo there || echo gone)"
if ((failed > 0)); then
    sed 's/^/    daemon: /' "$work/daemon.log"
fi

# remove keeps the configuration and the state; purge takes them too.
check "apt-get remove" apt_get remove -y -q twofactord
expect_eq "after remove: the program is gone" gone "$([[ -e /usr/bin/twofactord ]] && echo there || echo gone)"
expect_eq "after remove: the configuration and the master key stay" "yes yes" \
    "$([[ -f /etc/twofactord/twofactord.conf ]] && echo yes) $([[ -f /var/lib/twofactord/master.key ]] && echo yes)"
check "apt-get purge" apt_get purge -y -q twofactord
left=$(for f in $installed_files /etc/twofactord /var/lib/twofactord /run/twofactord; do
    [[ -e $f || -L $f ]] && echo "$f"
done)
left+=$(find /etc/systemd /var/lib/systemd -name '*twofactord*' 2>/dev/null)
expect_eq "after purge: nothing it installed or made is left" "" "$left"
expect_eq "after purge: the user and groups stay (Debian leaves them)" yes \
    "$(getent passwd twofactord >/dev/null && getent group twofactord-admin >/dev/null && echo yes)"
expect_eq "after purge: dpkg knows no twofactord" "" \
    "$(dpkg-query -W -f='${Status}' twofactord 2>/dev/null | grep -v 'not-installed')"

echo "test-deb: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
