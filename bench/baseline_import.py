#!/usr/bin/env python3
"""The import a user would otherwise script: json.loads each line of interactions.jsonl and upsert it
into SQLite with executemany, in one transaction. No validation beyond what json.loads does.

usage: baseline_import.py INTERACTIONS.jsonl DB
prints: rows, seconds, rows/s
"""
import json
import sqlite3
import sys
import time
from datetime import datetime


def millis(text):
    if text is None:
        return None
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def main():
    path, db = sys.argv[1], sys.argv[2]
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        """CREATE TABLE IF NOT EXISTS segments (
            tenant TEXT, contact_id TEXT, seq INTEGER, channel TEXT, direction TEXT, queue TEXT,
            offered_at INTEGER, answered_at INTEGER, abandoned_at INTEGER, overflowed INTEGER,
            agent TEXT, talk_s INTEGER, hold_s INTEGER, acw_s INTEGER, transferred INTEGER,
            metadata TEXT, PRIMARY KEY (tenant, contact_id, seq))"""
    )
    start = time.perf_counter()
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append((
                r["tenant"], r["contact_id"], r["seq"], r["channel"], r["direction"], r.get("queue"),
                millis(r["offered_at"]), millis(r.get("answered_at")), millis(r.get("abandoned_at")),
                int(r.get("overflowed", False)), r.get("agent"), r.get("talk_s", 0), r.get("hold_s", 0),
                r.get("acw_s", 0), int(r.get("transferred", False)),
                json.dumps(r["metadata"]) if r.get("metadata") else None,
            ))
    with con:
        con.executemany(
            """INSERT INTO segments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT (tenant, contact_id, seq) DO UPDATE SET
               channel=excluded.channel, direction=excluded.direction, queue=excluded.queue,
               offered_at=excluded.offered_at, answered_at=excluded.answered_at,
               abandoned_at=excluded.abandoned_at, overflowed=excluded.overflowed, agent=excluded.agent,
               talk_s=excluded.talk_s, hold_s=excluded.hold_s, acw_s=excluded.acw_s,
               transferred=excluded.transferred, metadata=excluded.metadata""",
            rows,
        )
    seconds = time.perf_counter() - start
    print(f"{len(rows)} {seconds:.2f} {len(rows) / seconds:.0f}")


if __name__ == "__main__":
    main()
