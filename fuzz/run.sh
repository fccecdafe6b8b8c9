#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (20 when not
# given), and fails on the first crash or build failure. The corpus each
# run builds is kept under fuzz/corpus/ (not committed) so that later runs
# start from it.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_EACH="${1:-20}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
export RUSTC_BOOTSTRAP=1
for target in address_resolver webhook_signature workflow_definition; do
  echo "== fuzzing $target for $SECONDS_EACH s"
  status=0
  cargo fuzz run --sanitizer none "$target" -- \
    -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 >"$LOG" 2>&1 ||
    status=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$LOG" || true
  if [ "$status" != 0 ]; then
    tail -40 "$LOG"
    echo "fuzzing $target failed (exit $status); any crash input is in fuzz/artifacts/$target/"
    exit 1
  fi
done
