#!/usr/bin/env bash
# Closing a settlement month of 1,000,000 posted ledger lines for 10,000
# installers, beside its floor from the same run: one plain
# `INSERT ... SELECT ... GROUP BY` over the same month's lines into a table
# of per-installer totals. It prints the ratio (the target is at most 3x).
#
# Then the next month, as large, closes while one installer reads a
# statement of an earlier month through the API, and the script prints
# that read's latency (the target is p99 under 20 ms) and the loaded
# close's time.
#
# It uses its own PostgreSQL database (`scrm_bench_close`, dropped and
# created afresh), so it never touches data the tests or a developer use.
# The ledger is written with SQL, as a year of order completions would
# have left it; the close itself goes through the API.
#
#   bench/statement_close.sh                 # 1,000,000 lines, 10,000 installers
#   BENCH_LINES=200000 bench/statement_close.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench_close
LINES="${BENCH_LINES:-1000000}"
INSTALLERS="${BENCH_INSTALLERS:-10000}"
PORT="${BENCH_PORT:-18081}"
# The API serves alone (no worker), so that the figure is the close's own;
# it needs a Redis for that, and gets database 6 and a stream of its own.
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/6}"
REDIS_STREAM=scrm-bench-close:jobs
source bench/common.sh

# The milliseconds one statement takes, by psql's own timing.
timed_sql() {
  psql "$DATABASE_URL" -qtA -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" |
    sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -1
}

say "building (release)"
cargo build --release --bin scrm --quiet
cargo build --release --example read_load --quiet

fresh_database
start_api
ADMIN=$(login admin bench-admin-pass)
curl -sS -f "$API/admin/users" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d '{"username":"reader","password":"bench-reader-pass","role":"installer","name":"读者",
       "cooperation_mode":"employee"}' >/dev/null
READER=$(login reader bench-reader-pass)
TENANT=$(sql "SELECT id FROM tenants WHERE code = 'bench'")
READER_ID=$(sql "SELECT id FROM users WHERE username = 'reader'")

say "a ledger of $LINES lines for $INSTALLERS installers in October and again in November, and September's for one"
# Ledger ids are time-ordered (UUID version 7) in the service; these carry
# the posting time in their first 48 bits the same way.
sql "CREATE FUNCTION bench_uuid7(ts timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS \$\$
       SELECT encode(overlay(uuid_send(gen_random_uuid())
         PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
         FROM 1 FOR 6), 'hex')::uuid \$\$"
sql "INSERT INTO users (id, tenant_id, username, role, name, cooperation_mode, partner_id, created_at)
     SELECT md5('installer' || g)::uuid, '$TENANT', 'installer' || g, 'installer', '师傅' || g,
            CASE WHEN g % 10 = 0 THEN 'partner' ELSE 'employee' END,
            CASE WHEN g % 10 = 0 THEN md5('firm' || (g % 100))::uuid END, now()
     FROM generate_series(1, $INSTALLERS) g"
ledger_insert() { # $1 = rows, $2 = first instant, $3 = span, $4 = installer expression
  sql "INSERT INTO earnings_lines (id, tenant_id, work_order_id, line_no, kind, service_item, label,
         quantity, sale_price_fen, unit_price_fen, rate_ten_thousandths, amount_fen, explanation,
         price_list_id, price_list_version, price_list_name, tier, region_code, cooperation_mode,
         installer_id, entry, posted_at)
       SELECT bench_uuid7(t), '$TENANT', md5('order' || g || '$2')::uuid, 1, 'base', 'AC-INSTALL',
         '空调挂机安装', 2, 100000, 12000 + (g % 7) * 100, NULL, 24000 + (g % 7) * 200,
         '单价¥' || (120 + g % 7) || '.00×2，四舍五入到分。', md5('list')::uuid, 3, '标准价',
         'T1', '440305', 'employee', $4, 'posting', t
       FROM (SELECT g, timestamptz '$2' + ($3 * g / $1) AS t
             FROM generate_series(1, $1) g) s"
}
ledger_insert 100 "2026-08-31 16:00:00+00" "interval '29 days'" "'$READER_ID'::uuid"
for month_start in "2026-09-30 16:00:00+00" "2026-10-31 16:00:00+00"; do
  ledger_insert "$LINES" "$month_start" "interval '29 days 23 hours'" \
    "md5('installer' || (g % $INSTALLERS + 1))::uuid"
done
sql "VACUUM ANALYZE"
echo "ledger rows: $(sql "SELECT count(*) FROM earnings_lines")"

say "September closed first, so that the reader has a statement to read"
close() {
  curl -sS -o "$LOGS/close-$1.json" -w '%{http_code} %{time_total}' "$API/admin/settlement-periods" \
    -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"from\":\"$1\",\"to\":\"$2\"}"
}
close 2026-09-01 2026-09-30 >/dev/null
SEPTEMBER=$(sql "SELECT id FROM statements WHERE installer_id = '$READER_ID'")
echo "the reader's September statement: $SEPTEMBER"

say "floor: one INSERT ... SELECT ... GROUP BY over October's lines"
sql "CREATE TABLE bench_totals (installer_id uuid, lines bigint, total_fen bigint)"
FLOOR_SQL="INSERT INTO bench_totals SELECT installer_id, count(*), sum(amount_fen)
  FROM earnings_lines WHERE tenant_id = '$TENANT'
  AND posted_at >= '2026-09-30 16:00:00+00' AND posted_at < '2026-10-31 16:00:00+00'
  GROUP BY installer_id"
timed_sql "$FLOOR_SQL" >/dev/null # warms the cache the close will find warm too
sql "TRUNCATE bench_totals"
FLOOR_MS=$(timed_sql "$FLOOR_SQL")
sql "DROP TABLE bench_totals"
sql "CHECKPOINT"
echo "floor: $FLOOR_MS ms"

ms() { python3 -c "print(round(float('${1#* }') * 1000, 1))"; }
closed() { # $1 = the answer of close(), $2 = the period's first day
  [ "${1%% *}" = 201 ] || { echo "the close answered ${1%% *}"; cat "$LOGS/close-$2.json"; exit 1; }
}

say "October's close through the API, nothing else running"
CLOSE=$(close 2026-10-01 2026-10-31)
closed "$CLOSE" 2026-10-01
CLOSE_MS=$(ms "$CLOSE")
STATEMENTS=$(json statements <"$LOGS/close-2026-10-01.json")
sql "CHECKPOINT"

say "November's close through the API, with the reader reading September meanwhile"
./target/release/examples/read_load --url "$ORIGIN" --token "$READER" \
  --path "/api/v1/statements/$SEPTEMBER" --connections "${BENCH_READ_CONNECTIONS:-2}" \
  --seconds "${BENCH_READ_SECONDS:-20}" >"$LOGS/read.txt" &
READ_LOADER=$!
sleep 2
LOADED=$(close 2026-11-01 2026-11-30)
wait "$READ_LOADER"
closed "$LOADED" 2026-11-01
LOADED_MS=$(ms "$LOADED")
READ=$(grep '^RESULT' "$LOGS/read.txt")

say "checks"
HELD=$(sql "SELECT sum(lines_count) FROM statements")
LEDGER=$(sql "SELECT count(*) FROM earnings_lines")
SUMS=$(sql "SELECT (SELECT sum(total_fen) FROM statements) = (SELECT sum(amount_fen) FROM earnings_lines)")
echo "lines on statements: $HELD of $LEDGER ; statement totals equal the ledger: $SUMS"

say "result"
RATIO=$(python3 -c "print(round($CLOSE_MS / $FLOOR_MS, 2))")
echo "close: $CLOSE_MS ms for $LINES lines and $STATEMENTS statements"
echo "floor: $FLOOR_MS ms (INSERT ... SELECT ... GROUP BY)"
echo "ratio: $RATIO (target <= 3)"
echo "the next month's close, under the reads: $LOADED_MS ms"
echo "statement detail during it: $(sed -n 1p "$LOGS/read.txt")"
echo "RESULT close_ms=$CLOSE_MS floor_ms=$FLOOR_MS ratio=$RATIO statements=$STATEMENTS \
loaded_close_ms=$LOADED_MS read_p99_ms=$(field p99_ms "$READ") read_rps=$(field rps "$READ") \
read_failures=$(field failures "$READ")"
