#!/usr/bin/env bash
# The soak run: the fault test (tests/api/fault.rs) at its long size.
#
# 10,000 paid orders, one in ten delivered again (half under the same
# webhook-id, half under a new one), go through two API processes and
# three `scrm-worker` processes while workers are SIGKILLed 10 times, the
# second API process once, the test's Redis is restarted empty once and
# flushed once, and every connection to the test's database is dropped
# three times. The test then checks that every order has exactly one work
# order, that nothing is left in the inbox or the stream and nothing is
# dead, that no earnings line is posted twice and the ledger balances, and
# that the backlog drained within 10 minutes of the last fault.
#
# It uses a fresh database on the machine's PostgreSQL, as every test does,
# and a `redis-server` of its own on a free port (the machine's Redis is
# never restarted or flushed). Run from anywhere; each figure can be
# changed:
#
#   bench/soak.sh
#   SCRM_SOAK_EVENTS=20000 SCRM_SOAK_WORKER_KILLS=20 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export SCRM_TEST_POSTGRES_URL="${SCRM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export SCRM_SOAK_EVENTS="${SCRM_SOAK_EVENTS:-10000}"
# Deliveries started a second (0: as fast as they go). At 150 a second the
# load lasts about 75 s, so the faults come several seconds apart.
export SCRM_SOAK_RATE="${SCRM_SOAK_RATE:-150}"
export SCRM_SOAK_WORKER_KILLS="${SCRM_SOAK_WORKER_KILLS:-10}"
export SCRM_SOAK_API_KILLS="${SCRM_SOAK_API_KILLS:-1}"
export SCRM_SOAK_REDIS_RESTARTS="${SCRM_SOAK_REDIS_RESTARTS:-1}"
export SCRM_SOAK_REDIS_FLUSHES="${SCRM_SOAK_REDIS_FLUSHES:-1}"
export SCRM_SOAK_PG_DROPS="${SCRM_SOAK_PG_DROPS:-3}"
export SCRM_SOAK_DRAIN_LIMIT_SECS="${SCRM_SOAK_DRAIN_LIMIT_SECS:-600}"
TEST=fault::paid_orders_survive_killed_processes_and_lost_connections_exactly_once

say() { printf '\n== %s\n' "$*"; }
OUTPUT="$(mktemp)"
trap 'rm -f "$OUTPUT"' EXIT

say "building (release)"
# The test starts the scrm-worker binary that sits beside it.
cargo build --release --locked --quiet -p scrm-worker
cargo test --release --locked --quiet --test api --no-run

say "soak run"
started=$(date +%s)
set +e
cargo test --release --locked --quiet --test api "$TEST" -- --exact --nocapture 2>&1 |
  tee "$OUTPUT" | grep --line-buffered '^fault test:' | sed -u 's/^fault test: /  /'
status=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - started))
if grep -q '^SKIPPED fault test' "$OUTPUT" || ! grep -q '^test result: ok. 1 passed' "$OUTPUT"; then
  status=1
  say "the run failed"
  grep -v '^fault test:' "$OUTPUT" | tail -n 40
fi

# The faults counted as they struck, from the test's own lines.
struck() { grep -c "^fault test: .*$1" "$OUTPUT" || true; }
say "summary"
grep '^fault test: [0-9]* paid orders' "$OUTPUT" | sed 's/^fault test: /events: /'
printf 'faults applied: %s worker SIGKILLs under load and %s during the refunds, ' \
  "$(struck '% sent: SIGKILLed worker')" "$(struck 'during the refunds: SIGKILLed worker')"
printf '%s API SIGKILLs, %s Redis restarts, %s Redis flushes, ' \
  "$(struck 'SIGKILLed the API')" "$(struck 'killed Redis, started')" "$(struck 'flushed Redis')"
printf '%s PostgreSQL connection drops\n' "$(struck 'PostgreSQL connections')"
grep -E '^fault test: (load sent|.*sent again|backlog drained)' "$OUTPUT" | sed 's/^fault test: //'
printf 'checks passed: %s\n' "$(struck 'check passed')"
printf 'whole run: %d s, %s\n' "$elapsed" "$([ "$status" = 0 ] && echo passed || echo FAILED)"
exit "$status"
