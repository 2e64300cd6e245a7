#!/usr/bin/env bash
# Prints the path of a Debian root file system for packaging/test-systemd.sh, building it
# with debootstrap when it is missing or was built from another recipe.
# Usage: packaging/nspawn-rootfs.sh SUITE     (bookworm or trixie; needs root)
#
# The tree lives in /var/tmp/twofactord-nspawn/SUITE (TWOFACTORD_NSPAWN_CACHE moves it):
# /var/tmp survives reboots and CI keeps it between runs. Its recipe (suite, mirror,
# package list, this script's build steps) is hashed into SUITE/stamp; another hash means
# a rebuild. It is built in SUITE.new and renamed into place only when complete, so an
# interrupted build never leaves a half tree that looks cached.
#
# Every package the test needs is installed here, because the container has no network:
# apt-get installs the twofactord .deb inside from its dependencies already present.
# The mirror is the host's Debian mirror (from /etc/apt/sources.list*), or
# TWOFACTORD_NSPAWN_MIRROR.
set -euo pipefail
suite=${1:?usage: nspawn-rootfs.sh SUITE}
cache=${TWOFACTORD_NSPAWN_CACHE:-/var/tmp/twofactord-nspawn}

case $suite in
# OpenJDK 17 on Debian 12; Debian 13 has 21 (the jar is Java 17 bytecode, 21 runs it).
bookworm) java=openjdk-17-jre-headless ;;
trixie) java=openjdk-21-jre-headless ;;
*) echo "nspawn-rootfs.sh: unknown suite $suite (bookworm or trixie)" >&2; exit 2 ;;
esac
# systemd as PID 1 and its bus; the package's dependencies (a Java runtime, adduser, PAM);
# what the test drives the daemon with (socat, oathtool, pamtester, ps); a real sshd and
# ssh, and expect to type the password and the code.
packages="systemd systemd-sysv dbus libpam-modules adduser $java socat oathtool pamtester procps
    openssh-server openssh-client expect"

mirror=${TWOFACTORD_NSPAWN_MIRROR:-}
if [[ -z $mirror ]]; then
    # The first Debian archive (not -security) of the host's sources, deb822 or one-line.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v '^ *#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ' || true)
    mirror=${mirror:-http://deb.debian.org/debian}
fi

recipe="suite=$suite mirror=$mirror packages=$(echo $packages) steps=$(sed -n '/^# --- build/,$p' "$0" | sha256sum)"
hash=$(sha256sum <<< "$recipe" | cut -c1-16)
root=$cache/$suite
if [[ -f $root/stamp && $(cat "$root/stamp") == "$hash" && -x $root/rootfs/lib/systemd/systemd ]]; then
    echo "$root/rootfs"
    exit 0
fi

# --- build (a change below this line changes the hash, so cached trees are rebuilt)
mkdir -p "$cache"
chmod 0700 "$cache"
new=$root.new
rm -rf "$new"
mkdir -p "$new"
echo "nspawn-rootfs.sh: building $suite from $mirror in $new (a few minutes; cached afterwards)" >&2
start=$SECONDS
# minbase: apt, dpkg and the essentials; --include resolves the dependencies of the rest.
if ! debootstrap --variant=minbase --include="$(echo $packages | tr ' ' ,)" \
        "$suite" "$new/rootfs" "$mirror" > "$new/debootstrap.log" 2>&1; then
    tail -n 30 "$new/debootstrap.log" >&2
    echo "nspawn-rootfs.sh: debootstrap $suite failed (log: $new/debootstrap.log)" >&2
    exit 1
fi
r=$new/rootfs
# No network in the container: no apt lists, no timers that would reach for it.
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb
echo twofactord-test > "$r/etc/hostname"
# The container's console is the test's log: no getty on it, and sshd starts only when the
# test starts its own.
for unit in console-getty.service getty@.service ssh.service ssh.socket apt-daily.timer \
    apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$r/etc/systemd/system/$unit"
done
# Host keys are made by the test (debootstrap's are shared by every copy of this tree).
rm -f "$r"/etc/ssh/ssh_host_*
echo "$recipe" > "$new/recipe"
echo "$hash" > "$new/stamp"
rm -rf "$root"
mv "$new" "$root"
echo "nspawn-rootfs.sh: $suite built in $((SECONDS - start)) s" >&2
echo "$root/rootfs"
