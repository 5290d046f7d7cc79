#!/usr/bin/env bash
# Interval-statistics benchmark: wfm-stats against the same definitions written as one DuckDB SQL
# script (bench/stats.sql), on the same simulated data, on this machine, both using what they use
# best (wfm-stats one core, DuckDB two threads).
#
# 1. Agreement: 100 agents x 7 days, an ordinary week and the week of the fall-back DST change;
#    DuckDB's rows must equal ours line for line (bench/stats_compare.py).
# 2. Throughput: AGENTS agents x DAYS days (default 2,000 x 105 = about 10 million segments and
#    27 million state events). Ours: canonical records in memory -> IntervalStats -> the three
#    Teleopti files (crates/stats/examples/stats_throughput.rs). DuckDB: tables loaded first (not timed),
#    then the SQL script producing the three result sets written as CSV (bench/stats_duckdb.py).
#    Each side runs REPEAT times (default 3) and its fastest run counts; the results are compared
#    row by row once more.
#
# usage: bench/stats.sh [DAYS] [AGENTS] [REPEAT]
# Needs about 12 GB of memory at the default size, and 3 GB of disk for the CSV dump.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-105}
agents=${2:-2000}
repeat=${3:-3}
from=2024-03-04
to=$(date -d "$from + $((days - 1)) days" +%F)

python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet duckdb
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet -p wfm-stats --example stats_throughput
bin=$target/release/examples/stats_throughput
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== agreement with DuckDB: 100 agents x 7 days =="
for week in 2024-03-04 2024-10-21; do
  end=$(date -d "$week + 6 days" +%F)
  "$bin" --agents 100 --days 7 --from "$week" --dump "$work/a$week/in" --out "$work/a$week/ours" > /dev/null 2>&1
  python3 bench/stats_duckdb.py "$work/a$week/in" "$work/a$week/duck" "$week" "$end" > /dev/null
  echo "week of $week:"
  python3 bench/stats_compare.py "$work/a$week/ours" "$work/a$week/duck"
done

echo "== throughput: $agents agents x $days days ($from .. $to), best of $repeat =="
"$bin" --agents "$agents" --days "$days" --from "$from" --repeat "$repeat" \
  --dump "$work/in" --out "$work/ours" 2> "$work/ours.err" | tee "$work/ours.txt"
python3 bench/stats_duckdb.py "$work/in" "$work/duck" "$from" "$to" 2 "$repeat" > "$work/duck.json"
python3 - "$work/ours.txt" "$work/duck.json" <<'PY'
import json, re, sys
ours = open(sys.argv[1]).read()
duck = json.load(open(sys.argv[2]))
num = lambda label: float(re.search(label + r"\s+([0-9.]+)", ours).group(1))
secs = num("seconds")
peak = re.search(r"computation added (\d+) MB", ours)
print(f"duckdb {duck['duckdb']}, {duck['threads']} threads: {duck['seconds']:.2f} s, "
      f"{duck['segments_per_s']:,} input segments/s, {duck['rows_per_s']:,} output rows/s, "
      f"peak RSS {duck['peak_rss_mb']} MB (tables loaded {duck['rss_before_mb']} MB; the SQL added {duck['added_mb']} MB)")
print(f"wfm-stats, 1 thread: {secs:.2f} s, {num('input segments/s'):,.0f} input segments/s, "
      f"{num('output rows/s'):,.0f} output rows/s, the computation added {peak.group(1) if peak else '?'} MB")
print(f"ratio: wfm-stats is {duck['seconds'] / secs:.1f}x faster than DuckDB")
PY
python3 bench/stats_compare.py "$work/ours" "$work/duck"
