#!/usr/bin/env bash
# The installer's order detail, GET /api/v1/work-orders/{id} as the
# assigned installer, with 100,000 orders in the database, beside its floor
# from the same run: pgbench making the same reads for one order
# (bench/order_detail.pgbench) from as many clients. The targets are p99
# under 20 ms and a request rate of at least half pgbench's transactions
# per second.
#
# One order is made and walked through the API to the visit (created,
# assigned, accepted, arrived), so that it has a locked quote, a timeline
# of four entries and an action still open. SQL then clones it, with every
# row that holds it, into N orders of the same installer; the load reads
# 2,000 of them at random.
#
# It uses its own PostgreSQL database (`scrm_bench_orders`, dropped and
# created afresh), database 7 of the local Redis and its own stream, so it
# never touches data the tests or a developer use. Run from anywhere:
#
#   bench/order_detail.sh                              # 100,000 orders, 16 connections, 30 s
#   BENCH_ORDERS=5000 BENCH_SECONDS=5 bench/order_detail.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ROOT="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
DB_NAME=scrm_bench_orders
# Local connections skip TLS, for pgbench and the server alike.
DATABASE_URL="$PG_ROOT/$DB_NAME?sslmode=disable"
ORDERS="${BENCH_ORDERS:-100000}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
# Not SECONDS: bash keeps its own clock under that name.
DURATION="${BENCH_SECONDS:-30}"
PATHS=2000
PORT="${BENCH_PORT:-18082}"
# The API serves alone (no worker): the jobs that the moves enqueue wait in
# a stream of their own, in database 7.
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/7}"
REDIS_STREAM=scrm-bench-orders:jobs
source bench/common.sh

say "building (release)"
cargo build --release --bin scrm --quiet
cargo build --release --example read_load --quiet

fresh_database
start_api

say "prices and an installer"
ADMIN=$(login admin bench-admin-pass)
set_up_prices "$ADMIN"
INSTALLER_ID=$(post "$ADMIN" /admin/users '{"username":"fitter","password":"bench-fitter-pass",
  "role":"installer","name":"李师傅","cooperation_mode":"employee"}' | json id)
INSTALLER=$(login fitter bench-fitter-pass)
TENANT=$(sql "SELECT id FROM tenants WHERE code = 'bench'")

say "one order through the API, walked to the visit"
ORDER=$(post "$ADMIN" /work-orders '{"workflow":"install",
  "customer":{"name":"张三","phone":"13912345678","address":"广东省深圳市南山区科技园科苑路15号"},
  "lines":[{"service_item":"AC-INSTALL","quantity":2,"sale_price_fen":100000}]}' | json id)
act() { # $1 = token, $2 = action, $3 = body
  post "$1" "/work-orders/$ORDER/actions/$2" "$3" >/dev/null
}
act "$ADMIN" assign '{"assignee_id":"'"$INSTALLER_ID"'"}'
act "$INSTALLER" accept '{}'
act "$INSTALLER" arrive '{}'
curl -sS -f "$API/work-orders/$ORDER" -H "authorization: Bearer $INSTALLER" >"$LOGS/template.json"
python3 - "$LOGS/template.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
print(f"order {o['number']}: node {o['node']['key']}, actions {[a['key'] for a in o['actions']]}, "
      f"earnings {o['earnings']['status']}, timeline {[e['action'] for e in o['timeline']]}")
PY

say "$ORDERS clones of it in SQL"
# Every table with a work_order_id column that holds rows of the order gets
# those rows again for each clone. jsonb_populate_record keeps every column
# of the row but the ones named, so columns added by later migrations are
# cloned too without this script knowing them.
sql "CREATE TABLE bench_orders (n int PRIMARY KEY, id uuid NOT NULL UNIQUE)"
sql "INSERT INTO bench_orders SELECT g, gen_random_uuid() FROM generate_series(1, $ORDERS) g"
# Numbers keep the service's shape (WO-date-12 hex digits) and are unique
# by construction.
sql "INSERT INTO work_orders
     SELECT r.* FROM work_orders o CROSS JOIN bench_orders b
     CROSS JOIN LATERAL jsonb_populate_record(o, jsonb_build_object('id', b.id,
       'number', 'WO-' || to_char(o.created_at, 'YYYYMMDD') || '-' || lpad(to_hex(b.n), 12, '0'))) r
     WHERE o.id = '$ORDER'"
TABLES=$(sql "SELECT table_name FROM information_schema.columns
  WHERE table_schema = 'public' AND column_name = 'work_order_id' ORDER BY table_name")
for table in $TABLES; do
  rows=$(sql "SELECT count(*) FROM $table WHERE work_order_id = '$ORDER'")
  [ "$rows" = 0 ] && continue
  sql "INSERT INTO $table
       SELECT r.* FROM $table c CROSS JOIN bench_orders b
       CROSS JOIN LATERAL jsonb_populate_record(c,
         jsonb_build_object('id', gen_random_uuid(), 'work_order_id', b.id)) r
       WHERE c.work_order_id = '$ORDER'"
  echo "$table: $rows row(s) per order, $(sql "SELECT count(*) FROM $table") in all"
done
sql "VACUUM ANALYZE"
echo "work orders: $(sql "SELECT count(*) FROM work_orders")"
sql "SELECT '/api/v1/work-orders/' || id FROM bench_orders ORDER BY random() LIMIT $PATHS" \
  >"$LOGS/paths.txt"

say "checks: a clone reads as the order it was cloned from"
CLONE_PATH=$(head -1 "$LOGS/paths.txt")
curl -sS -f "$ORIGIN$CLONE_PATH" -H "authorization: Bearer $INSTALLER" >"$LOGS/clone.json"
python3 - "$LOGS/template.json" "$LOGS/clone.json" <<'PY'
import json, sys
template, clone = (json.load(open(p)) for p in sys.argv[1:])
same = ["status", "node", "actions", "region", "assignee", "customer", "lines", "earnings",
        "timeline"]
differ = [k for k in same if template[k] != clone[k]]
if differ or clone["id"] == template["id"]:
    sys.exit(f"the clone {clone['id']} differs from the order in {differ}")
print(f"clone {clone['number']} matches the order in {', '.join(same)}")
PY

say "1. the detail through the API: $CONNECTIONS connections, $DURATION s"
./target/release/examples/read_load --url "$ORIGIN" --token "$INSTALLER" \
  --paths-file "$LOGS/paths.txt" --connections "$CONNECTIONS" --seconds "$DURATION" \
  --warmup-seconds 3 >"$LOGS/read.txt"
cat "$LOGS/read.txt"
READ=$(grep '^RESULT' "$LOGS/read.txt")
[ "$(field failures "$READ")" = 0 ] || { echo "some requests did not answer 200"; exit 1; }

say "2. the floor: the same reads in pgbench, $CONNECTIONS clients, $DURATION s"
pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -f bench/order_detail.pgbench \
  -D orders="$ORDERS" -D tenant="$TENANT" "$DATABASE_URL" >"$LOGS/pgbench.txt" 2>&1 ||
  { cat "$LOGS/pgbench.txt"; exit 1; }
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
  "$LOGS/pgbench.txt"
PG_TPS=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$LOGS/pgbench.txt")
[ -n "$PG_TPS" ] || { echo "pgbench printed no tps"; cat "$LOGS/pgbench.txt"; exit 1; }

say "result"
RPS=$(field rps "$READ")
P50=$(field p50_ms "$READ")
P99=$(field p99_ms "$READ")
RATIO=$(python3 -c "import sys; print(round(float(sys.argv[1]) / float(sys.argv[2]), 2))" \
  "$RPS" "$PG_TPS")
echo "detail: $RPS requests/s, p50 $P50 ms, p99 $P99 ms (target p99 < 20)"
echo "floor: $PG_TPS tps (pgbench, the same reads, -M prepared)"
echo "ratio detail/floor: $RATIO (target >= 0.50)"
echo "RESULT detail_rps=$RPS detail_p99_ms=$P99 pgbench_tps=$PG_TPS ratio=$RATIO orders=$ORDERS"
