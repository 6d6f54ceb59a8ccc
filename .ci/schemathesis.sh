#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against a real `frontdoor serve`:
# every operation of /api/openapi.json, at least 1,000 generated cases in all (about 2,500 with
# the settings below), no 5xx, responses matching their schema, only documented status codes,
# invalid data rejected and valid data accepted (.ci/schemathesis.toml lists the few
# cross-field rules the schema cannot state).
#
#   bash .ci/schemathesis.sh            # builds the debug binary if needed
#   SEED=123 bash .ci/schemathesis.sh   # another seed (CI uses a fixed one: reproducible)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==4.32.5"
fi
cargo build --quiet --bin frontdoor

WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cat > "$WORK/frontdoor.toml" <<'TOML'
reload_interval_secs = 0
# One client generates thousands of requests: no rate limits here (they have their own tests).
[web]
per_ip_burst = 100000000
per_ip_per_minute = 1000000000
per_session_burst = 100000000
per_session_per_minute = 1000000000
TOML
TOKEN="schemathesis-operator-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
FRONTDOOR_DATABASE_URL="sqlite://$WORK/st.db" FRONTDOOR_ADMIN_TOKEN="$TOKEN" FRONTDOOR_LOG=info,tower_http=warn,sqlx=warn \
  target/debug/frontdoor --config "$WORK/frontdoor.toml" serve --listen 127.0.0.1:0 \
  > "$WORK/out.log" 2> "$WORK/err.log" &
PID=$!
URL=
for _ in $(seq 1 300); do
  URL=$(grep -ho 'listening: http://[0-9.:]*' "$WORK/out.log" "$WORK/err.log" 2>/dev/null | head -n1 | sed 's/listening: //') || true
  [ -n "$URL" ] && break
  sleep 0.2
done
[ -n "$URL" ] || { echo "frontdoor did not start" >&2; cat "$WORK/err.log" >&2; exit 1; }
echo "schemathesis against $URL"
"$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$URL/api/openapi.json" \
  -H "Authorization: Bearer $TOKEN" --max-examples 80 --seed "${SEED:-1}" --no-color \
  --report junit --report-dir target/schemathesis
if grep -q 'panicked' "$WORK/err.log"; then
  echo "the server panicked during the run:" >&2
  grep -A5 panicked "$WORK/err.log" >&2
  exit 1
fi
