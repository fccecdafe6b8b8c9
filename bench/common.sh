# What every script under bench/ shares: sourced, never run. A script sets
# DB_NAME (its own database), PORT, REDIS_URL and REDIS_STREAM first, then
# calls these. BENCH_POSTGRES points every script at another PostgreSQL.

PG_ROOT="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
# Local connections skip TLS, for pgbench and the server alike.
DATABASE_URL="$PG_ROOT/$DB_NAME?sslmode=disable"
ORIGIN="http://127.0.0.1:$PORT"
API="$ORIGIN/api/v1"
LOGS="$(mktemp -d)"
export DATABASE_URL REDIS_URL REDIS_STREAM
export JWT_SECRET="bench-only-signing-key-0123456789abcdef0123456789"
export RUST_LOG="${RUST_LOG:-warn}"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs: $LOGS"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
sql() { psql "$DATABASE_URL" -qtA -v ON_ERROR_STOP=1 -c "$1"; }
# The value of `key=` in a `RESULT key=value ...` line: field KEY LINE.
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }

# Drops and creates the script's database and stream, and makes the tenant
# `bench` with its admin.
fresh_database() {
  say "fresh database $DB_NAME and stream $REDIS_STREAM"
  psql "$PG_ROOT/postgres" -q -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
  psql "$PG_ROOT/postgres" -q -c "CREATE DATABASE $DB_NAME"
  redis-cli -u "$REDIS_URL" DEL "$REDIS_STREAM" >/dev/null
  ./target/release/scrm migrate >/dev/null
  ./target/release/scrm create-admin --tenant bench --username admin \
    --password 'bench-admin-pass' >/dev/null
}

# Waits up to 10 s for ORIGIN's /readyz to answer 200, and fails if it does
# not: wait_ready ORIGIN.
wait_ready() {
  for _ in $(seq 100); do
    curl -sf "$1/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  curl -sf "$1/readyz" >/dev/null
}

# Starts `scrm serve --no-worker` and waits until it is ready:
# start_api [PORT [LOG_NAME]], PORT and api by default.
start_api() {
  local port="${1:-$PORT}" log="${2:-api}"
  BIND="127.0.0.1:$port" ./target/release/scrm serve --no-worker >"$LOGS/$log.log" 2>&1 &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$port"
}

# Registers the webhook channel `bench shop` and sets CHANNEL_ID and
# SECRET: set_up_channel TOKEN.
set_up_channel() {
  local channel
  channel=$(post "$1" /admin/webhook-channels '{"name":"bench shop"}')
  CHANNEL_ID=$(printf '%s' "$channel" | json id)
  SECRET=$(printf '%s' "$channel" | json secret)
}

# Waits until the database holds WANT work orders made by channels, and
# prints the Unix time in milliseconds when it saw them, or nothing when
# the loader LOADER_PID has finished and every event is settled without
# them: wait_for_channel_orders WANT LOADER_PID.
wait_for_channel_orders() {
  local want="$1" loader="$2" count
  local pending="SELECT count(*) FROM webhook_events WHERE status IN ('accepted', 'failed')"
  local orders="SELECT count(*) FROM work_orders WHERE channel_id IS NOT NULL"
  while :; do
    count=$(sql "$orders")
    if [ "$count" -ge "$want" ]; then
      date +%s%3N
      return
    fi
    if ! kill -0 "$loader" 2>/dev/null && [ "$(sql "$pending")" = 0 ]; then
      # Every event is settled; count once more, since the last ones may
      # have committed after the count above.
      [ "$(sql "$orders")" -ge "$want" ] && date +%s%3N
      return
    fi
    sleep 0.2
  done
}

# The access token of a user of tenant `bench`: login USERNAME PASSWORD.
login() {
  curl -sS -f "$API/auth/login" -H 'content-type: application/json' \
    -d '{"tenant":"bench","username":"'"$1"'","password":"'"$2"'"}' | json access_token
}

# POSTs JSON with a token: post TOKEN PATH BODY.
post() {
  curl -sS -f "$API$2" -H "authorization: Bearer $1" \
    -H 'content-type: application/json' -d "$3"
}

# The service item AC-INSTALL, tiers T1 to T3 (Shenzhen T1, the rest of
# Guangdong T2, elsewhere T3) and a published price list: set_up_prices TOKEN.
set_up_prices() {
  post "$1" /admin/service-items '{"code":"AC-INSTALL","name":"空调挂机安装","unit":"台"}' >/dev/null
  for tier in T1 T2 T3; do
    post "$1" /admin/tiers '{"code":"'$tier'","name":"'$tier'档"}' >/dev/null
  done
  curl -sS -f -X PUT "$API/admin/region-tiers" -H "authorization: Bearer $1" \
    -H 'content-type: application/json' \
    -d '{"default_tier":"T3","mappings":[{"region_code":"44","tier":"T2"},
          {"region_code":"4403","tier":"T1"}]}' >/dev/null
  local list
  list=$(post "$1" /admin/price-lists '{"name":"bench","effective_from":"2026-01-01T00:00:00Z",
    "prices":[{"service_item":"AC-INSTALL","tier":"T1","unit_price_fen":12000},
              {"service_item":"AC-INSTALL","tier":"T2","unit_price_fen":11000},
              {"service_item":"AC-INSTALL","tier":"T3","unit_price_fen":10000}]}' | json id)
  post "$1" "/admin/price-lists/$list/publish" '{}' >/dev/null
}

# CPU seconds, user and system, used so far by the processes PID... together;
# a process that is gone counts 0: cpu_seconds PID...
cpu_seconds() {
  [ "$#" -gt 0 ] || { echo 0; return; }
  local pid files=()
  for pid in "$@"; do files+=("/proc/$pid/stat"); done
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 }
    END { printf "%.2f\n", t / hz }' "${files[@]}" 2>/dev/null || true
}

# The same for every running process whose command is NAME (postgres,
# redis-server): cpu_seconds_named NAME. A backend that exits takes its
# seconds with it, so read it around a phase whose connections stay open.
cpu_seconds_named() {
  # cat, not awk, opens the files: a process that exits between the glob
  # and the read only costs cat a warning, where some awks would stop.
  cat /proc/[0-9]*/stat 2>/dev/null |
    awk -v hz="$(getconf CLK_TCK)" -v comm="($1)" '$2 == comm { t += $14 + $15 }
      END { printf "%.2f\n", t / hz }'
}

# The CPU counters that cpu_phase_report compares, one reading: the seconds
# of each group of processes (each argument a space-separated list of PIDs),
# then PostgreSQL's, Redis's, and the machine's busy and total seconds over
# all cores: cpu_counters "PIDS" ["PIDS" ...].
cpu_counters() {
  local group
  for group in "$@"; do
    # shellcheck disable=SC2086 # a group is a list of PIDs
    printf '%s ' "$(cpu_seconds $group)"
  done
  awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { for (i = 2; i <= 9; i++) t += $i
    printf "%s %s %.2f %.2f\n", pg, redis, (t - $5 - $6) / hz, t / hz }' \
    pg="$(cpu_seconds_named postgres)" redis="$(cpu_seconds_named redis-server)" /proc/stat
}

# Where a phase's CPU went, from two cpu_counters readings, per unit of work
# too: cpu_phase_report BEFORE AFTER UNITS UNIT_NAME "LABEL[,LABEL...]".
# What the named processes, PostgreSQL and Redis did not use of the busy time
# went to the load generator, the kernel and anything else running.
cpu_phase_report() {
  python3 - "$@" <<'PY'
import sys
before, after, units, unit, labels = sys.argv[1:]
d = [b - a for a, b in zip(map(float, before.split()), map(float, after.split()))]
names = labels.split(",") + ["postgres", "redis"]
busy, total = d[-2], d[-1]
parts = [f"{n} {s:.2f} s ({s / float(units) * 1e6:.0f} µs/{unit})" for n, s in zip(names, d)]
rest = busy - sum(d[:-2])
print(f"CPU over {units} {unit}s: " + ", ".join(parts) + f", the rest {rest:.2f} s; "
      f"machine busy {busy:.2f} of {total:.2f} s ({busy / total:.0%})")
PY
}

# Starts one `scrm-worker` and sets WORKER_PID: start_worker [LOG_NAME],
# worker by default.
start_worker() {
  ./target/release/scrm-worker >>"$LOGS/${1:-worker}.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

# Starts examples/bare_http, the HTTP floor, answering every GET with the
# body in FILE, and waits until it answers: start_bare_http PORT FILE.
start_bare_http() {
  ./target/release/examples/bare_http --bind "127.0.0.1:$1" --body-file "$2" \
    >"$LOGS/bare_http.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null -H 'authorization: Bearer x' "http://127.0.0.1:$1/" && return
    sleep 0.1
  done
  curl -sf -o /dev/null -H 'authorization: Bearer x' "http://127.0.0.1:$1/"
}

# The largest resident set, in KiB, among the processes PID... at this
# moment; a process that is gone counts 0: rss_kib PID...
rss_kib() {
  local pid kib max=0
  for pid in "$@"; do
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    if [ "${kib:-0}" -gt "$max" ]; then max=$kib; fi
  done
  echo "$max"
}
