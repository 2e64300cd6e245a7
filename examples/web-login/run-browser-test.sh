#!/usr/bin/env bash
# End-to-end test of the web-login example in a real browser: starts a dev-mode daemon (with an
# owners file: two resellers) and the web app on a free port of 127.0.0.1, runs the JUnit test LoginBrowserIT (Selenium WebDriver from
# Maven Central driving Debian's headless chromium through Debian's chromedriver), then stops both.
# Screenshots of every page go to examples/web-login/target/screenshots/, the two servers' logs to
# examples/web-login/target/. Then checks that no key, code or backup code the test saw is in
# either log. Builds the jars first if they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"

# zbarimg reads the QR code on the setup page back, to check it holds the key the page shows.
scripts/ensure-packages java=openjdk-17-jdk-headless mvn=maven chromium=chromium chromedriver=chromium-driver zbarimg=zbar-tools
if [[ ! -f daemon/target/twofactord.jar || ! -f examples/web-login/target/web-login.jar ]]; then
    mvn -B -q -DskipTests package -pl daemon,examples/web-login -am
fi

target="$here/target"
shots="$target/screenshots"
rm -rf "$shots"
mkdir -p "$shots"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# A short lockout so that the test can go on after it, and a window of 3 steps so that it can use
# several fresh codes without waiting 30 s for each (the daemon accepts each step once).
# The owners file (cPanel's /etc/trueuserowners format) makes reseller1 the owner of alice and
# bob, and reseller2 of carol: the panel shows each its Manage Users. The daemon reads it only if
# it belongs to its own user (root; in dev mode the running uid) and nobody else may write it.
cat > "$work/twofactord.conf" <<EOF
lockout_s = 2
window = 3
owners_file = $work/owners
EOF
cat > "$work/owners" <<'EOF'
alice: reseller1
bob: reseller1
carol: reseller2
reseller1: root
reseller2: root
EOF
chmod 0644 "$work/owners"

# One random password for the demo users of this run.
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
for user in root alice bob carol reseller1 reseller2; do
    printf '%s\n' "$password" | java -jar examples/web-login/target/web-login.jar passwd "$work/passwords" "$user" >/dev/null
done

java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx64m -jar daemon/target/twofactord.jar serve --dev \
    --state-dir "$work/state" --socket "$work/twofactord.sock" --config "$work/twofactord.conf" \
    >"$target/daemon.log" 2>&1 &
pids+=($!)
java -XX:+UseSerialGC -Xmx128m -jar examples/web-login/target/web-login.jar serve \
    --socket "$work/twofactord.sock" --passwords "$work/passwords" --port 0 --port-file "$work/port" \
    --admin root >"$target/web-login.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 600); do
    [[ -S "$work/twofactord.sock" && -s "$work/port" ]] && break
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "a server exited at start:" >&2; cat "$target"/*.log >&2; exit 1; }
    done
    sleep 0.1
done
[[ -S "$work/twofactord.sock" && -s "$work/port" ]] || { echo "the servers did not start" >&2; cat "$target"/*.log >&2; exit 1; }
base="http://127.0.0.1:$(cat "$work/port")"
echo "web-login on $base, daemon on $work/twofactord.sock" >&2

status=0
printf '%s\n' "$password" >"$work/secrets"
# surefire leaves *IT out of mvn verify; -Dtest names it, and -am builds protocol (which has no
# such test) from this tree rather than take one from ~/.m2.
BASE_URL="$base" SCREENSHOT_DIR="$shots" PASSWORD="$password" TOTP_WINDOW=3 SECRETS_FILE="$work/secrets" \
    timeout 300 mvn -B -q test -pl examples/web-login -am -Dtest=LoginBrowserIT -Dsurefire.failIfNoSpecifiedTests=false \
    || status=$?
if [[ $status -ne 0 ]]; then
    echo "browser test failed ($status); logs: $target/daemon.log $target/web-login.log; screenshots: $shots" >&2
    exit $status
fi
[[ -s "$work/secrets" ]] || { echo "the browser test noted no secrets" >&2; exit 1; }
if grep -F -w -f "$work/secrets" "$target/daemon.log" "$target/web-login.log" >&2; then
    echo "a key, code or backup code the browser test saw is in a log (above)" >&2
    exit 1
fi
echo "logs checked: none of the $(sort -u "$work/secrets" | wc -l) keys, codes and backup codes the test saw is in them"
