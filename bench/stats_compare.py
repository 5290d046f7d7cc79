"""Row-by-row comparison of wfm-stats' Teleopti files with the DuckDB baseline's result files.

usage: python3 bench/stats_compare.py OURS_DIR DUCKDB_DIR

OURS_DIR holds Queue_/Agent_/AgentQueue_Statistics_*.csv (type line, blank line, header, rows);
DUCKDB_DIR holds queue.csv, agent.csv, agent_queue.csv (header, rows), both ';'-separated with the
same columns. Rows are matched by their key columns (interval, date, time and ids); every
difference is counted and the first few are shown. Exit status 1 when anything differs.
"""

import glob
import sys


def read(path, skip):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = lines[skip].split(";")
    rows = [line.split(";") for line in lines[skip + 1:] if line]
    return header, rows


def same_lines(ours_path, duck_path):
    with open(ours_path, "rb") as o, open(duck_path, "rb") as d:
        o.readline()
        o.readline()
        while True:
            a, b = o.readline(), d.readline()
            if a != b:
                return False
            if not a:
                return True


def main():
    ours_dir, duck_dir = sys.argv[1:3]
    kinds = [("Queue", "queue", 2), ("Agent", "agent", 2), ("AgentQueue", "agent_queue", 4)]
    failed = False
    for ours_prefix, duck_name, ids in kinds:
        [ours_path] = glob.glob(f"{ours_dir}/{ours_prefix}_Statistics_*.csv")
        # Fast path: the same rows in the same order means the same lines after the preambles.
        if same_lines(ours_path, f"{duck_dir}/{duck_name}.csv"):
            with open(ours_path, "rb") as f:
                count = sum(1 for _ in f) - 3
            print(f"{duck_name:12} ours {count:9} rows, duckdb {count:9} rows: identical (line for line)")
            continue
        oh, orows = read(ours_path, 2)
        dh, drows = read(f"{duck_dir}/{duck_name}.csv", 0)
        if oh != dh:
            print(f"{duck_name}: headers differ:\n  ours   {oh}\n  duckdb {dh}")
            failed = True
            continue
        # Keys: interval, date, time, then the id columns (names are compared as values).
        key_cols = [0, 1, 2] + [3 + 2 * i for i in range(ids // 2)]
        key = lambda r: tuple(r[i] for i in key_cols)
        o = {key(r): r for r in orows}
        d = {key(r): r for r in drows}
        only_ours = sorted(set(o) - set(d))
        only_duck = sorted(set(d) - set(o))
        differing = [k for k in sorted(set(o) & set(d)) if o[k] != d[k]]
        order_same = [key(r) for r in orows] == [key(r) for r in drows]
        status = "identical" if not (only_ours or only_duck or differing) and order_same else "DIFFERENT"
        print(f"{duck_name:12} ours {len(orows):9} rows, duckdb {len(drows):9} rows: {status}"
              f" (only ours {len(only_ours)}, only duckdb {len(only_duck)}, differing {len(differing)},"
              f" same order {order_same})")
        for k in only_ours[:3]:
            print("   only ours:  ", ";".join(o[k]))
        for k in only_duck[:3]:
            print("   only duckdb:", ";".join(d[k]))
        for k in differing[:5]:
            cols = [f"{oh[i]}: {o[k][i]} vs {d[k][i]}" for i in range(len(oh)) if o[k][i] != d[k][i]]
            print("   differ:     ", ";".join(k), "->", ", ".join(cols))
        failed |= status != "identical"
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
