#!/usr/bin/env python3
"""SCIM load: creates N users (and one group holding them all) on a running `wfm-bridge serve`,
then times the requests identity providers repeat most: a userName lookup, a page of 100, a PATCH.

    bench/scim_load.py http://127.0.0.1:18089/scim/v2 TOKEN [N]

Prints per-kind request counts and latency percentiles (milliseconds). Standard library only."""
import json
import sys
import time
import urllib.request

base, token = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/scim+json")
    start = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        payload = r.read()
    return (time.perf_counter() - start) * 1000, json.loads(payload) if payload else None


def report(name, times):
    times = sorted(times)
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{name:<28} n={len(times):<6} p50={pick(0.5):7.1f} p95={pick(0.95):7.1f} max={times[-1]:7.1f} ms")


run = str(int(time.time()))
create, ids = [], []
for i in range(n):
    ms, user = call("POST", "/Users", {"userName": f"load-{run}-{i}", "name": {"givenName": "Load", "familyName": str(i)},
                                       "emails": [{"value": f"load{i}@example.com", "primary": True}]})
    create.append(ms)
    ids.append(user["id"])
report(f"POST /Users (to {n})", create)
ms, group = call("POST", "/Groups", {"displayName": f"load-{run}", "members": [{"value": i} for i in ids]})
report(f"POST /Groups ({n} members)", [ms])
lookup = [call("GET", f"/Users?filter=userName%20eq%20%22load-{run}-{i}%22")[0] for i in range(0, n, max(1, n // 100))]
report(f"GET userName eq (of {n})", lookup)
pages = [call("GET", f"/Users?startIndex={i}&count=100")[0] for i in range(1, n, max(1, n // 20))]
report("GET page of 100", pages)
patches = [call("PATCH", f"/Users/{ids[i]}", {"Operations": [{"op": "replace", "path": "active", "value": i % 2 == 0}]})[0]
           for i in range(0, n, max(1, n // 100))]
report("PATCH active", patches)
