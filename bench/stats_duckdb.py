"""DuckDB baseline of bench/stats.sh: the same interval statistics as wfm-stats, as one SQL script.

usage: python3 bench/stats_duckdb.py IN_DIR OUT_DIR FROM TO [THREADS] [REPEAT]

Loads the canonical CSV files of IN_DIR (tenants, queues, agents, interactions, states: what
`cargo run -p wfm-stats --example throughput -- --dump DIR` writes) into DuckDB tables (not timed),
then times bench/stats.sql, which computes the three row kinds and writes them as ';'-separated CSV
into OUT_DIR (queue.csv, agent.csv, agent_queue.csv). With REPEAT > 1 the script runs that many
times and the fastest run counts (the machine may be shared). Prints one line of figures as JSON.
"""

import json
import os
import pathlib
import sys
import time

import duckdb


def status_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    in_dir, out_dir, date_from, date_to = sys.argv[1:5]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    repeat = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    os.makedirs(out_dir, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")

    started = time.time()
    csv = lambda name, columns: (
        f"read_csv('{in_dir}/{name}.csv', header = true, auto_detect = false, columns = {columns})"
    )
    con.execute("CREATE TABLE tenants AS SELECT * FROM " + csv("tenants", "{'tenant': 'VARCHAR', 'name': 'VARCHAR', 'time_zone': 'VARCHAR', 'interval_minutes': 'INTEGER', 'admin_reasons': 'VARCHAR'}"))
    con.execute("CREATE TABLE queues AS SELECT * FROM " + csv("queues", "{'tenant': 'VARCHAR', 'queue': 'VARCHAR', 'name': 'VARCHAR', 'sl_seconds': 'INTEGER', 'short_abandon_seconds': 'INTEGER'}"))
    con.execute("CREATE TABLE agents AS SELECT * FROM " + csv("agents", "{'tenant': 'VARCHAR', 'agent': 'VARCHAR', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR', 'skills': 'VARCHAR', 'active': 'BOOLEAN'}"))
    con.execute("CREATE TABLE interactions AS SELECT * FROM " + csv("interactions", "{'tenant': 'VARCHAR', 'contact_id': 'VARCHAR', 'seq': 'INTEGER', 'channel': 'VARCHAR', 'direction': 'VARCHAR', 'queue': 'VARCHAR', 'offered_at': 'TIMESTAMPTZ', 'answered_at': 'TIMESTAMPTZ', 'abandoned_at': 'TIMESTAMPTZ', 'overflowed': 'BOOLEAN', 'agent': 'VARCHAR', 'talk_s': 'BIGINT', 'hold_s': 'BIGINT', 'acw_s': 'BIGINT', 'transferred': 'BOOLEAN'}"))
    con.execute("CREATE TABLE states AS SELECT * FROM " + csv("states", "{'tenant': 'VARCHAR', 'agent': 'VARCHAR', 'at': 'TIMESTAMPTZ', 'state': 'VARCHAR', 'reason': 'VARCHAR'}"))
    tenant, tz, minutes = con.execute("SELECT tenant, time_zone, interval_minutes FROM tenants").fetchone()
    segments = con.execute("SELECT count(*) FROM interactions").fetchone()[0]
    events = con.execute("SELECT count(*) FROM states").fetchone()[0]
    loaded = time.time() - started

    script = pathlib.Path(__file__).with_name("stats.sql").read_text()
    for key, value in {"tenant": tenant, "tz": tz, "minutes": str(minutes), "from": date_from,
                       "to": date_to, "out": out_dir}.items():
        script = script.replace("{" + key + "}", value)

    # Peak memory of the timed part: reset the high-water mark to the current RSS (Linux >= 4.0).
    reset = True
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        reset = False
    rss_before = status_mb("VmRSS")
    seconds = float("inf")
    for _ in range(max(repeat, 1)):
        started = time.time()
        con.execute(script)
        seconds = min(seconds, time.time() - started)
    peak = status_mb("VmHWM")

    rows = 0
    for name in ("queue", "agent", "agent_queue"):
        with open(f"{out_dir}/{name}.csv", "rb") as f:
            rows += sum(1 for _ in f) - 1
    print(json.dumps({
        "duckdb": duckdb.__version__, "threads": threads, "segments": segments, "state_events": events,
        "output_rows": rows, "runs": repeat, "load_seconds": round(loaded, 2), "seconds": round(seconds, 2),
        "segments_per_s": round(segments / seconds), "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak), "rss_before_mb": round(rss_before),
        "added_mb": round(peak - rss_before) if reset else None,
    }))


if __name__ == "__main__":
    main()
