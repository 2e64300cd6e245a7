#!/usr/bin/env bash
# Builds the .deb and checks it as an administrator would meet it, on a host without systemd
# as PID 1 (as CI is): apt-get install; the user, groups, directories and modes; the units;
# `twofactord --help`; the daemon started by hand as user twofactord serving its socket with
# the configured mode and group, to root and to a member of the verifier group but not to
# others; apt-get remove keeping the configuration and the state; apt-get purge removing
# everything it installed.
# All of it twice: once as a host with systemd has it (the postinst makes the accounts and
# directories with systemd-sysusers and systemd-tmpfiles), once as a host without systemd has
# it (adduser and install -d): for that pass the test hides both programs in a mount namespace
# of its own, which ends with it, so the host is never without them.
# Needs root (it installs a package and adds a user); skipped without, except under CI=true.
# Usage: packaging/test-deb.sh    (after mvn -B install or verify; run-tests runs it)
#        packaging/test-deb.sh --with-systemd-sysusers | --without-systemd-sysusers   (one pass)
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
# Accounts the test makes are tfdt-RUN-* (scripts/host-snapshot); RUN from run-tests, or ours.
export TFD_TEST_RUN=${TFD_TEST_RUN:-d$$}

pass=${1:-}
case $pass in
    "")
        rc=0
        if command -v systemd-sysusers >/dev/null; then
            "$0" --with-systemd-sysusers || rc=1
        elif [[ ${CI:-} == true ]]; then
            echo "test-deb: CI must run the pass with systemd-sysusers: install the package systemd" >&2
            rc=1
        else
            echo "# test-deb: no systemd-sysusers here (package systemd): only the pass without it"
        fi
        "$0" --without-systemd-sysusers || rc=1
        exit $rc
        ;;
    --with-systemd-sysusers)
        command -v systemd-sysusers >/dev/null ||
            { echo "test-deb: $pass: no systemd-sysusers here (package systemd)" >&2; exit 1; }
        ;;
    --without-systemd-sysusers)
        if [[ ${2:-} != --in-namespace ]]; then
            exec unshare --mount --propagation private -- "$0" "$pass" --in-namespace
        fi
        # An empty file that is not executable over each program: `command -v` in the postinst
        # (dash) no longer finds it, as on a host without systemd. Only this namespace sees it.
        absent=$(mktemp)
        chmod 0644 "$absent"
        for program in systemd-sysusers systemd-tmpfiles; do
            if path=$(command -v "$program"); then
                mount --bind "$absent" "$(readlink -f "$path")" ||
                    { echo "test-deb: cannot hide $path" >&2; rm -f "$absent"; exit 1; }
            fi
        done
        rm -f "$absent"
        # As the postinst's /bin/sh sees it (bash's own `command -v` still names such a file).
        if sh -c 'command -v systemd-sysusers || command -v systemd-tmpfiles || [ -x "$(command -v systemd-tmpfiles)" ]'; then
            echo "test-deb: /bin/sh still finds systemd-sysusers or systemd-tmpfiles" >&2
            exit 1
        fi
        ;;
    *)
        echo "usage: packaging/test-deb.sh [--with-systemd-sysusers|--without-systemd-sysusers]" >&2
        exit 2
        ;;
esac
echo "# test-deb $pass"

# One package test on the machine at a time: another run's install or purge of the same
# package would pull it from under this one (scripts/host-snapshot waits on this lock too).
exec 9>>/run/lock/twofactord-test-deb.lock
flock -w 900 9 || { echo "test-deb: another package test held the lock for 15 minutes" >&2; exit 1; }
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
web_user=tfdt-$TFD_TEST_RUN-web
# The package leaves its user and groups behind on purge; the test takes away those it made,
# each on its own: an account that was here before stays.
user_before=$(getent passwd twofactord)
group_before=$(getent group twofactord)
admin_before=$(getent group twofactord-admin)
if [[ -n $user_before$group_before$admin_before ]]; then
    # Then the package takes them as they are: a twofactord group of an ordinary user's range
    # (left by an earlier test, say) gives systemd-sysusers' user twofactord a uid of that range.
    echo "# accounts of the package's names that were here before the test (kept afterwards):"
    for line in "$user_before" "$group_before" "$admin_before"; do
        [[ -n $line ]] && echo "#   $line"
    done
fi
cleanup() {
    [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null
    getent passwd "$web_user" >/dev/null && userdel "$web_user"
    getent group "$web_user" >/dev/null && groupdel "$web_user"
    if ! dpkg-query -W -f='${Status}' twofactord 2>/dev/null | grep -q 'ok installed'; then
        [[ -z $user_before ]] && getent passwd twofactord >/dev/null && userdel twofactord
        [[ -z $admin_before ]] && getent group twofactord-admin >/dev/null && groupdel twofactord-admin
        if [[ -z $group_before ]]; then
            getent group twofactord >/dev/null && groupdel twofactord
        elif ! getent group twofactord >/dev/null; then
            # userdel takes the user's own group with it (USERGROUPS_ENAB): put it back as it was.
            IFS=: read -r _ _ gid members <<< "$group_before"
            groupadd -g "$gid" twofactord && [[ -n $members ]] && gpasswd -q -M "$members" twofactord
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT

deb=$("$here/packaging/build-deb.sh" "$work") || { echo "test-deb: build-deb.sh failed" >&2; exit 1; }
echo "# built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
if ! out=$(apt_get install -y -q "$deb" 2>&1); then
    echo "$out"
    not_ok "apt-get install ./$(basename "$deb")"
    echo "test-deb: $passed passed, $failed failed ($pass)"
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
    /usr/lib/sysusers.d/twofactord.conf /usr/lib/tmpfiles.d/twofactord.conf /usr/share/doc/twofactord/operations.md
    /usr/share/doc/twofactord/copyright /usr/share/doc/twofactord/changelog.gz)
if [[ -f $here/daemon/target/docs/twofactord.8 ]]; then
    files+=(/usr/share/man/man8/twofactord.8.gz /usr/share/bash-completion/completions/twofactord)
else
    echo "# no man page or completion in this build (daemon/target/docs)"
fi
for f in "${files[@]}"; do
    expect_eq "$f" "644 root:root" "$(mode_owner "$f")"
done
# dpkg --verify checks every file against the package's md5sums (and fails without them).
check "dpkg --verify twofactord: md5sums for every file, all matching" \
    bash -c '[[ -s /var/lib/dpkg/info/twofactord.md5sums ]] && dpkg --verify twofactord'
pam=$(dpkg -L twofactord | grep '/security/pam_twofactord.so$' || true)
if [[ -n $pam ]]; then
    expect_eq "the PAM module $pam" "644 root:root" "$(mode_owner "$pam")"
    expect_eq /usr/share/man/man8/pam_twofactord.8.gz "644 root:root" \
        "$(mode_owner /usr/share/man/man8/pam_twofactord.8.gz)"
else
    echo "# no PAM module in this package (client-shim/ built none)"
fi
# The installed manuals render without a warning from man or groff (twofactord.8 names
# pam_twofactord(8) in SEE ALSO).
for page in /usr/share/man/man8/twofactord.8.gz /usr/share/man/man8/pam_twofactord.8.gz; do
    [[ -f $page ]] || continue
    expect_eq "man --warnings -l $page: no warnings" "" \
        "$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)"
done
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
useradd -M -U -s /usr/sbin/nologin "$web_user"
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

echo "test-deb: $passed passed, $failed failed ($pass)"
[[ $failed -eq 0 ]]
