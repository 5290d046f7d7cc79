#!/usr/bin/env bash
# SCIM conformance: runs the external checker scim2-tester (through scim2-cli, PyPI) against a real
# `wfm-bridge serve` with a throwaway SQLite store, and prints its report.
#
#   bench/scim_conformance.sh [path/to/wfm-bridge]
#
# Needs python3 (a venv is made under ${SCIM_VENV:-/tmp/wfm-scim-venv}) and a built binary
# (default: target/debug/wfm-bridge, or $CARGO_TARGET_DIR/debug/wfm-bridge). Exit status: the
# checker's (0 when every check passed).
set -euo pipefail

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/wfm-bridge}"
venv="${SCIM_VENV:-/tmp/wfm-scim-venv}"
port="${SCIM_PORT:-18089}"

if [ ! -x "$venv/bin/scim2" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scim2-cli scim2-tester
fi

work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/wfm-bridge.toml" <<TOML
[store]
url = "sqlite://store.db"

[server]
listen = "127.0.0.1:$port"

[[tenants]]
id = "acme"
scim_token = "env:SCIM_TOKEN"

[[accounts]]
name = "acme-scim"
type = "scim"
tenant = "acme"
default_team = "Agents"
TOML

export SCIM_TOKEN="conformance-$(date +%s)"
"$bin" --config "$work/wfm-bridge.toml" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done

echo "scim2-tester $("$venv/bin/pip" show scim2-tester | awk '/^Version/ {print $2}') against wfm-bridge serve on 127.0.0.1:$port"
SCIM_CLI_HEADERS="Authorization: Bearer $SCIM_TOKEN" \
    "$venv/bin/scim2" --url "http://127.0.0.1:$port/scim/v2" test --verbose
