#!/usr/bin/env bash
# Checks the systemd units and snippets in systemd/ without a running systemd:
#  - systemd-analyze verify passes on twofactord.socket and twofactord.service;
#  - the sandbox's exposure score (systemd-analyze security --offline) is printed and at most 1.5;
#  - the service and /usr/bin/twofactord run the JVM with the same flags;
#  - sysusers.d makes the user and both groups, tmpfiles.d the directories with their modes.
# Needs systemd-analyze, systemd-sysusers and systemd-tmpfiles (Debian package systemd).
# Usage: packaging/test-units.sh    (run-tests runs it after mvn -B verify)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
max_exposure=1.5
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds, else shows its output
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; echo "$out" | sed 's/^/    /'; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify checks that ExecStart's program exists: point it at the launcher in this checkout.
mkdir -p "$work/units"
cp "$here/systemd/twofactord.socket" "$work/units/"
sed "s|^ExecStart=/usr/bin/twofactord |ExecStart=$here/packaging/twofactord.sh |" \
    "$here/systemd/twofactord.service" > "$work/units/twofactord.service"
grep -q "^ExecStart=$here/packaging/twofactord.sh serve$" "$work/units/twofactord.service" ||
    not_ok "ExecStart is /usr/bin/twofactord serve"
# verify exits 0 on an unknown key (a typo'd hardening option) and only warns: any output fails.
if out=$(systemd-analyze verify --man=no "$work/units/twofactord.socket" "$work/units/twofactord.service" 2>&1) &&
    [[ -z $out ]]; then
    ok "systemd-analyze verify twofactord.socket twofactord.service: no error, no warning"
else
    not_ok "systemd-analyze verify twofactord.socket twofactord.service"
    echo "$out" | sed 's/^/    /'
fi

security=$(systemd-analyze security --offline=yes "$here/systemd/twofactord.service" 2>&1)
exposure=$(echo "$security" | sed -n 's/.*Overall exposure level for twofactord.service: \([0-9.]*\).*/\1/p')
if [[ -z $exposure ]]; then
    not_ok "systemd-analyze security printed no exposure level"
    echo "$security" | sed 's/^/    /'
else
    echo "# systemd-analyze security --offline=yes systemd/twofactord.service: exposure $exposure (at most $max_exposure)"
    echo "$security" | grep '✗' | sed 's/^/#   /'
    if awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
        ok "exposure $exposure is at most $max_exposure"
    else
        not_ok "exposure $exposure is above $max_exposure"
    fi
fi
for forbidden in MemoryDenyWriteExecute PrivateUsers; do
    if grep -q "^$forbidden=" "$here/systemd/twofactord.service"; then
        not_ok "$forbidden is not set (see the comment in the unit)"
    else
        ok "$forbidden is not set"
    fi
done

unit_flags=$(sed -n 's/^Environment="TWOFACTORD_JAVA_OPTS=\(.*\)"$/\1/p' "$here/systemd/twofactord.service")
launcher_flags=$(sed -n 's/.*\${TWOFACTORD_JAVA_OPTS:-\(.*\)} \\$/\1/p' "$here/packaging/twofactord.sh")
if [[ -n $unit_flags && $unit_flags == "$launcher_flags" ]]; then
    ok "the service and the launcher use the same JVM flags"
else
    not_ok "JVM flags differ: service '$unit_flags', launcher '$launcher_flags'"
fi

# The snippets applied to an empty root: the accounts and directories they make.
root="$work/root"
mkdir -p "$root/etc"
check "systemd-sysusers accepts the sysusers.d snippet" \
    systemd-sysusers --root="$root" "$here/systemd/twofactord.sysusers"
user=$(grep '^twofactord:' "$root/etc/passwd" || true)
IFS=: read -r _ _ uid gid _ home shell <<< "$user"
if [[ -n $user && $home == /var/lib/twofactord && $shell == /usr/sbin/nologin ]] &&
    grep -q "^twofactord:x:$gid:" "$root/etc/group" && grep -q '^twofactord-admin:' "$root/etc/group"; then
    ok "user twofactord (group twofactord, no login) and group twofactord-admin"
else
    not_ok "sysusers made: $(cat "$root/etc/passwd" "$root/etc/group" | tr '\n' ' ')"
fi
check "systemd-tmpfiles accepts the tmpfiles.d snippet" \
    systemd-tmpfiles --root="$root" --create "$here/systemd/twofactord.tmpfiles"
for expect in "var/lib/twofactord 700" "run/twofactord 755"; do
    dir=${expect% *}
    mode=${expect#* }
    got=$(stat -c '%a %u:%g' "$root/$dir" 2>&1)
    if [[ $(id -u) -ne 0 ]]; then
        want="$mode" got=${got%% *} # only root can hand the directory to twofactord
    else
        want="$mode $uid:$gid"
    fi
    if [[ $got == "$want" ]]; then ok "/$dir is $want"; else not_ok "/$dir is $got, not $want"; fi
done

echo "test-units: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
