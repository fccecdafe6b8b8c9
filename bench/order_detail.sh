#!/usr/bin/env bash
# The installer's order detail, GET /api/v1/work-orders/{id} as the
# assigned installer, with 100,000 orders in the database, beside two floors
# from the same run: the same load against a bare actix-web handler that
# answers the same JSON without reading anything (examples/bare_http.rs),
# and pgbench making the same reads for one order
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
# With BENCH_TENANTS above 1, the N orders are spread over that many
# tenants: the other tenants are SQL copies of the bench tenant (its users,
# prices, workflow and order, under new ids), each with its share of the
# clones, so that the figure shows what other tenants' data costs the reads
# of one.
#
# It uses its own PostgreSQL database (`scrm_bench_orders`, dropped and
# created afresh), database 7 of the local Redis and its own stream, so it
# never touches data the tests or a developer use. Run from anywhere:
#
#   bench/order_detail.sh                              # 100,000 orders, 16 connections, 30 s
#   BENCH_ORDERS=5000 BENCH_SECONDS=5 bench/order_detail.sh
#   BENCH_ORDERS=100000 BENCH_TENANTS=1000 bench/order_detail.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench_orders
ORDERS="${BENCH_ORDERS:-100000}"
TENANTS="${BENCH_TENANTS:-1}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
# Not SECONDS: bash keeps its own clock under that name.
DURATION="${BENCH_SECONDS:-30}"
PATHS=2000
PORT="${BENCH_PORT:-18082}"
# The bare HTTP floor listens on the port above the API's.
BARE_PORT=$(( PORT + 1 ))
# The API serves alone (no worker): the jobs that the moves enqueue wait in
# a stream of their own, in database 7.
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/7}"
REDIS_STREAM=scrm-bench-orders:jobs
source bench/common.sh

say "building (release)"
cargo build --release --bin scrm --quiet
cargo build --release --example read_load --example bare_http --quiet

fresh_database
start_api
API_PID=${PIDS[-1]}

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

say "$ORDERS clones of it in SQL, over $TENANTS tenant(s)"
SEED_STARTED_MS=$(date +%s%3N)
# The bench tenant's share of the clones is ORDERS / TENANTS and whatever the
# division leaves; every other tenant has ORDERS / TENANTS.
SHARE=$(( ORDERS / TENANTS ))
OWN=$(( ORDERS - SHARE * (TENANTS - 1) ))
[ "$SHARE" -gt 0 ] || { echo "BENCH_ORDERS must be at least BENCH_TENANTS"; exit 1; }
sql "CREATE TABLE bench_ids (k int, old uuid, new uuid NOT NULL, PRIMARY KEY (k, old))"

# The tables whose rows belong to a tenant, less those with a unique index
# that neither the tenant nor a copied id keeps apart (refresh tokens, by
# their hash): a copy would break it, and nothing an order shows reads them.
tenant_tables() {
  sql "SELECT c.table_name FROM information_schema.columns c
    WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
      AND c.table_name NOT LIKE 'bench\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indisunique
        AND i.indrelid = ('public.' || c.table_name)::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid
          AND a.attnum = ANY (i.indkey)
          AND (a.attname = 'tenant_id' OR a.atttypid = 'uuid'::regtype)))
    ORDER BY 1"
}

# Copies the rows of TABLE that match WHERE (on alias x) once for each other
# tenant (alias b, numbered b.k), every uuid column that holds an id of the
# bench tenant's rows pointed at that tenant's copy of the row; COLUMN, when
# given, takes EXPR instead: copy_rows TABLE WHERE [COLUMN EXPR].
copy_rows() {
  local table="$1" where="$2" column="${3:-}" expr="${4:-}" name type select=()
  while IFS='|' read -r name type; do
    if [ "$name" = "$column" ]; then
      select+=("$expr")
    elif [ "$type" = uuid ]; then
      select+=("coalesce((SELECT m.new FROM bench_ids m WHERE m.k = b.k AND m.old = x.\"$name\"),
        x.\"$name\")")
    else
      select+=("x.\"$name\"")
    fi
  done < <(sql "SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = '$table' ORDER BY ordinal_position")
  local IFS=,
  sql "INSERT INTO $table SELECT ${select[*]} FROM $table x CROSS JOIN bench_tenants b
    WHERE $where"
}

# The other tenants: each a copy of everything the bench tenant holds so far
# (its users, prices, tiers, workflow and the walked order with its rows),
# under a new tenant id and new row ids, so that each copy's rows refer only
# to each other. Rows that hold ids inside text (a workflow definition, a
# notification's payload) keep the bench tenant's ids there.
copy_tenants() {
  local tables table
  tables=$(tenant_tables)
  sql "CREATE TABLE bench_tenants (k int PRIMARY KEY)"
  sql "INSERT INTO bench_tenants SELECT generate_series(2, $TENANTS)"
  sql "INSERT INTO bench_ids SELECT k, '$TENANT', gen_random_uuid() FROM bench_tenants"
  for table in $tables; do
    [ "$(sql "SELECT data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = '$table' AND column_name = 'id'")" = uuid ] ||
      continue
    sql "INSERT INTO bench_ids SELECT b.k, x.id, gen_random_uuid()
      FROM $table x CROSS JOIN bench_tenants b WHERE x.tenant_id = '$TENANT'"
  done
  copy_rows tenants "x.id = '$TENANT'" code "'bench-' || b.k"
  for table in $tables; do
    copy_rows "$table" "x.tenant_id = '$TENANT'"
  done
  echo "$((TENANTS - 1)) other tenants, each a copy of $(sql "SELECT count(*) FROM bench_ids
    WHERE k = 2") rows over $(wc -w <<<"$tables") tables"
  check_copies "$tables"
}

# Fails if a copy's uuid column still holds an id of one of the bench
# tenant's rows: that reference would cross from one tenant to another.
check_copies() {
  local table column crossing=0
  for table in $1; do
    for column in $(sql "SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = '$table' AND data_type = 'uuid'"); do
      crossing=$(( crossing + $(sql "SELECT count(*) FROM $table
        WHERE tenant_id <> '$TENANT' AND \"$column\" IN (SELECT old FROM bench_ids)") ))
    done
  done
  [ "$crossing" = 0 ] || { echo "$crossing copied values point into the bench tenant"; exit 1; }
  echo "no copied row refers to a row of another tenant"
}

if [ "$TENANTS" -gt 1 ]; then
  copy_tenants
fi

# Each clone names the order it copies: the bench tenant's clones (numbered
# 1 to OWN, the ones read) copy the walked order, the others their tenant's
# copy of it.
sql "CREATE TABLE bench_orders (n int PRIMARY KEY, id uuid NOT NULL UNIQUE, template uuid NOT NULL)"
sql "INSERT INTO bench_orders SELECT g, gen_random_uuid(), '$ORDER' FROM generate_series(1, $OWN) g"
sql "INSERT INTO bench_orders SELECT $OWN + (m.k - 2) * $SHARE + g, gen_random_uuid(), m.new
     FROM bench_ids m CROSS JOIN generate_series(1, $SHARE) g WHERE m.old = '$ORDER'"

# Every table with a work_order_id column that holds rows of the order gets
# those rows again for each clone. jsonb_populate_record keeps every column
# of the row but the ones named, so columns added by later migrations are
# cloned too without this script knowing them. Numbers keep the service's
# shape (WO-date-12 hex digits) and are unique by construction.
sql "INSERT INTO work_orders
     SELECT r.* FROM work_orders o JOIN bench_orders b ON b.template = o.id
     CROSS JOIN LATERAL jsonb_populate_record(o, jsonb_build_object('id', b.id,
       'number', 'WO-' || to_char(o.created_at, 'YYYYMMDD') || '-'
         || lpad(to_hex(b.n), 12, '0'))) r"
TABLES=$(sql "SELECT table_name FROM information_schema.columns
  WHERE table_schema = 'public' AND column_name = 'work_order_id' ORDER BY table_name")
for table in $TABLES; do
  rows=$(sql "SELECT count(*) FROM $table WHERE work_order_id = '$ORDER'")
  [ "$rows" = 0 ] && continue
  sql "INSERT INTO $table
       SELECT r.* FROM $table c JOIN bench_orders b ON c.work_order_id = b.template
       CROSS JOIN LATERAL jsonb_populate_record(c,
         jsonb_build_object('id', gen_random_uuid(), 'work_order_id', b.id)) r"
  echo "$table: $rows row(s) per order, $(sql "SELECT count(*) FROM $table") in all"
done
sql "VACUUM ANALYZE"
SEED_S=$(python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1000:.1f}')" \
  "$SEED_STARTED_MS" "$(date +%s%3N)")
echo "work orders: $(sql "SELECT count(*) FROM work_orders") over $TENANTS tenant(s), \
$(sql "SELECT count(*) FROM work_orders WHERE tenant_id = '$TENANT'") of them the bench tenant's"
echo "seeded in $SEED_S s (copies, clones and VACUUM ANALYZE); database \
$(sql "SELECT pg_size_pretty(pg_database_size(current_database()))")"
sql "SELECT '/api/v1/work-orders/' || id FROM bench_orders WHERE n <= $OWN
     ORDER BY random() LIMIT $PATHS" >"$LOGS/paths.txt"

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

# Runs the read load against ORIGIN for DURATION, after a warm-up of 3 s
# of its own, into OUT, and prints where the machine's CPU went meanwhile,
# SERVER_PID being the server measured: read_from ORIGIN SERVER_PID LABEL OUT.
read_from() {
  local before after loader
  read_load() {
    ./target/release/examples/read_load --url "$1" --token "$INSTALLER" \
      --paths-file "$LOGS/paths.txt" --connections "$CONNECTIONS" --seconds "$2"
  }
  read_load "$1" 3 >/dev/null
  before=$(cpu_counters "$2")
  loader=$( { TIMEFORMAT='%U %S'
    time read_load "$1" "$DURATION" >"$4" 2>>"$LOGS/read_load.err"; } 2>&1 )
  after=$(cpu_counters "$2")
  cat "$4"
  loader=$(awk '{ print $1 + $2 }' <<<"$loader")
  cpu_phase_report "0 $before" "$loader $after" "$(field requests "$(grep '^RESULT' "$4")")" \
    request "read_load,$3"
  [ "$(field failures "$(grep '^RESULT' "$4")")" = 0 ] ||
    { echo "some requests did not answer 200"; exit 1; }
}

say "1. the detail through the API: $CONNECTIONS connections, $DURATION s"
read_from "$ORIGIN" "$API_PID" api "$LOGS/read.txt"
READ=$(grep '^RESULT' "$LOGS/read.txt")

say "2. the HTTP floor: the same load, the same JSON from a bare handler"
start_bare_http "$BARE_PORT" "$LOGS/template.json"
BARE_PID=${PIDS[-1]}
read_from "http://127.0.0.1:$BARE_PORT" "$BARE_PID" bare_http "$LOGS/bare.txt"
BARE=$(grep '^RESULT' "$LOGS/bare.txt")
kill "$BARE_PID"

say "3. the database floor: the same reads in pgbench, $CONNECTIONS clients, $DURATION s"
# pgbench's backends exit with it, before the second reading, so their CPU
# shows in "the rest" of the report, not under postgres.
CPU_BEFORE=$(cpu_counters)
PGBENCH_CPU=$( { TIMEFORMAT='%U %S'
  time pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -f bench/order_detail.pgbench \
    -D orders="$OWN" -D tenant="$TENANT" "$DATABASE_URL" >"$LOGS/pgbench.txt" 2>&1; } 2>&1 ) ||
  { cat "$LOGS/pgbench.txt"; exit 1; }
CPU_AFTER=$(cpu_counters)
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
  "$LOGS/pgbench.txt"
PG_TPS=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$LOGS/pgbench.txt")
[ -n "$PG_TPS" ] || { echo "pgbench printed no tps"; cat "$LOGS/pgbench.txt"; exit 1; }
cpu_phase_report "0 $CPU_BEFORE" "$(awk '{ print $1 + $2 }' <<<"$PGBENCH_CPU") $CPU_AFTER" \
  "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$LOGS/pgbench.txt")" \
  transaction pgbench

say "result"
ratio() { python3 -c "import sys; print(round(float(sys.argv[1]) / float(sys.argv[2]), 2))" "$@"; }
RPS=$(field rps "$READ")
P50=$(field p50_ms "$READ")
P99=$(field p99_ms "$READ")
BARE_RPS=$(field rps "$BARE")
BARE_P99=$(field p99_ms "$BARE")
RATIO=$(ratio "$RPS" "$PG_TPS")
BARE_RATIO=$(ratio "$RPS" "$BARE_RPS")
echo "detail: $RPS requests/s, p50 $P50 ms, p99 $P99 ms (target p99 < 20)"
echo "HTTP floor: $BARE_RPS requests/s, p50 $(field p50_ms "$BARE") ms, p99 $BARE_P99 ms \
(bare_http, the same JSON)"
echo "database floor: $PG_TPS tps (pgbench, the same reads, -M prepared)"
echo "ratio detail/database floor: $RATIO (target >= 0.50)"
echo "ratio detail/HTTP floor: $BARE_RATIO"
echo "RESULT detail_rps=$RPS detail_p50_ms=$P50 detail_p99_ms=$P99 bare_rps=$BARE_RPS" \
  "bare_p99_ms=$BARE_P99 pgbench_tps=$PG_TPS ratio=$RATIO bare_ratio=$BARE_RATIO" \
  "orders=$ORDERS tenants=$TENANTS seed_s=$SEED_S"
