# What every script under bench/ shares: sourced, never run. A script sets
# PG_ROOT, DB_NAME, DATABASE_URL, PORT, REDIS_URL and REDIS_STREAM first,
# then calls these.

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
