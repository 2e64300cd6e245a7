#!/bin/sh
# Lays out an installed twofactord under DESTDIR, as `make install` would:
#   /usr/share/twofactord/           the jar and its dependencies (lib/)
#   /usr/bin/twofactord              the launcher (packaging/twofactord.sh)
#   /lib/systemd/system/             twofactord.socket, twofactord.service
#   /usr/lib/sysusers.d/, /usr/lib/tmpfiles.d/   the user, groups and directories
#   /etc/twofactord/twofactord.conf  the commented default configuration
#   /usr/share/man/man8/twofactord.8.gz, bash completion (if the build made them), docs
#   /lib/<multiarch>/security/pam_twofactord.so  the PAM module, if it was built, and its
#   /usr/share/man/man8/pam_twofactord.8.gz
# Usage: packaging/install.sh DESTDIR    (after `mvn -B package`, which builds daemon/target;
#        DESTDIR=/ installs for real, but prefer the .deb: packaging/build-deb.sh)
# Prints "pam" on standard output when it installed the PAM module (build-deb.sh needs to know).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: packaging/install.sh DESTDIR}
dest=${dest%/}
target="$here/daemon/target"
[ -f "$target/twofactord.jar" ] || { echo "install.sh: $target/twofactord.jar is missing: run mvn -B package first" >&2; exit 1; }

install -d "$dest/usr/share/twofactord/lib" "$dest/usr/bin" "$dest/lib/systemd/system" \
    "$dest/usr/lib/sysusers.d" "$dest/usr/lib/tmpfiles.d" "$dest/etc/twofactord" \
    "$dest/usr/share/man/man8" "$dest/usr/share/bash-completion/completions" "$dest/usr/share/doc/twofactord"
install -m 0644 "$target/twofactord.jar" "$dest/usr/share/twofactord/"
# Exactly the jars of this build: a stale jar from an older build must not ride along.
rm -f "$dest"/usr/share/twofactord/lib/*.jar
install -m 0644 "$target"/lib/*.jar "$dest/usr/share/twofactord/lib/"
install -m 0755 "$here/packaging/twofactord.sh" "$dest/usr/bin/twofactord"
install -m 0644 "$here/systemd/twofactord.socket" "$here/systemd/twofactord.service" "$dest/lib/systemd/system/"
install -m 0644 "$here/systemd/twofactord.sysusers" "$dest/usr/lib/sysusers.d/twofactord.conf"
install -m 0644 "$here/systemd/twofactord.tmpfiles" "$dest/usr/lib/tmpfiles.d/twofactord.conf"
install -m 0644 "$here/systemd/twofactord.conf" "$dest/etc/twofactord/twofactord.conf"
for doc in "$here"/docs/*.md "$here/README.md"; do
    install -m 0644 "$doc" "$dest/usr/share/doc/twofactord/"
done

# The man page and the bash completion, when the build generated them from the command line
# (daemon/target/docs, made at package time); a build without them installs neither.
docs="$target/docs"
if [ -f "$docs/twofactord.8" ]; then
    gzip -9n < "$docs/twofactord.8" > "$dest/usr/share/man/man8/twofactord.8.gz"
    chmod 0644 "$dest/usr/share/man/man8/twofactord.8.gz"
else
    rmdir "$dest/usr/share/man/man8" "$dest/usr/share/man"
fi
if [ -f "$docs/twofactord.bash" ]; then
    # bash sources a completion, never runs it: the generated file's #! line goes.
    sed '1{/^#!/d}' "$docs/twofactord.bash" > "$dest/usr/share/bash-completion/completions/twofactord"
    chmod 0644 "$dest/usr/share/bash-completion/completions/twofactord"
else
    rmdir "$dest/usr/share/bash-completion/completions" "$dest/usr/share/bash-completion"
fi

# The PAM module is C and built by `make -C client-shim`; it may not exist yet.
pam=""
for candidate in "$here/client-shim/pam_twofactord.so" "$here/client-shim/build/pam_twofactord.so"; do
    if [ -f "$candidate" ]; then
        pam=$candidate
        break
    fi
done
if [ -n "$pam" ]; then
    multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
    install -d "$dest/lib/$multiarch/security"
    install -m 0644 "$pam" "$dest/lib/$multiarch/security/pam_twofactord.so"
    # Its manual, beside twofactord.8 (which names it in SEE ALSO).
    install -d "$dest/usr/share/man/man8"
    gzip -9n < "$here/client-shim/pam_twofactord.8" > "$dest/usr/share/man/man8/pam_twofactord.8.gz"
    chmod 0644 "$dest/usr/share/man/man8/pam_twofactord.8.gz"
    echo pam
fi
