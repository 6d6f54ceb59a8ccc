#!/usr/bin/env bash
# Memory under sustained load (README, "Performance and reliability"): Frontdoor on a fresh
# SQLite file, driven by the load generator in chunks of CHUNK seconds (new conversations all
# the time: every simulated user starts a new session after each conversation) until MESSAGES
# inbound messages are logged. After each chunk: inbound messages logged (from /metrics, i.e.
# counted in the store), conversations opened, and the server's resident memory (VmRSS).
#
#   cargo build --release --bins --examples
#   scripts/rss.sh [MESSAGES]        # default 1000000
#
# Knobs (environment): SESSIONS (128), CHUNK (20 s).
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES=${1:-1000000}
SESSIONS=${SESSIONS:-128}
CHUNK=${CHUNK:-20}
BIN=target/release/frontdoor
[ -x "$BIN" ] || { echo "build first: cargo build --release --bins --examples" >&2; exit 1; }
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=18093
# /metrics takes the operator token.
export FRONTDOOR_ADMIN_TOKEN="rss-$$-$RANDOM$RANDOM"
FRONTDOOR_DATABASE_URL="sqlite://$WORK/rss.db" FRONTDOOR_LOG=warn "$BIN" --config scripts/loadtest.toml \
  --content . serve --listen "127.0.0.1:$PORT" > "$WORK/server.out" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

inbound() {
  curl -sf -H "Authorization: Bearer $FRONTDOOR_ADMIN_TOKEN" "http://127.0.0.1:$PORT/metrics" \
    | awk '/^frontdoor_messages_total\{direction="in"/ { n += $NF } END { printf "%d", n }'
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }

printf '%12s %12s %10s %8s\n' "inbound" "msg/s" "RSS MiB" "elapsed"
start=$(date +%s)
printf '%12s %12s %10s %8s\n' "$(inbound)" "-" "$(rss_mib)" "0"
while :; do
  "$BIN" --content . loadtest --url "http://127.0.0.1:$PORT" --sessions "$SESSIONS" \
    --duration "$CHUNK" --warmup 0 --json > "$WORK/chunk.json"
  n=$(inbound)
  printf '%12s %12.0f %10s %8s\n' "$n" "$(jq .throughput "$WORK/chunk.json")" "$(rss_mib)" \
    "$(( $(date +%s) - start ))"
  [ "$n" -ge "$MESSAGES" ] && break
done
