#!/bin/sh
# Builds twofactord_<version>_<arch>.deb from this build (mvn -B package first) with dpkg-deb:
# the layout of packaging/install.sh, the maintainer scripts of packaging/debian/, and
# /etc/twofactord/twofactord.conf as a conffile. Architecture "all" unless the PAM module
# (C, built by `make -C client-shim`) was there to include: then the build machine's.
# Usage: packaging/build-deb.sh [OUTDIR]   (default: target/); prints the path of the .deb.
# TWOFACTORD_DEB_VERSION sets the package version instead of the jar's (packaging/test-systemd.sh
# builds a second, higher version of the same build to test an upgrade).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/target}
mkdir -p "$out"
out=$(cd "$out" && pwd)

jar="$here/daemon/target/twofactord.jar"
[ -f "$jar" ] || { echo "build-deb.sh: $jar is missing: run mvn -B package first" >&2; exit 1; }
# The jar's own version (0.1.0-SNAPSHOT); "~" sorts a snapshot before its release.
version=$(unzip -p "$jar" META-INF/MANIFEST.MF | sed -n 's/^Implementation-Version: *//p' | tr -d '\r' |
    sed 's/-SNAPSHOT$/~snapshot/')
[ -n "$version" ] || { echo "build-deb.sh: no Implementation-Version in $jar" >&2; exit 1; }
version=${TWOFACTORD_DEB_VERSION:-$version}

# The PAM module, once client-shim/ exists: built here so that the package always carries it.
if [ -f "$here/client-shim/Makefile" ]; then
    make -C "$here/client-shim" >&2
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
arch=all
depends="default-jre-headless (>= 2:1.17) | java17-runtime-headless, adduser"
if [ "$("$here/packaging/install.sh" "$stage")" = pam ]; then
    arch=$(dpkg --print-architecture)
    depends="$depends, libc6, libpam0g"
fi

install -d -m 0755 "$stage/DEBIAN"
install -m 0755 "$here/packaging/debian/postinst" "$here/packaging/debian/prerm" "$here/packaging/debian/postrm" \
    "$stage/DEBIAN/"
echo /etc/twofactord/twofactord.conf > "$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: twofactord
Version: $version
Architecture: $arch
Maintainer: twofactord developers <twofactord@example.org>
Installed-Size: $installed_size
Depends: $depends
Section: admin
Priority: optional
Description: two-factor authentication (TOTP) daemon for Linux servers
 twofactord keeps the TOTP secrets of a server's users and checks their codes
 for sshd (through its PAM module), web logins and other services, over a Unix
 socket. Who may ask what comes from the kernel's peer credentials: root and
 the group twofactord-admin administer, the group twofactord verifies.
 .
 It runs as its own user, sandboxed, started on demand by twofactord.socket.
CONTROL
chmod 0644 "$stage/DEBIAN/control"

deb="$out/twofactord_${version}_${arch}.deb"
# gzip: the jars are compressed already, and xz would spend 20 s more to save 6%.
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"
