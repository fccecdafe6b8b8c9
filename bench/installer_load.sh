#!/usr/bin/env bash
# Mixed installer traffic at a fixed rate: order details, order lists, the
# earnings summary and moves on orders (40 / 30 / 20 / 10 by default), from
# 200 installers, 500 requests a second for 10 minutes, against one
# `scrm serve --no-worker` and one `scrm-worker`, as in production. The
# targets are p99 under 100 ms and under 0.1 % of requests failing, at the
# full rate.
#
# The load is open-loop (examples/installer_load.rs): each request is sent
# at its due time whatever the earlier ones are doing, and its latency runs
# from that due time, so that queueing shows. While it runs, the script
# samples the resident memory of the API and the worker, and reads the CPU
# time of every process before and after.
#
# The floor, in the same run: examples/bare_http answering a real order
# detail, read by examples/read_load over 16 connections as fast as it
# goes. That is what the machine's HTTP stack alone gives, no database.
#
# Orders: one order is made through the API and assigned (the node where an
# installer's moves start: accept, arrive, complete), and another is walked
# through to completion, so that its earnings are posted. SQL clones both,
# with every row that holds them, for each installer: enough open orders
# that the moves never run out, and a history for the lists, the details
# and the summary.
#
# It uses its own PostgreSQL database (`scrm_bench_load`, dropped and
# created afresh), database 10 of the local Redis and its own stream. Run
# from anywhere:
#
#   bench/installer_load.sh                           # 500 requests/s for 600 s
#   BENCH_RATE=300 BENCH_SECONDS=20 bench/installer_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench_load
RATE="${BENCH_RATE:-500}"
# Not SECONDS: bash keeps its own clock under that name.
DURATION="${BENCH_SECONDS:-600}"
WARMUP="${BENCH_WARMUP_SECONDS:-10}"
INSTALLERS="${BENCH_INSTALLERS:-200}"
# Completed orders per installer, with posted earnings.
HISTORY="${BENCH_HISTORY:-30}"
FLOOR_CONNECTIONS="${BENCH_FLOOR_CONNECTIONS:-16}"
FLOOR_SECONDS="${BENCH_FLOOR_SECONDS:-20}"
PORT="${BENCH_PORT:-18084}"
BARE_PORT="${BENCH_BARE_PORT:-18085}"
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/10}"
REDIS_STREAM=scrm-bench-load:jobs
source bench/common.sh

# Open orders per installer: each takes three moves, and a tenth of the
# requests are moves, spread evenly at random over the installers; half as
# many again covers the spread with room to spare.
OPEN=$(python3 -c "import math; print(math.ceil(1.5 * 0.1 * $RATE * ($DURATION + $WARMUP) \
  / $INSTALLERS / 3) + 5)")

say "building (release)"
# The whole workspace's binaries at once, as the other scripts build them:
# building the worker's package alone would resolve its dependencies'
# features differently and build them all again.
cargo build --release --workspace --bins --quiet
cargo build --release --example installer_load --example read_load --example bare_http --quiet

fresh_database
start_api
API_PID=${PIDS[-1]}
start_worker
ADMIN=$(login admin bench-admin-pass)
set_up_prices "$ADMIN"
TEMPLATE_INSTALLER=$(post "$ADMIN" /admin/users '{"username":"fitter","password":"bench-fitter-pass",
  "role":"installer","name":"李师傅","cooperation_mode":"employee"}' | json id)
FITTER=$(login fitter bench-fitter-pass)

say "two orders through the API: one assigned, one completed"
new_order() {
  post "$ADMIN" /work-orders '{"workflow":"install",
    "customer":{"name":"张三","phone":"13912345678","address":"广东省深圳市南山区科技园科苑路15号"},
    "lines":[{"service_item":"AC-INSTALL","quantity":2,"sale_price_fen":100000}]}' | json id
}
act() { # $1 = token, $2 = order, $3 = action, $4 = body
  post "$1" "/work-orders/$2/actions/$3" "$4" >/dev/null
}
OPEN_TEMPLATE=$(new_order)
act "$ADMIN" "$OPEN_TEMPLATE" assign '{"assignee_id":"'"$TEMPLATE_INSTALLER"'"}'
DONE_TEMPLATE=$(new_order)
act "$ADMIN" "$DONE_TEMPLATE" assign '{"assignee_id":"'"$TEMPLATE_INSTALLER"'"}'
for action in accept arrive complete; do act "$FITTER" "$DONE_TEMPLATE" "$action" '{}'; done
curl -sS -f "$API/work-orders/$DONE_TEMPLATE" -H "authorization: Bearer $FITTER" \
  >"$LOGS/detail.json"
python3 - "$LOGS/detail.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
print(f"completed order {o['number']}: node {o['node']['key']}, "
      f"earnings {o['earnings']['status']} {o['earnings']['total_fen']} fen, "
      f"timeline {[e['action'] for e in o['timeline']]}")
PY

say "$INSTALLERS installers, each with $OPEN assigned and $HISTORY completed orders, in SQL"
# Installers are copies of the one made through the API, password hash
# included, so that each can sign in.
sql "CREATE TABLE bench_installers (n int PRIMARY KEY, id uuid NOT NULL UNIQUE)"
sql "INSERT INTO bench_installers SELECT g, gen_random_uuid() FROM generate_series(1, $INSTALLERS) g"
sql "INSERT INTO users
     SELECT r.* FROM users u CROSS JOIN bench_installers i
     CROSS JOIN LATERAL jsonb_populate_record(u, jsonb_build_object('id', i.id,
       'username', 'fitter' || i.n, 'name', '师傅' || i.n)) r
     WHERE u.id = '$TEMPLATE_INSTALLER'"
# Each clone gets an id, a number in the service's shape (unique by
# construction), and its installer.
sql "CREATE TABLE bench_orders (n serial PRIMARY KEY, id uuid NOT NULL UNIQUE,
       installer_id uuid NOT NULL, template uuid NOT NULL)"
sql "INSERT INTO bench_orders (id, installer_id, template)
     SELECT gen_random_uuid(), i.id, t.template
     FROM bench_installers i
     CROSS JOIN LATERAL (SELECT '$OPEN_TEMPLATE'::uuid AS template FROM generate_series(1, $OPEN)
                         UNION ALL
                         SELECT '$DONE_TEMPLATE'::uuid FROM generate_series(1, $HISTORY)) t"
sql "INSERT INTO work_orders
     SELECT r.* FROM work_orders o JOIN bench_orders b ON b.template = o.id
     CROSS JOIN LATERAL jsonb_populate_record(o, jsonb_build_object('id', b.id,
       'assignee_id', b.installer_id,
       'number', 'WO-' || to_char(o.created_at, 'YYYYMMDD') || '-' || lpad(to_hex(b.n), 12, '0'))) r"
# Every table with a work_order_id column gets the templates' rows again for
# each clone. jsonb_populate_record keeps every column but the ones named,
# so columns added later are cloned too; any column that held the template
# installer's id (the ledger's and the quote's installer, a move's actor, a
# notification's recipient) holds the clone's installer instead.
TABLES=$(sql "SELECT table_name FROM information_schema.columns
  WHERE table_schema = 'public' AND column_name = 'work_order_id' ORDER BY table_name")
for table in $TABLES; do
  sql "INSERT INTO $table
       SELECT r.* FROM $table c JOIN bench_orders b ON b.template = c.work_order_id
       CROSS JOIN LATERAL jsonb_populate_record(c,
         jsonb_build_object('id', gen_random_uuid(), 'work_order_id', b.id)
         || (SELECT coalesce(jsonb_object_agg(key, b.installer_id), '{}')
             FROM jsonb_each_text(to_jsonb(c)) WHERE value = '$TEMPLATE_INSTALLER')) r"
  echo "$table: $(sql "SELECT count(*) FROM $table") rows"
done
sql "VACUUM ANALYZE"
echo "work orders: $(sql "SELECT count(*) FROM work_orders")"

say "the plan: each installer signs in and gets its orders"
sql "SELECT 'fitter' || i.n,
       string_agg(b.id::text, ',') FILTER (WHERE b.template = '$OPEN_TEMPLATE'),
       string_agg(b.id::text, ',') FILTER (WHERE b.template = '$DONE_TEMPLATE')
     FROM bench_installers i JOIN bench_orders b ON b.installer_id = i.id
     GROUP BY i.n ORDER BY i.n" >"$LOGS/orders.txt"
# Signed in last: an access token lasts 15 minutes.
python3 - "$API" "$LOGS/orders.txt" "$LOGS/plan.txt" <<'PY'
import json, sys, urllib.request
api, orders, plan = sys.argv[1:]
with open(orders) as rows, open(plan, "w") as out:
    for row in rows:
        username, open_ids, done_ids = row.rstrip("\n").split("|")
        body = json.dumps({"tenant": "bench", "username": username,
                           "password": "bench-fitter-pass"}).encode()
        request = urllib.request.Request(f"{api}/auth/login", body,
                                         {"content-type": "application/json"})
        token = json.load(urllib.request.urlopen(request))["access_token"]
        out.write(f"{token} {open_ids or '-'} {done_ids or '-'}\n")
PY
echo "$(wc -l <"$LOGS/plan.txt") installers signed in"

say "checks: a clone reads as its installer's, and the summary has money"
read -r TOKEN OPEN_IDS DONE_IDS <"$LOGS/plan.txt"
get_as() { curl -sS -f "$API$2" -H "authorization: Bearer $1"; }
get_as "$TOKEN" "/work-orders/${OPEN_IDS%%,*}" >"$LOGS/open-clone.json"
get_as "$TOKEN" "/work-orders/${DONE_IDS%%,*}" >"$LOGS/done-clone.json"
get_as "$TOKEN" /me/earnings/summary >"$LOGS/summary.json"
python3 - "$LOGS/open-clone.json" "$LOGS/done-clone.json" "$LOGS/summary.json" <<'PY'
import json, sys
open_order, done, summary = (json.load(open(p)) for p in sys.argv[1:])
if open_order["node"]["key"] != "assigned" or done["earnings"]["status"] != "posted":
    sys.exit(f"the clones are not as made: {open_order['node']}, {done['earnings']['status']}")
if summary["month_fen"] <= 0:
    sys.exit(f"the summary shows no money: {summary}")
print(f"open clone at {open_order['node']['key']} with actions "
      f"{[a['key'] for a in open_order['actions']]}; completed clone {done['earnings']['status']}; "
      f"summary {summary}")
PY

say "1. the mix: $RATE requests/s for $DURATION s after $WARMUP s, $INSTALLERS installers"
# Resident memory of the API and the worker, sampled twice a second; the
# peak of each is read afterwards.
sample_rss() {
  while :; do
    for pid in "$API_PID" "$WORKER_PID"; do
      awk -v pid="$pid" '/^VmRSS:/ { print pid, $2 }' "/proc/$pid/status" 2>/dev/null || true
    done
    sleep 0.5
  done >"$LOGS/rss.txt"
}
sample_rss &
PIDS+=($!)
CPU_BEFORE=$(cpu_counters "$API_PID" "$WORKER_PID")
/usr/bin/time -o "$LOGS/load-cpu.txt" -f '%U %S' \
  ./target/release/examples/installer_load --url "$ORIGIN" --plan "$LOGS/plan.txt" \
  --rate "$RATE" --seconds "$DURATION" --warmup-seconds "$WARMUP" >"$LOGS/load.txt"
CPU_AFTER=$(cpu_counters "$API_PID" "$WORKER_PID")
cat "$LOGS/load.txt"
LOAD=$(grep '^RESULT' "$LOGS/load.txt")
peak_mib() { # the peak VmRSS of PID in the samples, in MiB
  awk -v pid="$1" '$1 == pid && $2 > peak { peak = $2 } END { printf "%.1f", peak / 1024 }' \
    "$LOGS/rss.txt"
}
API_RSS=$(peak_mib "$API_PID")
WORKER_RSS=$(peak_mib "$WORKER_PID")
echo "resident memory, peak: API $API_RSS MiB, worker $WORKER_RSS MiB"
# The counters cover the warm-up too, sent at the same rate.
SENT=$(( $(field requests "$LOAD") * (DURATION + WARMUP) / DURATION ))
cpu_phase_report "0 $CPU_BEFORE" "$(awk '{ print $1 + $2 }' "$LOGS/load-cpu.txt") $CPU_AFTER" \
  "$SENT" request installer_load,api,worker
echo "nodes after the run: $(sql "SELECT string_agg(node_key || ' ' || n, ', ') FROM
  (SELECT node_key, count(*) AS n FROM work_orders GROUP BY node_key ORDER BY node_key) s")"
echo "jobs left in the stream: $(redis-cli -u "$REDIS_URL" XLEN "$REDIS_STREAM")"
echo "lines logged (warnings and errors): API $(wc -l <"$LOGS/api.log"), \
worker $(wc -l <"$LOGS/worker.log")"

say "2. the floor: bare_http answering a real detail, $FLOOR_CONNECTIONS connections, $FLOOR_SECONDS s"
start_bare_http "$BARE_PORT" "$LOGS/detail.json"
./target/release/examples/read_load --url "http://127.0.0.1:$BARE_PORT" --token "$TOKEN" \
  --path "/api/v1/work-orders/${DONE_IDS%%,*}" --connections "$FLOOR_CONNECTIONS" \
  --seconds "$FLOOR_SECONDS" --warmup-seconds 2 >"$LOGS/floor.txt"
cat "$LOGS/floor.txt"
FLOOR=$(grep '^RESULT' "$LOGS/floor.txt")

say "result"
RPS=$(field rps "$LOAD")
P99=$(field p99_ms "$LOAD")
ERROR_PCT=$(field error_pct "$LOAD")
FLOOR_RPS=$(field rps "$FLOOR")
python3 - "$RATE" "$RPS" "$P99" "$ERROR_PCT" "$FLOOR_RPS" "$(field p99_ms "$FLOOR")" <<'PY'
import sys
rate, rps, p99, error_pct, floor_rps, floor_p99 = map(float, sys.argv[1:])
met = lambda ok: "met" if ok else "MISSED"
print(f"mix: {rps:.1f} requests/s of {rate:.0f} due, p99 {p99:.2f} ms "
      f"(target < 100: {met(p99 < 100)}), errors {error_pct:.4f} % "
      f"(target < 0.1: {met(error_pct < 0.1)})")
print(f"floor: {floor_rps:.1f} requests/s from bare_http, closed loop, p99 {floor_p99:.2f} ms")
print(f"ratio mix rate/floor rate: {rps / floor_rps:.3f}; p99/target: {p99 / 100:.2f}")
PY
echo "RESULT rate=$RATE seconds=$DURATION rps=$RPS p50_ms=$(field p50_ms "$LOAD") p99_ms=$P99 \
max_ms=$(field max_ms "$LOAD") error_pct=$ERROR_PCT api_rss_mib=$API_RSS \
worker_rss_mib=$WORKER_RSS floor_rps=$FLOOR_RPS floor_p99_ms=$(field p99_ms "$FLOOR")"
