#!/usr/bin/env python3
"""Instructions per request of two hearth binaries, counted by valgrind's callgrind: the
same for the same binary and input whatever else the machine is doing, so a change of a
percent shows where wrk's req/s drown in noise. Each binary serves one worker under
callgrind; after seeding, the counters are zeroed, N requests go over one keep-alive
connection, and the counters are dumped. Prints instructions per request and the B/A
ratio for each request kind.

    python3 bench/instructions.py A_BINARY B_BINARY [--requests 2000]

Build with `cargo build --profile profiling` (release with symbols) for both.
"""
import argparse
import glob
import http.client
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: seeding)

KINDS = {
    "view by id": lambda ids: (f"/api/collections/posts/records/{ids}", {}),
    "view, Accept-Encoding: gzip, br": lambda ids: (f"/api/collections/posts/records/{ids}",
                                                    {"Accept-Encoding": "gzip, br"}),
    "view, Origin (CORS)": lambda ids: (f"/api/collections/posts/records/{ids}",
                                        {"Origin": "http://127.0.0.1:5173"}),
    "list, filter + sort + totals": lambda ids: (
        "/api/collections/posts/records?perPage=20&sort=-views&filter=published%3Dtrue%26%26views%3E100", {}),
}


def measure(binary, tmp, name, records, requests):
    d = os.path.join(tmp, name)
    subprocess.run([binary, "--dir", d, "superuser", "upsert", run.EMAIL, run.PASSWORD],
                   check=True, capture_output=True)
    port = run.free_port()
    out = os.path.join(tmp, f"{name}.callgrind")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
         binary, "--dir", d, "serve", "--http", f"127.0.0.1:{port}", "--workers", "1",
         "--auth-ip-limit", "0", "--auth-identity-limit", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    server = type("S", (), {"base": base})()
    deadline = time.time() + 120
    while True:
        try:
            run.call(base, "GET", "/api/health")
            break
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    first = run.seed(server, records)
    results = {}
    for kind, make in KINDS.items():
        path, headers = make(first)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(20):  # warm the connection, caches and the statement cache
            conn.request("GET", path, headers=headers)
            conn.getresponse().read()
        subprocess.run(["callgrind_control", "--zero", str(proc.pid)], check=True, capture_output=True)
        for _ in range(requests):
            conn.request("GET", path, headers=headers)
            res = conn.getresponse()
            res.read()
            assert res.status == 200, res.status
        subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True, capture_output=True)
        conn.close()
        dumps = sorted(glob.glob(f"{out}.{proc.pid}.*"), key=os.path.getmtime)
        totals = 0
        with open(dumps[-1]) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    totals = int(line.split()[1])
        results[kind] = totals / requests
    proc.terminate()
    proc.wait()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--records", type=int, default=300)
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hearth-instr-")
    got = {"A": measure(a.a, tmp, "A", a.records, a.requests),
           "B": measure(a.b, tmp, "B", a.records, a.requests)}
    print(f"{'request':36} {'A instr/req':>14} {'B instr/req':>14} {'B/A':>7}")
    for kind in KINDS:
        x, y = got["A"][kind], got["B"][kind]
        print(f"{kind:36} {x:14,.0f} {y:14,.0f} {y / x:7.3f}")


if __name__ == "__main__":
    main()
