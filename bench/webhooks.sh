#!/usr/bin/env bash
# Two figures of the webhook path, each beside its floor from the same run:
#
#  1. end-to-end order.paid events per second with N `scrm-worker`
#     processes: from the first POST until the last event's work order is
#     in the database (the floor is the figure the issue sets: 1,000/s);
#  2. accepted webhooks per second: signed order.paid POSTs answered 202 by
#     one `scrm serve --no-worker` with the workers stopped, against
#     pgbench inserting the same single inbox rows into the same table, and
#     against redis-benchmark's XADD on a throwaway stream of the same Redis
#     database, as many clients (the Redis floor).
#
# It also samples the resident memory of the workers and of the API process
# while they work, and reads where the CPU went in each phase from the
# processes' counters in /proc.
#
# It uses its own PostgreSQL database (`scrm_bench`, dropped and created
# afresh), database 5 of the local Redis and its own stream, so it never
# touches data the tests or a developer use. Run from anywhere:
#
#   bench/webhooks.sh                     # 20,000 events, 32 connections, 2 workers
#   BENCH_EVENTS=50000 BENCH_WORKERS=4 bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/5}"
REDIS_STREAM=scrm-bench:jobs
EVENTS="${BENCH_EVENTS:-20000}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WORKERS="${BENCH_WORKERS:-2}"
WARMUP="${BENCH_WARMUP:-5000}"
PORT="${BENCH_PORT:-18080}"
source bench/common.sh
# The load sends far above a channel's default allowance on purpose.
export WEBHOOK_RATE_LIMIT=0
redis() { redis-cli -u "$REDIS_URL" "$@"; }

say "building (release)"
cargo build --release --workspace --quiet
cargo build --release --example webhook_load --quiet

fresh_database
start_api
API_PID=${PIDS[-1]}

say "prices and a channel"
ADMIN=$(login admin bench-admin-pass)
set_up_prices "$ADMIN"
set_up_channel "$ADMIN"
TENANT_ID=$(sql "SELECT tenant_id FROM webhook_channels WHERE id = '$CHANNEL_ID'")

load() {
  ./target/release/examples/webhook_load --url "$ORIGIN" --channel "$CHANNEL_ID" \
    --secret "$SECRET" --connections "$CONNECTIONS" "$@" | tee -a "$LOGS/load.txt" |
    grep '^RESULT'
}

say "1. end-to-end order.paid per second, $WORKERS worker(s)"
# The workers share 60 connections, at most 20 each (their default), so
# that with the API's 20 they stay under PostgreSQL's 100 however many run.
WORKER_POOL=$(( 60 / WORKERS < 20 ? 60 / WORKERS : 20 ))
for _ in $(seq "$WORKERS"); do
  DATABASE_POOL_SIZE=$WORKER_POOL start_worker
  WORKER_PIDS+=" $WORKER_PID"
done
PENDING_SQL="SELECT count(*) FROM webhook_events WHERE status IN ('accepted', 'failed')"
# A warm-up: a database created a moment ago has no planner statistics
# until autovacuum's first round, a minute later, and plans made for empty
# tables scan them whole as they grow. A running deployment has both data
# and statistics, so the figure is taken after some of each.
load --requests "$WARMUP" >/dev/null
for _ in $(seq 600); do
  [ "$(sql "$PENDING_SQL")" = 0 ] && break
  sleep 0.5
done
sql "ANALYZE"
BEFORE=$(sql "SELECT count(*) FROM work_orders WHERE channel_id IS NOT NULL")
WANT=$(( BEFORE + EVENTS ))
PEAK_RSS=0
API_PEAK_RSS=0
sample_rss() {
  local kib
  # shellcheck disable=SC2086 # a list of PIDs
  kib=$(rss_kib $WORKER_PIDS)
  if [ "$kib" -gt "$PEAK_RSS" ]; then PEAK_RSS=$kib; fi
  kib=$(rss_kib "$API_PID")
  if [ "$kib" -gt "$API_PEAK_RSS" ]; then API_PEAK_RSS=$kib; fi
}
# Runs load ARGS... in the background, its user and system CPU seconds
# written to OUT.time and its output to OUT, and sets LOADER: timed_load OUT
# ARGS...
timed_load() {
  local out="$1"
  shift
  ( TIMEFORMAT='%U %S'; { time load "$@" >"$out" 2>>"$LOGS/load.err"; } 2>"$out.time" ) &
  LOADER=$!
}
loader_seconds() { awk '{ print $1 + $2 }' "$1.time"; }
CPU_BEFORE=$(cpu_counters "$API_PID" "$WORKER_PIDS")
timed_load "$LOGS/e2e-load.txt" --requests "$EVENTS"
DONE_MS=""
while :; do
  sample_rss
  COUNT=$(sql "SELECT count(*) FROM work_orders WHERE channel_id IS NOT NULL")
  if [ "$COUNT" -ge "$WANT" ]; then
    DONE_MS=$(date +%s%3N)
    break
  fi
  if ! kill -0 "$LOADER" 2>/dev/null && [ "$(sql "$PENDING_SQL")" = 0 ]; then
    # Every event is settled; count once more, since the last ones may
    # have committed after the count above.
    COUNT=$(sql "SELECT count(*) FROM work_orders WHERE channel_id IS NOT NULL")
    [ "$COUNT" -ge "$WANT" ] && DONE_MS=$(date +%s%3N)
    break
  fi
  sleep 0.2
done
CPU_AFTER=$(cpu_counters "$API_PID" "$WORKER_PIDS")
wait "$LOADER"
E2E=$(grep '^RESULT' "$LOGS/e2e-load.txt")
echo "$E2E"
FIRST_MS=$(field first_post_unix_ms "$E2E")
if [ -z "$DONE_MS" ]; then
  echo "only $((COUNT - BEFORE)) of $EVENTS work orders appeared; see $LOGS"
  exit 1
fi
python3 -c "import sys; n, a, b = map(int, sys.argv[1:]); s = (b - a) / 1000; print(f'{n} work orders in {s:.2f} s from the first POST: {n / s:.0f} events/s end to end (needs >= 1000)')" \
  "$EVENTS" "$FIRST_MS" "$DONE_MS"
echo "dead or failed events: $(sql "SELECT count(*) FROM webhook_events WHERE status IN ('dead', 'failed')")"
cpu_phase_report "0 $CPU_BEFORE" "$(loader_seconds "$LOGS/e2e-load.txt") $CPU_AFTER" \
  "$EVENTS" event webhook_load,api,workers
echo "peak worker RSS while working: $((PEAK_RSS / 1024)) MiB (needs < 50)"
echo "peak API RSS meanwhile: $((API_PEAK_RSS / 1024)) MiB"
WORKER_PEAK_RSS=$PEAK_RSS
E2E_API_PEAK_RSS=$API_PEAK_RSS
E2E_RATE=$(python3 -c "import sys; n, a, b = map(int, sys.argv[1:])
print(f'{n * 1000 / (b - a):.0f}')" "$EVENTS" "$FIRST_MS" "$DONE_MS")
for pid in $WORKER_PIDS; do
  awk -v pid="$pid" '/^VmHWM:/ { printf "worker %s VmHWM (lifetime peak): %.1f MiB\n", pid, $2 / 1024 }' \
    "/proc/$pid/status"
done

# Stop the workers: the next figure is the API alone.
for pid in $WORKER_PIDS; do kill -TERM "$pid"; done
for pid in $WORKER_PIDS; do wait "$pid" 2>/dev/null || true; done
# Their PostgreSQL backends end a moment after them, and a backend that
# ends takes its CPU seconds out of the counters read below.
sleep 1

say "2. accepted webhooks per second (no workers running)"
API_PEAK_RSS=0
WORKER_PIDS=""
CPU_BEFORE=$(cpu_counters "$API_PID")
timed_load "$LOGS/accepted.txt" --requests "$EVENTS" --warmup 1000
while kill -0 "$LOADER" 2>/dev/null; do
  sample_rss
  sleep 0.2
done
wait "$LOADER"
CPU_AFTER=$(cpu_counters "$API_PID")
ACCEPTED=$(cat "$LOGS/accepted.txt")
echo "$ACCEPTED"
# The warm-up's 1,000 requests are inside the counters' span.
cpu_phase_report "0 $CPU_BEFORE" "$(loader_seconds "$LOGS/accepted.txt") $CPU_AFTER" \
  "$(( EVENTS + 1000 ))" webhook webhook_load,api
echo "peak API RSS while accepting: $((API_PEAK_RSS / 1024)) MiB"

# The floor: the same single-row insert into the same table, with the same
# conflict clause and one transaction per row, from as many clients.
cat >"$LOGS/insert.sql" <<SQL
\\set n random(1, 1000000000)
INSERT INTO webhook_events (id, tenant_id, channel_id, webhook_id, event_type, body, status,
  attempts, received_at, next_attempt_at)
VALUES (gen_random_uuid(), '$TENANT_ID', '$CHANNEL_ID', 'pgbench-' || :client_id || '-' || :n,
  'order.paid', '{"type":"order.paid","data":{"order_no":"PGBENCH","paid_at":"2026-12-04T08:00:00Z","customer":{"name":"张三","phone":"13912345678","address":"深圳南山科技园科苑路15号"},"items":[{"service_item":"AC-INSTALL","quantity":2,"sale_price_fen":100000}]}}',
  'bench', 0, now(), now())
ON CONFLICT (channel_id, webhook_id) DO NOTHING;
SQL
PER_CLIENT=$(( EVENTS / CONNECTIONS ))
pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -t "$PER_CLIENT" -f "$LOGS/insert.sql" \
  "$DATABASE_URL" >"$LOGS/pgbench.txt" 2>&1
PG_TPS=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$LOGS/pgbench.txt" | head -1)
sql "DELETE FROM webhook_events WHERE status = 'bench'"
RPS=$(field rps "$ACCEPTED")
echo "pgbench, same insert, -M prepared, $CONNECTIONS clients: $PG_TPS tps"
RATIO=$(python3 -c "import sys; a, f = map(float, sys.argv[1:]); print(f'{a / f:.2f}')" \
  "$RPS" "$PG_TPS")
echo "ratio accepted/pgbench: $RATIO (needs >= 0.50)"

say "the Redis floor: XADD on a throwaway stream, $CONNECTIONS clients"
# What one Redis manages for the command that queues a job, each client
# sending one at a time, as the API's queueing does per batch.
redis-benchmark -u "$REDIS_URL" -n 100000 -c "$CONNECTIONS" -P 1 --csv \
  XADD scrm-bench:floor-stream MAXLEN 1000 '*' f v >"$LOGS/redis-benchmark.csv"
redis DEL scrm-bench:floor-stream >/dev/null
XADD_RPS=$(awk -F'","' 'NR == 2 { print $2 }' "$LOGS/redis-benchmark.csv")
echo "XADD: $XADD_RPS per s (redis-benchmark); accepted: $RPS per s"

say "result"
echo "RESULT e2e_eps=$E2E_RATE workers=$WORKERS accepted_rps=$RPS" \
  "accepted_p99_ms=$(field p99_ms "$ACCEPTED") pgbench_tps=$PG_TPS ratio=$RATIO" \
  "xadd_rps=$XADD_RPS worker_rss_mib=$((WORKER_PEAK_RSS / 1024))" \
  "api_rss_e2e_mib=$((E2E_API_PEAK_RSS / 1024)) api_rss_accepted_mib=$((API_PEAK_RSS / 1024))"

