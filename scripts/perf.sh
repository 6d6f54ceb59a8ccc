#!/usr/bin/env bash
# Performance figures of the README's "Performance and reliability" section, in one run so the
# echo ceiling and Frontdoor see the same (noisy) machine:
#
#   cargo build --release --bins --examples
#   scripts/perf.sh [RUNS]            # default 3 runs; medians at the end
#
# Per run, side by side on the same machine: the bare axum echo server (examples/echo_server.rs),
# Frontdoor on a fresh SQLite file, and Frontdoor on PostgreSQL when FRONTDOOR_TEST_POSTGRES_URL
# is set (a scratch database is created and dropped; loopback, so `sslmode=disable` for both
# drivers). Each is measured by our generator (`frontdoor loadtest`) at saturation and open loop
# at 1,000 msg/s, and by wrk (Debian's `wrk`, when installed: 2 threads, 64 connections,
# scripts/wrk-chat.lua: a new session every four messages, ten everyday questions). Rate limits
# are lifted by scripts/loadtest.toml (the generators talk from one IP).
#
# Knobs (environment): SESSIONS (closed loop users, 128), DURATION (s, 10), RATE (1000),
# OPEN_SESSIONS (open loop users, 200), WS_SHARE (0.2), WRK_DURATION (s, 8).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
SESSIONS=${SESSIONS:-128}
DURATION=${DURATION:-10}
RATE=${RATE:-1000}
OPEN_SESSIONS=${OPEN_SESSIONS:-200}
WS_SHARE=${WS_SHARE:-0.2}
WRK_DURATION=${WRK_DURATION:-8}
WRK=$(command -v wrk || true)
[ -n "$WRK" ] || echo "wrk is not installed (apt-get install wrk): its figures are left out" >&2
PROFILE=${PROFILE:-release}
BIN=target/$PROFILE/frontdoor
ECHO=target/$PROFILE/examples/echo_server
[ -x "$BIN" ] && [ -x "$ECHO" ] || { echo "build first: cargo build --release --bins --examples" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
DBS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${DBS[@]:-}"; do
    [ -n "$d" ] && psql "$FRONTDOOR_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Start a server in the background; wait until it prints its address.
start() { # name, command...
  local name=$1; shift
  "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    if grep -q "listening: http://" "$WORK/$name.out" "$WORK/$name.err" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start:" >&2; cat "$WORK/$name.err" >&2; exit 1
}
stop() { local p=${PIDS[-1]}; kill "$p"; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

load() { # label, url, extra args...
  local label=$1 url=$2; shift 2
  "$BIN" --content . loadtest --url "$url" --duration "$DURATION" --ws-share "$WS_SHARE" --json "$@" \
    > "$WORK/$label.json"
  jq -c --arg l "$label" '{run: $l, throughput: (.throughput|floor), p50: .latency_ms.p50, p95: .latency_ms.p95, p99: .latency_ms.p99, errors: ([.errors[]]|add // 0)}' "$WORK/$label.json" \
    | tee -a "$WORK/all.jsonl"
}

wrk_load() { # label, url
  [ -n "$WRK" ] || return 0
  local label=$1 url=$2
  "$WRK" -t2 -c64 -d"${WRK_DURATION}s" -s scripts/wrk-chat.lua "$url" > "$WORK/$label.wrk"
  grep '^WRKJSON ' "$WORK/$label.wrk" | sed 's/^WRKJSON //' \
    | jq -c --arg l "$label" '{run: $l, throughput: (.throughput|floor), p50, p95: null, p99, errors: (.non2xx + .socket_errors)}' \
    | tee -a "$WORK/all.jsonl"
}

frontdoor() { # backend label, database url, port
  local b=$1 db=$2 port=$3
  start "frontdoor-$b" \
    env FRONTDOOR_DATABASE_URL="$db" FRONTDOOR_LOG=info,sqlx=warn,tower_http=warn "$BIN" --config scripts/loadtest.toml --content . \
    serve --listen "127.0.0.1:$port"
  load "$b-saturation" "http://127.0.0.1:$port" --sessions "$SESSIONS"
  load "$b-open$RATE" "http://127.0.0.1:$port" --sessions "$OPEN_SESSIONS" --rate "$RATE"
  wrk_load "$b-wrk" "http://127.0.0.1:$port"
  stop
}

for run in $(seq 1 "$RUNS"); do
  echo "== run $run/$RUNS"
  start echo "$ECHO" 127.0.0.1:18090
  load "echo-saturation" "http://127.0.0.1:18090" --sessions "$SESSIONS"
  load "echo-open$RATE" "http://127.0.0.1:18090" --sessions "$OPEN_SESSIONS" --rate "$RATE"
  wrk_load "echo-wrk" "http://127.0.0.1:18090"
  stop
  rm -f "$WORK"/sqlite.db*
  frontdoor sqlite "sqlite://$WORK/sqlite.db" 18091
  if [ -n "${FRONTDOOR_TEST_POSTGRES_URL:-}" ]; then
    base=${FRONTDOOR_TEST_POSTGRES_URL%/*}
    dbname="frontdoor_perf_$$_$run"
    psql "$FRONTDOOR_TEST_POSTGRES_URL" -qc "CREATE DATABASE $dbname" >/dev/null
    DBS+=("$dbname")
    frontdoor postgres "$base/$dbname?sslmode=disable" 18092
    psql "$FRONTDOOR_TEST_POSTGRES_URL" -qc "DROP DATABASE $dbname WITH (FORCE)" >/dev/null
  fi
done

echo "== medians of $RUNS runs (msg/s; latency ms); ratio to the same generator's echo ceiling"
jq -s -r '
  def median: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  group_by(.run) | map({run: .[0].run, n: length,
    throughput: (map(.throughput)|median), p50: (map(.p50)|median), p95: (map(.p95)|median),
    p99: (map(.p99)|median), errors: (map(.errors)|add)})
  | (map({key: .run, value: .throughput}) | from_entries) as $t
  | .[] | (.run | sub("^[a-z]+-"; "")) as $kind
  | "\(.run): \(.throughput) msg/s (\((.throughput * 100 / $t["echo-" + $kind])|floor)% of echo)  p50 \(.p50)  p95 \(.p95)  p99 \(.p99)  errors \(.errors)  [\(.n) runs]"
' "$WORK/all.jsonl"
if [ -n "${PERF_KEEP:-}" ]; then cp "$WORK/all.jsonl" "$PERF_KEEP"; fi
