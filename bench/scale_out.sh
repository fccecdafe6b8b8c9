#!/usr/bin/env bash
# The deployment of docs/DEPLOY.md on one machine: two `scrm serve
# --no-worker` processes behind nginx on one port, three `scrm-worker`
# processes, one PostgreSQL and one Redis. Signed order.paid webhooks go
# through nginx, and the figure is end-to-end events per second: from the
# first POST until the last event's work order is in the database. It also
# checks that both API processes answered, that every worker handled jobs
# (read from each worker's METRICS_BIND), and that nothing is left pending.
#
# nginx comes from Debian's packages; the script installs it when missing.
# It uses its own PostgreSQL database (`scrm_bench_scale`, dropped and
# created afresh), database 8 of the local Redis and its own stream. Run
# from anywhere:
#
#   bench/scale_out.sh                     # 20,000 events over 32 connections
#   BENCH_EVENTS=5000 bench/scale_out.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DB_NAME=scrm_bench_scale
REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/8}"
REDIS_STREAM=scrm-bench-scale:jobs
EVENTS="${BENCH_EVENTS:-20000}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
WARMUP="${BENCH_WARMUP:-5000}"
# nginx listens on PORT; the API processes on the two ports above it, and
# the workers' metrics on the three above those.
PORT="${BENCH_PORT:-18090}"
APIS=2
WORKERS=3
source bench/common.sh
export WEBHOOK_RATE_LIMIT=0
# Five processes share PostgreSQL's hundred connections.
export DATABASE_POOL_SIZE=16

if ! command -v nginx >/dev/null 2>&1; then
  say "installing nginx"
  apt-get update -qq && apt-get install -y -qq nginx >/dev/null
fi

say "building (release)"
cargo build --release --workspace --quiet
cargo build --release --example webhook_load --quiet

fresh_database
say "$APIS API processes behind nginx on :$PORT"
UPSTREAMS=""
for n in $(seq "$APIS"); do
  start_api $((PORT + n)) "api$n"
  UPSTREAMS+="server 127.0.0.1:$((PORT + n)); "
done
mkdir -p "$LOGS/nginx"
cat >"$LOGS/nginx.conf" <<NGINX
daemon off;
pid $LOGS/nginx/nginx.pid;
error_log $LOGS/nginx/error.log warn;
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $LOGS/nginx;
  proxy_temp_path $LOGS/nginx;
  fastcgi_temp_path $LOGS/nginx;
  uwsgi_temp_path $LOGS/nginx;
  scgi_temp_path $LOGS/nginx;
  client_max_body_size 300k;
  upstream scrm { $UPSTREAMS keepalive 64; }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://scrm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
NGINX
nginx -c "$LOGS/nginx.conf" -p "$LOGS/nginx" &
PIDS+=($!)
wait_ready "$ORIGIN"

say "$WORKERS workers"
for n in $(seq "$WORKERS"); do
  METRICS_BIND="127.0.0.1:$((PORT + APIS + n))" ./target/release/scrm-worker \
    >>"$LOGS/worker$n.log" 2>&1 &
  PIDS+=($!)
done

say "prices and a channel, through nginx"
ADMIN=$(login admin bench-admin-pass)
set_up_prices "$ADMIN"
set_up_channel "$ADMIN"
load() {
  ./target/release/examples/webhook_load --url "$ORIGIN" --channel "$CHANNEL_ID" \
    --secret "$SECRET" --connections "$CONNECTIONS" "$@" | grep '^RESULT'
}

say "warm-up: $WARMUP events"
( load --requests "$WARMUP" >/dev/null ) &
LOADER=$!
wait_for_channel_orders "$WARMUP" "$LOADER" >/dev/null
wait "$LOADER"
sql "ANALYZE"

say "end to end: $EVENTS events through nginx"
WANT=$(( WARMUP + EVENTS ))
( load --requests "$EVENTS" >"$LOGS/load.txt" ) &
LOADER=$!
DONE_MS=$(wait_for_channel_orders "$WANT" "$LOADER")
wait "$LOADER"
RESULT=$(cat "$LOGS/load.txt")
echo "$RESULT"
[ -n "$DONE_MS" ] || { echo "not every event became a work order; see $LOGS"; exit 1; }
FIRST_MS=$(field first_post_unix_ms "$RESULT")

say "checks"
for n in $(seq "$APIS"); do
  answered=$(curl -sf "http://127.0.0.1:$((PORT + n))/metrics" |
    awk '/^http_requests_total\{.*webhooks/ { sum += $NF } END { print sum + 0 }')
  echo "API process $n answered $answered webhooks"
  [ "$answered" -gt 0 ] || { echo "API process $n answered none"; exit 1; }
done
for n in $(seq "$WORKERS"); do
  handled=$(curl -sf "http://127.0.0.1:$((PORT + APIS + n))/metrics" |
    awk '/^worker_jobs_total\{/ { sum += $NF } END { print sum + 0 }')
  echo "worker $n handled $handled jobs"
done
for _ in $(seq 100); do
  [ "$(redis-cli -u "$REDIS_URL" XPENDING "$REDIS_STREAM" scrm-workers | head -1)" = 0 ] && break
  sleep 0.2
done
echo "pending in the stream: $(redis-cli -u "$REDIS_URL" XPENDING "$REDIS_STREAM" scrm-workers | head -1)"
echo "dead or failed events: $(sql "SELECT count(*) FROM webhook_events WHERE status IN ('dead', 'failed')")"
echo "work orders per order_no, at most: $(sql "SELECT coalesce(max(n), 0) FROM (SELECT count(*) n
  FROM work_orders WHERE channel_id IS NOT NULL GROUP BY external_order_no) c")"

say "result"
python3 -c "import sys; n, a, b = map(int, sys.argv[1:4]); s = (b - a) / 1000; print(f'{n} events in {s:.2f} s: {n / s:.0f} events/s end to end through nginx, {sys.argv[4]} API processes, {sys.argv[5]} workers')" \
  "$EVENTS" "$FIRST_MS" "$DONE_MS" "$APIS" "$WORKERS"
