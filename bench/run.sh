#!/usr/bin/env bash
# The benchmarks of issue 8, in one command. Builds what it needs, starts daemons on temporary
# state directories (and always kills them at the end), enrols users with IMPORT, runs every
# scenario and writes the table.
#
#   bench/run.sh            full run (about 15 minutes): BENCHMARKS.md and bench/results.json
#   bench/run.sh --quick    smoke test (under 3 minutes): checks that every scenario ran and gave
#                           numbers, not that targets were met; writes bench/target/quick/
#   extra arguments go to the suite, e.g. --only floors,flood
#
# Needs root for the PAM rows (service files in /etc/pam.d, removed at the end) and the packages
# pamtester, libpam-google-authenticator and libpam-oath. The daemon runs with the JVM options of
# the launcher and the systemd unit unless BENCH_DAEMON_JAVA_OPTS says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=()
out_dir=$root
markdown=$root/BENCHMARKS.md
json=$root/bench/results.json
args=()
for a in "$@"; do
    case $a in
        --quick) quick=(--quick); out_dir=$root/bench/target/quick; markdown=$out_dir/BENCHMARKS.md; json=$out_dir/results.json ;;
        *) args+=("$a") ;;
    esac
done
mkdir -p "$out_dir"

step() { printf '[bench] %s\n' "$*"; }

# Build only what is missing or older than its sources (CI has just run mvn verify).
daemon_jar=$root/daemon/target/twofactord.jar
bench_jar=$root/bench/target/twofactord-bench.jar
stale() {
    [[ ! -f $daemon_jar || ! -f $bench_jar ]] && return 0
    [[ -n $(find protocol/src daemon/src/main pom.xml protocol/pom.xml daemon/pom.xml \
        -newer "$daemon_jar" -type f -print -quit) ]] && return 0
    [[ -n $(find protocol/src bench/src bench/pom.xml -newer "$bench_jar" -type f -print -quit) ]] && return 0
    return 1
}
if stale; then
    step "building (mvn -DskipTests install)"
    mvn -B -q -o -DskipTests install 2>/dev/null || mvn -B -q -DskipTests install
fi

# The PAM module, when its sources are here (client-shim/ comes with the PAM work).
shim_args=()
if [[ -f client-shim/Makefile ]]; then
    step "building client-shim (make -C client-shim)"
    if make -s -C client-shim >/dev/null; then
        shim_args=(--pam-twofactord "$root/client-shim/pam_twofactord.so")
    else
        step "make -C client-shim failed: the pam_twofactord row is skipped (not built)"
    fi
else
    step "client-shim/Makefile not found: the pam_twofactord row is skipped (not built)"
fi

work=$(mktemp -d /tmp/twofactord-bench.XXXXXX)
pidfile=$work/pids
pam_prefix=twofactord-bench-$$
: >"$pidfile"
cleanup() {
    # Every process the suite started, whatever happened to the suite itself.
    while read -r pid; do
        [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    done <"$pidfile"
    rm -f /etc/pam.d/"$pam_prefix"-* 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

daemon_opts=${BENCH_DAEMON_JAVA_OPTS:--Xms16m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
step "work directory $work; daemon JVM options: $daemon_opts"
BENCH_PIDFILE=$pidfile java -Xmx1g -XX:+UseParallelGC -jar "$bench_jar" suite "${quick[@]}" \
    --work "$work" --daemon-jar "$daemon_jar" --daemon-java-opts "$daemon_opts" \
    --out-dir "$out_dir" --markdown "$markdown" --json "$json" --pam-prefix "$pam_prefix" \
    "${shim_args[@]}" "${args[@]}"
