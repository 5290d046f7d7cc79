#!/usr/bin/env bash
# Import throughput benchmark (README "Performance"): about 1 million simulated contact segments
# imported into a fresh SQLite store through the real `wfm-bridge import`, then re-imported (every row
# unchanged), beside bench/baseline_import.py, the json + sqlite3 executemany script a user would
# otherwise write. With WFM_BENCH_POSTGRES=postgres://… the same import also runs into PostgreSQL.
#
# usage: bench/import.sh [DAYS]   (10 days of 2,000 agents ≈ 1.0 M segments)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-10}
cargo build --release --quiet
bin=$PWD/target/release/wfm-bridge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" simulate --tenant bench --agents 2000 --queues 8 --from 2024-03-04 --days "$days" \
  --seed 1 --out "$work/sim" --quiet
segments=$(wc -l < "$work/sim/interactions.jsonl")
echo "input: $segments segments, $(du -h "$work/sim/interactions.jsonl" | cut -f1) of JSON Lines"

rate() {
  python3 -c 'import json, sys
s = json.load(sys.stdin)
n = s["written"] + s["unchanged"]
print("%9d rows in %6.2f s = %9.0f rows/s" % (n, s["elapsed"], n / s["elapsed"]))'
}

import_into() {
  local store=$1 label=$2
  for kind in tenants queues agents; do
    "$bin" --store "$store" import "$kind" "$work/sim/$kind.jsonl" --quiet
  done
  printf '%-36s' "$label, first import:"
  "$bin" --store "$store" import interactions "$work/sim/interactions.jsonl" --json | rate
  printf '%-36s' "$label, re-import (unchanged):"
  "$bin" --store "$store" import interactions "$work/sim/interactions.jsonl" --json | rate
}

import_into "sqlite://$work/bench.db" "wfm-bridge → SQLite"
if [ -n "${WFM_BENCH_POSTGRES:-}" ]; then
  import_into "$WFM_BENCH_POSTGRES" "wfm-bridge → PostgreSQL"
fi
printf '%-36s' "python json + sqlite3 executemany:"
python3 bench/baseline_import.py "$work/sim/interactions.jsonl" "$work/baseline.db" \
  | awk '{printf "%9d rows in %6.2f s = %9s rows/s\n", $1, $2, $3}'
