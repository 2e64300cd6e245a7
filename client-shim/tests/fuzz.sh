#!/bin/bash
# tests/fuzz.sh [SECONDS]: `make fuzz` runs this from client-shim/ after building tests/fuzz_reply.
#
# Runs the libFuzzer harness tests/fuzz_reply (tests/fuzz_reply.c: the reply reader, the reply
# parser and the JSON reader of pam_twofactord.c, under ASan and UBSan) for SECONDS (default 60)
# on a copy of tests/fuzz-corpus/ in a temporary directory, so the committed corpus never grows.
# Every seed is replayed first. A crash, a sanitizer report, a broken invariant or a hang is a
# finding: it is saved under tests/fuzz-findings/ (not committed) and the run fails. Once fixed,
# copy the finding into tests/fuzz-corpus/ under a telling name: it is then replayed on every run.
# Prints libFuzzer's final line: executions (#N), edges covered (cov:) and features (ft:).
# TFD_FUZZ_KEEP_CORPUS=DIR copies the grown corpus to DIR (outside the tree) for a later look.
set -u
cd "$(dirname "$0")/.." || exit 2
seconds=${1:-60}
case $seconds in
'' | *[!0-9]* | 0) echo "fuzz.sh: FUZZ_SECONDS must be a positive number of seconds, not \"$seconds\"" >&2; exit 2 ;;
esac
[ -x tests/fuzz_reply ] || { echo "fuzz.sh: build tests/fuzz_reply first (make fuzz)" >&2; exit 2; }

work=$(mktemp -d /tmp/twofactord-fuzz.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" tests/fuzz-findings
cp tests/fuzz-corpus/* "$work/corpus/"
findings_before=$(find tests/fuzz-findings -type f | wc -l)
touch "$work/start"

# -max_len: beyond the module's 1024-byte line, so over-long replies are tried too.
# -timeout: an input that takes a second is a hang (a normal one takes microseconds).
tests/fuzz_reply -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=tests/fuzz-findings/ "$work/corpus" >"$work/log" 2>&1
rc=$?

done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -n 1)
findings_after=$(find tests/fuzz-findings -type f | wc -l)
if [ "$rc" -ne 0 ] || [ -z "$done_line" ] || [ "$findings_after" -ne "$findings_before" ]; then
    tail -n 60 "$work/log" >&2
    echo "fuzz.sh: FAILED (exit $rc); the input that failed is in tests/fuzz-findings/:" >&2
    find tests/fuzz-findings -type f -newer "$work/start" -printf '  %p\n' >&2
    echo "  replay it with: tests/fuzz_reply FILE" >&2
    exit 1
fi
if [ -n "${TFD_FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$TFD_FUZZ_KEEP_CORPUS" && cp "$work/corpus"/* "$TFD_FUZZ_KEEP_CORPUS/"
fi
seeds=$(ls tests/fuzz-corpus | wc -l)
echo "reply fuzz ($seconds s, $seeds seeds): $done_line"
