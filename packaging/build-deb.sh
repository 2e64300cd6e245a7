#!/bin/sh
# Builds twofactord_<version>_<arch>.deb from this build (mvn -B package first) with dpkg-deb:
# the layout of packaging/install.sh, the maintainer scripts, copyright and changelog of
# packaging/debian/, /etc/twofactord/twofactord.conf as a conffile, md5sums, and the PAM module
# stripped as dh_strip would. Architecture "all" unless the PAM module (C, built by
# `make -C client-shim`) was there to include: then the build machine's. packaging/README has
# what lintian says of the result.
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
# The changelog's newest entry is this version, as dpkg-buildpackage would insist.
changelog="$here/packaging/debian/changelog"
changelog_version=$(sed -n '1s/^twofactord (\([^)]*\)).*/\1/p' "$changelog")
if [ "$changelog_version" != "$version" ]; then
    echo "build-deb.sh: packaging/debian/changelog starts with $changelog_version, not $version: add an entry" >&2
    exit 1
fi
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$changelog" | head -n 1)
# A test build under another version gets an entry of its own on top of the changelog.
jar_version=$version
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
    # dh_strip's options for a shared library (no -dbgsym package: the symbols are just dropped).
    find "$stage/lib" -name pam_twofactord.so -exec \
        strip --remove-section=.comment --remove-section=.note --strip-unneeded {} +
fi

doc="$stage/usr/share/doc/twofactord"
install -m 0644 "$here/packaging/debian/copyright" "$doc/copyright"
if [ "$version" != "$jar_version" ]; then
    { printf 'twofactord (%s) unstable; urgency=medium\n\n  * Test build of %s under another version (TWOFACTORD_DEB_VERSION).\n\n -- %s  %s\n\n' \
        "$version" "$jar_version" "$maintainer" "$(date -R)"
        cat "$changelog"; } | gzip -9n > "$doc/changelog.gz"
else
    gzip -9n < "$changelog" > "$doc/changelog.gz"
fi
chmod 0644 "$doc/changelog.gz"
# Every bundled jar has its license in the copyright file: a new dependency needs a paragraph.
patterns=$(grep -o 'usr/share/twofactord/lib/[^ ]*' "$here/packaging/debian/copyright")
for jar in "$stage"/usr/share/twofactord/lib/*.jar; do
    name=usr/share/twofactord/lib/${jar##*/}
    named=""
    for pattern in $patterns; do
        # shellcheck disable=SC2254 # the pattern is meant to match
        case $name in $pattern) named=yes ;; esac
    done
    if [ -z "$named" ]; then
        echo "build-deb.sh: packaging/debian/copyright names no license for /$name" >&2
        exit 1
    fi
done

install -d -m 0755 "$stage/DEBIAN"
install -m 0755 "$here/packaging/debian/postinst" "$here/packaging/debian/prerm" "$here/packaging/debian/postrm" \
    "$stage/DEBIAN/"
echo /etc/twofactord/twofactord.conf > "$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/conffiles"
# As dh_md5sums: every file but the conffiles (dpkg keeps their sums itself).
(cd "$stage" && find . -type f ! -path './DEBIAN/*' ! -path ./etc/twofactord/twofactord.conf -printf '%P\n' |
    LC_ALL=C sort | xargs -d '\n' md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: twofactord
Version: $version
Architecture: $arch
Maintainer: $maintainer
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
