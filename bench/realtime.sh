#!/usr/bin/env bash
# Real-time benchmark (README "Performance"): sustained ingest of agent states over HTTP into
# `wfm-bridge serve` (SQLite store unless STORE is given), latency from the ingest's 2xx to the
# target with a 1-second update clock, and the time to build and serialise a 20,000-agent snapshot.
#
# usage: bench/realtime.sh [SECONDS] [CONNECTIONS] [STORE]
# (STORE: a store URL, by default a new SQLite file; a PostgreSQL URL must name an empty database)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p wfm-bridge
cargo run --release --quiet -p wfm-engine --example snapshot
cargo run --release --quiet -p wfm-server --example realtime_load -- "$PWD/target/release/wfm-bridge" "${1:-20}" "${2:-8}" ${3:+"$3"}
