#!/usr/bin/env bash
# The benchmarks of issue 8, in one command. Builds what it needs, starts daemons on temporary
# state directories (and always kills them at the end), enrols users with IMPORT, runs every
# scenario and writes the table.
#
#   bench/run.sh            full run (5 minutes on a quiet machine, 15-20 on a busy one): BENCHMARKS.md and bench/results.json
#   bench/run.sh --quick    smoke test (under 3 minutes): checks that every scenario ran and gave
#                           numbers, not that targets were met; writes bench/target/quick/
#   bench/run.sh --store postgresql
#                           the same against the PostgreSQL store: starts its own server from
#                           /usr/lib/postgresql/*/bin (initdb in the work directory, as the postgres
#                           user when root; fsync on, as in production), one database per daemon;
#                           writes bench/target/postgresql/ (or .../postgresql-quick/ with --quick)
#                           and leaves BENCHMARKS.md alone. Every scenario; scale builds its
#                           stores as an operator would: IMPORT into MapDB, store export, store
#                           import into PostgreSQL. A full run needs about 2 GB free under /tmp.
#                           The accepted-codes scenario also runs with the database as a fleet's
#                           daemons see it, on another host: through a proxy in the bench that
#                           holds each of the server's answers back, one pair of daemons per delay
#                           (--db-latency-us 0,250 by default: 0 is the proxy's own cost; up to
#                           three delays, e.g. --db-latency-us 0,250,1000; "" for none).
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
store=mapdb
expect_store=no
for a in "$@"; do
    if [[ $expect_store == yes ]]; then
        store=$a; expect_store=no; continue
    fi
    case $a in
        --quick) quick=(--quick); out_dir=$root/bench/target/quick; markdown=$out_dir/BENCHMARKS.md; json=$out_dir/results.json ;;
        --store) expect_store=yes ;;
        --store=*) store=${a#--store=} ;;
        *) args+=("$a") ;;
    esac
done
case $store in
    mapdb) ;;
    postgresql)
        out_dir=$root/bench/target/postgresql${quick:+-quick}
        markdown=$out_dir/BENCHMARKS.md; json=$out_dir/results.json ;;
    *) echo "run.sh: --store is mapdb or postgresql, not '$store'" >&2; exit 2 ;;
esac
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
# package, not install: each module's target/lib/ holds what its jar's Class-Path names, and
# nothing need go into ~/.m2 (which other checkouts of this machine share).
if stale; then
    step "building (mvn -DskipTests package)"
    mvn -B -q -o -DskipTests package 2>/dev/null || mvn -B -q -DskipTests package
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
# tfdt-RUN-*: the form of every name tests put on the host (scripts/host-snapshot).
pam_prefix=tfdt-${TFD_TEST_RUN:-b$$}-bench
: >"$pidfile"
pg_bin=""
cleanup() {
    if [[ -n $pg_bin && -f $work/pg/data/postmaster.pid ]]; then
        as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    # Every process the suite started, whatever happened to the suite itself.
    while read -r pid; do
        [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    done <"$pidfile"
    rm -f /etc/pam.d/"$pam_prefix"-* 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL runs as its own system user when we are root (it refuses root), else as us.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
store_args=()
if [[ $store == postgresql ]]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x $pg_bin/initdb ]] || { echo "run.sh: PostgreSQL is not installed (/usr/lib/postgresql/*/bin)" >&2; exit 1; }
    mkdir -p "$work/pg"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$work/pg" && chmod 0755 "$work"
    for _ in $(seq 100); do
        pg_port=$((20000 + RANDOM % 40000))
        (echo >/dev/tcp/127.0.0.1/$pg_port) 2>/dev/null || break
    done
    pg_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$pg_password" >"$work/pg.password"
    chmod 0600 "$work/pg.password"
    step "PostgreSQL from $pg_bin on 127.0.0.1:$pg_port (data in $work/pg)"
    as_pg "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C >/dev/null
    as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/postgres.log" -w -o \
        "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg -c max_connections=200" \
        start >/dev/null
    psql_pg() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$pg_port" -U postgres "$@"; }
    psql_pg -c "CREATE ROLE twofactord LOGIN PASSWORD '$pg_password'" postgres
    # p1, p1nogroup, ...: the accepted-codes pairs behind the proxy, one per --db-latency-us delay.
    for db in main nogroup small large p1 p1nogroup p2 p2nogroup p3 p3nogroup; do
        psql_pg -c "CREATE DATABASE bench_$db OWNER twofactord" postgres
    done
    store_args=(--postgres-url-prefix "jdbc:postgresql://127.0.0.1:$pg_port/" --postgres-user twofactord
        --postgres-password-file "$work/pg.password" --db-latency-us 0,250)
fi

daemon_opts=${BENCH_DAEMON_JAVA_OPTS:--Xms16m -Xmx128m -Xmn4m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
step "work directory $work; daemon JVM options: $daemon_opts"
BENCH_PIDFILE=$pidfile java -Xmx1g -XX:+UseParallelGC -jar "$bench_jar" suite "${quick[@]}" \
    --work "$work" --daemon-jar "$daemon_jar" --daemon-java-opts "$daemon_opts" \
    --out-dir "$out_dir" --markdown "$markdown" --json "$json" --pam-prefix "$pam_prefix" \
    "${shim_args[@]}" "${store_args[@]}" "${args[@]}"
