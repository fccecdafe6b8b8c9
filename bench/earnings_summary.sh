#!/usr/bin/env bash
# The installer's earnings home page, GET /api/v1/me/earnings/summary, as
# one installer with a realistic ledger, beside two floors from the same
# run: pgbench sending the same statements for the same installer
# (bench/earnings_summary.pgbench) from as many clients, and
# examples/bare_http answering the same body with no database at all.
#
# The ledger is written with SQL in the shape the service posts it: time-
# ordered ids, one base line per completed order. BENCH_LINES lines in all
# (the measured installer's among them), over BENCH_TENANTS tenants (the
# bench tenant is one of them), at about 300 lines per installer, posted
# from the start of the month before last until now. The measured
# installer has 300 lines last month and 40 this month, some of them today.
# Last month is closed through the API and the installer confirms the
# statement, so that the summary has something in each of its four sums:
# today, this month, pending and settled.
#
# It uses its own PostgreSQL database (`scrm_bench_summary`, dropped and
# created afresh), database 9 of the local Redis and its own stream. Run
# from anywhere:
#
#   bench/earnings_summary.sh                          # 100,000 lines, 1 tenant
#   BENCH_LINES=1000000 BENCH_TENANTS=1000 bench/earnings_summary.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench_summary
LINES="${BENCH_LINES:-100000}"
TENANTS="${BENCH_TENANTS:-1}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
# Not SECONDS: bash keeps its own clock under that name.
DURATION="${BENCH_SECONDS:-30}"
PORT="${BENCH_PORT:-18086}"
BARE_PORT="${BENCH_BARE_PORT:-18087}"
# The API serves alone: reading the summary enqueues nothing.
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9}"
REDIS_STREAM=scrm-bench-summary:jobs
source bench/common.sh

# The measured installer's lines: last month's, and this month's so far.
MY_LAST_MONTH=300
MY_THIS_MONTH=40
OTHER_LINES=$((LINES - MY_LAST_MONTH - MY_THIS_MONTH))
# About 300 lines each, and at least one installer per tenant.
INSTALLERS=$(( OTHER_LINES / 300 > TENANTS ? OTHER_LINES / 300 : TENANTS ))

# The instants the summary works from, in UTC: the start of this month and
# of today, and the first and last day of last month, all in China Standard
# Time as the service reckons them.
read -r MONTH_FROM DAY_FROM LAST_FROM EARLIEST LAST_FIRST LAST_LAST < <(python3 <<'PY'
from datetime import datetime, timedelta, timezone
cst = timezone(timedelta(hours=8))
now = datetime.now(cst)
day = now.replace(hour=0, minute=0, second=0, microsecond=0)
month = day.replace(day=1)
last_month = (month - timedelta(days=1)).replace(day=1)
earliest = (last_month - timedelta(days=1)).replace(day=1)
utc = lambda t: t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(utc(month), utc(day), utc(last_month), utc(earliest), last_month.date(),
      (month - timedelta(days=1)).date())
PY
)

say "building (release)"
cargo build --release --bin scrm --quiet
cargo build --release --example read_load --example bare_http --quiet

fresh_database
start_api
ADMIN=$(login admin bench-admin-pass)
EARNER_ID=$(post "$ADMIN" /admin/users '{"username":"earner","password":"bench-earner-pass",
  "role":"installer","name":"王师傅","cooperation_mode":"employee"}' | json id)
TENANT=$(sql "SELECT id FROM tenants WHERE code = 'bench'")

say "$LINES ledger lines over $TENANTS tenant(s) and $INSTALLERS other installers"
# A time-ordered id (UUID version 7 layout) for an instant: its Unix
# milliseconds in the first 48 bits, random bits after them.
sql "CREATE FUNCTION bench_time_uuid(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS \$\$
       SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0')
               || '7' || substr(md5(random()::text), 1, 19))::uuid \$\$"
# Tenant 0 is the bench tenant; the others are made up here.
sql "CREATE FUNCTION bench_tenant(t int) RETURNS uuid LANGUAGE sql IMMUTABLE AS \$\$
       SELECT CASE WHEN t = 0 THEN '$TENANT'::uuid ELSE md5('tenant' || t)::uuid END \$\$"
sql "INSERT INTO tenants (id, code, name, created_at)
     SELECT bench_tenant(t), 'bench-' || t, '租户' || t, now()
     FROM generate_series(1, $TENANTS - 1) t"
sql "INSERT INTO users (id, tenant_id, username, role, name, cooperation_mode, created_at)
     SELECT md5('installer' || k)::uuid, bench_tenant(k % $TENANTS), 'installer' || k,
            'installer', '师傅' || k, 'employee', now()
     FROM generate_series(1, $INSTALLERS) k"
# ledger ROWS FROM INSTALLER TENANT SPAN: ROWS base lines posted evenly
# over the interval SPAN from the instant FROM, for the installer and the
# tenant that the SQL expressions INSTALLER and TENANT of g (1 to ROWS) name.
ledger() {
  sql "INSERT INTO earnings_lines (id, tenant_id, work_order_id, line_no, kind, service_item,
         label, quantity, sale_price_fen, unit_price_fen, rate_ten_thousandths, amount_fen,
         explanation, price_list_id, price_list_version, price_list_name, tier, region_code,
         cooperation_mode, installer_id, entry, posted_at)
       SELECT bench_time_uuid(at), $4, gen_random_uuid(), 1, 'base', 'AC-INSTALL',
         '空调挂机安装', 2, 100000, 11000 + (g % 5) * 500, NULL, 22000 + (g % 5) * 1000,
         '单价¥' || (110 + (g % 5) * 5) || '.00×2，按T1档价目表。', md5('bench list')::uuid, 1,
         '标准价', 'T1', '440305', 'employee', $3, 'posting', at
       FROM (SELECT g, timestamptz '$2' + $5 * ((g - 0.5) / $1)::float8 AS at
             FROM generate_series(1, $1) g) s"
}
ledger "$OTHER_LINES" "$EARLIEST" "md5('installer' || (g % $INSTALLERS + 1))::uuid" \
  "bench_tenant((g % $INSTALLERS + 1) % $TENANTS)" "(now() - timestamptz '$EARLIEST')"
ledger "$MY_LAST_MONTH" "$LAST_FROM" "'$EARNER_ID'::uuid" "'$TENANT'::uuid" \
  "(timestamptz '$MONTH_FROM' - timestamptz '$LAST_FROM')"
ledger "$MY_THIS_MONTH" "$MONTH_FROM" "'$EARNER_ID'::uuid" "'$TENANT'::uuid" \
  "(now() - timestamptz '$MONTH_FROM')"
sql "VACUUM ANALYZE"
echo "ledger lines: $(sql "SELECT count(*) FROM earnings_lines"), \
in the bench tenant: $(sql "SELECT count(*) FROM earnings_lines WHERE tenant_id = '$TENANT'"), \
the measured installer's: $(sql "SELECT count(*) FROM earnings_lines WHERE installer_id = '$EARNER_ID'")"

say "last month ($LAST_FIRST to $LAST_LAST) closed, and the installer confirms"
post "$ADMIN" /admin/settlement-periods "{\"from\":\"$LAST_FIRST\",\"to\":\"$LAST_LAST\"}" |
  json statements | sed 's/^/statements issued: /'
EARNER=$(login earner bench-earner-pass)
STATEMENT=$(sql "SELECT id FROM statements WHERE installer_id = '$EARNER_ID'")
post "$EARNER" "/statements/$STATEMENT/confirm" '{}' >/dev/null
curl -sS -f "$API/me/earnings/summary" -H "authorization: Bearer $EARNER" >"$LOGS/summary.json"
echo "the summary: $(cat "$LOGS/summary.json")"
python3 - "$LOGS/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
# Today may have no line yet just after midnight; the other three always do.
empty = [k for k in ("month_fen", "pending_fen", "settled_fen") if s[k] <= 0]
if empty:
    sys.exit(f"the summary has nothing in {empty}")
PY
echo "the ledger read's plan:"
sql "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
     SELECT sum(amount_fen) FROM earnings_lines
     WHERE tenant_id = '$TENANT' AND installer_id = '$EARNER_ID'" | sed 's/^/  /'

say "1. the summary through the API: $CONNECTIONS connections, $DURATION s"
./target/release/examples/read_load --url "$ORIGIN" --token "$EARNER" \
  --path /api/v1/me/earnings/summary --connections "$CONNECTIONS" --seconds "$DURATION" \
  --warmup-seconds 3 >"$LOGS/read.txt"
cat "$LOGS/read.txt"
READ=$(grep '^RESULT' "$LOGS/read.txt")
[ "$(field failures "$READ")" = 0 ] || { echo "some requests did not answer 200"; exit 1; }

say "2. the floor: the same statements in pgbench, $CONNECTIONS clients, $DURATION s"
pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -f bench/earnings_summary.pgbench \
  -D tenant="$TENANT" -D installer="$EARNER_ID" -D month_from="$MONTH_FROM" \
  -D day_from="$DAY_FROM" "$DATABASE_URL" >"$LOGS/pgbench.txt" 2>&1 ||
  { cat "$LOGS/pgbench.txt"; exit 1; }
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
  "$LOGS/pgbench.txt"
PG_TPS=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$LOGS/pgbench.txt")
PG_MS=$(sed -nE 's/^latency average = ([0-9.]+) ms/\1/p' "$LOGS/pgbench.txt")
[ -n "$PG_TPS" ] || { echo "pgbench printed no tps"; cat "$LOGS/pgbench.txt"; exit 1; }

say "3. the HTTP floor: bare_http answering the same body, $CONNECTIONS connections, $DURATION s"
start_bare_http "$BARE_PORT" "$LOGS/summary.json"
./target/release/examples/read_load --url "http://127.0.0.1:$BARE_PORT" --token "$EARNER" \
  --path /api/v1/me/earnings/summary --connections "$CONNECTIONS" --seconds "$DURATION" \
  --warmup-seconds 3 >"$LOGS/bare.txt"
cat "$LOGS/bare.txt"
BARE=$(grep '^RESULT' "$LOGS/bare.txt")

say "result"
RPS=$(field rps "$READ")
BARE_RPS=$(field rps "$BARE")
ratio() { python3 -c "import sys; print(round(float(sys.argv[1]) / float(sys.argv[2]), 2))" "$@"; }
echo "summary: $RPS requests/s, p50 $(field p50_ms "$READ") ms, p99 $(field p99_ms "$READ") ms"
echo "floor: $PG_TPS tps (pgbench, the same statements, -M prepared), average $PG_MS ms"
echo "HTTP floor: $BARE_RPS requests/s, p50 $(field p50_ms "$BARE") ms, \
p99 $(field p99_ms "$BARE") ms (bare_http, the same body)"
echo "ratio summary/pgbench: $(ratio "$RPS" "$PG_TPS"); summary/bare_http: $(ratio "$RPS" "$BARE_RPS")"
echo "RESULT lines=$LINES tenants=$TENANTS installers=$INSTALLERS summary_rps=$RPS \
summary_p50_ms=$(field p50_ms "$READ") summary_p99_ms=$(field p99_ms "$READ") \
pgbench_tps=$PG_TPS pgbench_ms=$PG_MS bare_rps=$BARE_RPS bare_p99_ms=$(field p99_ms "$BARE") \
ratio=$(ratio "$RPS" "$PG_TPS")"
