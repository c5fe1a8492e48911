#!/usr/bin/env python3
"""A/B of two hearth binaries on bench/run.py's rows (view by id, list with filter + sort +
totals, list with skipTotal, create, update; --reads-only for the first three): both
servers get the same seeded data, and the rows alternate between them round by round
(A B B A ...), so a drift of the machine hits both alike. Prints each binary's median
req/s and p99 per row and the B/A ratio. No PocketBase.

    python3 bench/ab.py A_BINARY B_BINARY [--records 10000] [--seconds 5] [--rounds 4]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: server start-up, seeding, wrk)


def start(binary, tmp, name):
    run.HEARTH = binary
    server = run.start_hearth(os.path.join(tmp, name))
    server.name = name
    return server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--reads-only", action="store_true", help="skip the create and update rows")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="hearth-ab-")
    os.makedirs(os.path.join(tmp, "A"))
    os.makedirs(os.path.join(tmp, "B"))
    servers = {"A": start(a.a, tmp, "A"), "B": start(a.b, tmp, "B")}
    ids = {k: run.seed(s, a.records) for k, s in servers.items()}
    # (url, body, method) per binary; bodies and methods as bench/run.py sends them.
    create = json.dumps({"title": "bench", "views": 7, "published": True})
    update = json.dumps({"views": 5, "published": False})
    rows = {
        "view by id": lambda k: (f"{servers[k].base}/api/collections/posts/records/{ids[k]}", None, "GET"),
        "list, filter + sort + totals": lambda k: (f"{servers[k].base}/api/collections/posts/records"
                                                   "?perPage=20&sort=-views&filter=published%3Dtrue%26%26views%3E100", None, "GET"),
        "list, skipTotal": lambda k: (f"{servers[k].base}/api/collections/posts/records?perPage=20&sort=-views&skipTotal=1",
                                      None, "GET"),
        "create": lambda k: (f"{servers[k].base}/api/collections/drafts/records", create, "POST"),
        "update": lambda k: (f"{servers[k].base}/api/collections/posts/records/{ids[k]}", update, "PATCH"),
    }
    if a.reads_only:
        rows = {k: v for k, v in rows.items() if v("A")[1] is None}
    results = {row: {"A": [], "B": []} for row in rows}
    for r in range(a.rounds):
        order = ["A", "B"] if r % 2 == 0 else ["B", "A"]
        for row, request in rows.items():
            for k in order:
                url, body, method = request(k)
                results[row][k].append(run.wrk(url, a.seconds, a.connections, lua_body=body, method=method))
    for s in servers.values():
        s.stop()

    print(f"{a.records} records, {a.rounds} rounds of {a.seconds}s per row and binary, {a.connections} connections, "
          f"{os.cpu_count()} cores\nA = {a.a}\nB = {a.b}\n")
    print("| row | A req/s (median) | B req/s (median) | B/A | A p99 ms | B p99 ms | A runs | B runs |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for row, got in results.items():
        med = {k: statistics.median(x["rps"] for x in got[k]) for k in got}
        p99 = {k: statistics.median(x["p99"] for x in got[k]) for k in got}
        runs = {k: " ".join(f"{x['rps']:.0f}" for x in got[k]) for k in got}
        errors = sum(x["errors"] for k in got for x in got[k])
        print(f"| {row} | {med['A']:.0f} | {med['B']:.0f} | {med['B'] / med['A']:.3f} | {p99['A']:.2f} | {p99['B']:.2f} | "
              f"{runs['A']} | {runs['B']} |" + (f" ({errors} errors)" if errors else ""))


if __name__ == "__main__":
    main()
