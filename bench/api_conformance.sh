#!/usr/bin/env bash
# Conformance of the admin API to its OpenAPI document, with schemathesis (PyPI).
#
# Installs schemathesis into a virtualenv under /tmp, starts `wfm-bridge serve` with a demo
# configuration (two tenants, accounts and flows, an admin token, a secrets key) in a temporary
# directory, imports two simulated weeks, syncs the directory, pushes a few agent states, and runs schemathesis against /api/v1/openapi.json with the
# admin token: every check (no 5xx, status codes, content types and response bodies matching their
# schemas). Prints schemathesis's summary; exits non-zero when a check fails.
#
#   bench/api_conformance.sh [--max-examples N]   (default 50 per operation)
set -euo pipefail
cd "$(dirname "$0")/.."

examples=50
if [ "${1:-}" = "--max-examples" ]; then examples="$2"; fi

venv=/tmp/wfm-bridge-schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  # Newer hypothesis releases break schemathesis 3's generators ("'many' object has no attribute 'more'").
  "$venv/bin/pip" install --quiet 'schemathesis>=3.39,<4' 'hypothesis>=6.108,<6.130'
fi

bin="${CARGO_TARGET_DIR:-target}/debug/wfm-bridge"
cargo build -p wfm-bridge --quiet
work=$(mktemp -d)
trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/wfm-bridge.toml" <<TOML
[store]
url = "sqlite://store.db"
[[tenants]]
id = "nordic"
time_zone = "Europe/Stockholm"
ingest_token = "env:NORDIC_INGEST"
[[tenants]]
id = "baltic"
[[accounts]]
name = "drop"
type = "files"
tenant = "nordic"
path = "out"
[[flows]]
name = "nordic-interactions"
kind = "interactions"
tenant = "nordic"
target = "drop"
[[flows]]
name = "nordic-directory"
kind = "directory"
tenant = "nordic"
target = "drop"
[[admin_tokens]]
name = "conformance"
token = "env:ADMIN_TOKEN"
role = "admin"
tenants = ["*"]
TOML
export ADMIN_TOKEN=conformance-admin-token NORDIC_INGEST=nordic-ingest
WFM_BRIDGE_SECRET_KEY=$("$bin" secrets generate-key)
export WFM_BRIDGE_SECRET_KEY
# Two simulated weeks (queues q01, q02), so that statistics and forecasts meet real data.
binpath=$(realpath "$bin")
(cd "$work" && "$binpath" simulate --tenant nordic --agents 4 --queues 2 \
  --days 15 --from 2024-02-19 --out sim >/dev/null &&
  for kind in tenants queues agents interactions; do
    "$binpath" import "$kind" "sim/$kind.jsonl" --quiet >/dev/null
  done)
(cd "$work" && exec "$(cd - >/dev/null; realpath "$bin")" serve --listen "127.0.0.1:$port" 2>"$work/serve.log") &
serve_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS -X POST "http://127.0.0.1:$port/api/v1/tenants/nordic/states" \
  -H "Authorization: Bearer $NORDIC_INGEST" -H 'Content-Type: application/json' \
  -d '[{"agent":"a1","at":"2024-03-01T08:00:00Z","state":"ready"}]' >/dev/null

# A directory sync of the imported agents, for the directory change log.
curl -fsS -X POST "http://127.0.0.1:$port/api/v1/flows/nordic-directory/run" \
  -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{}' >/dev/null

status=0
run() {
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --base-url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $ADMIN_TOKEN" \
    --experimental=openapi-3.1 --checks all --hypothesis-max-examples "$examples" \
    --hypothesis-suppress-health-check all --no-color "$@" || status=$?
}
# Pass 1: generated data everywhere (mostly names that do not exist: 404s and 422s).
echo "== pass 1: generated path parameters"
run
# Pass 2: the path parameters of the demo's tenant, flow and first message, so that the
# operations meet real resources (a file flow, a tenant with agent states, message 1).
echo "== pass 2: real tenant, flow and message"
run --set-path tenant=nordic --set-path name=nordic-interactions --set-path id=1 --set-path queue=q01
if grep -qi "panicked" "$work/serve.log"; then
  echo "serve panicked:"; grep -i -A3 panicked "$work/serve.log"; status=1
fi
exit $status
