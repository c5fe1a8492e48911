#!/usr/bin/env python3
"""What JS hooks cost, measured side by side in one run (issue #17's cost rows):

- hooks loaded that match nothing (a route, and record hooks bound to another collection):
  view and create against the same hearth without hooks;
- a trivial `onRecordCreateRequest` (it only calls `e.next()`): create against hearth
  without hooks;
- a `routerAdd` route answering JSON: hearth against PocketBase 0.40.6 with the same file.

Each pair is measured alternately (A B, B A, ...), `--rounds` times, and the median of each side kept, so
that a noisy second on a small machine does not decide a row. Prints a markdown table with
req/s, p50/p99, peak RSS and the ratio. Needs what bench/run.py needs.

    python3 bench/hooks.py [--records 2000] [--seconds 5] [--connections 64] [--rounds 4] [--only TEXT]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as base  # noqa: E402

ROUTE = """
routerAdd("GET", "/api/bench/hello/{name}", (e) => {
  return e.json(200, { message: "hello " + e.request.pathValue("name"), n: 1 });
});
"""

# Bound to a collection the workloads never touch: they must cost (almost) nothing.
ELSEWHERE = ROUTE + """
onRecordCreate((e) => { e.record.set("title", "x"); e.next(); }, "elsewhere");
onRecordCreateRequest((e) => { e.next(); }, "elsewhere");
onRecordViewRequest((e) => { e.next(); }, "elsewhere");
onRecordAfterCreateSuccess((e) => { e.next(); }, "elsewhere");
"""

TRIVIAL = """
onRecordCreateRequest((e) => { e.next(); }, "drafts");
"""


def folder(tmp, name, text):
    path = os.path.join(tmp, name)
    os.makedirs(path, exist_ok=True)
    if text:
        with open(os.path.join(path, "bench.pb.js"), "w") as f:
            f.write(text)
    return path


def start_hearth(tmp, name, hooks):
    d = os.path.join(tmp, name)
    subprocess.run([base.HEARTH, "--dir", d, "superuser", "upsert", base.EMAIL, base.PASSWORD],
                   check=True, capture_output=True)
    port = base.free_port()
    argv = [base.HEARTH, "--dir", d, "serve", "--http", f"127.0.0.1:{port}", "--hooks-dir", hooks,
            "--auth-ip-limit", "0", "--auth-identity-limit", "0"]
    server = base.Server(name, argv, port, tmp)
    return server


def start_pocketbase(tmp, hooks_text):
    d = os.path.join(tmp, "pb")
    hooks = folder(d, "h", hooks_text)
    common = ["--dir", d, "--automigrate=false", "--migrationsDir", os.path.join(d, "m"), "--hooksDir", hooks]
    pb = base.pocketbase_binary()
    subprocess.run([pb, "superuser", "upsert", base.EMAIL, base.PASSWORD] + common, check=True, capture_output=True)
    port = base.free_port()
    return base.Server("pocketbase", [pb, "serve", "--http", f"127.0.0.1:{port}"] + common, port, tmp)


def measure(a, sides):
    """sides: [(server, url, body, method)], measured alternately; median per side."""
    runs = {s.name: [] for s, _, _, _ in sides}
    peaks = {s.name: 0 for s, _, _, _ in sides}
    for n in range(a.rounds):
        # A then B, then B then A: neither side always runs on a database the other
        # side's round has just left busier (checkpoints, a warmer page cache).
        for server, url, body, method in (sides if n % 2 == 0 else sides[::-1]):
            server.reset_peak()
            runs[server.name].append(base.wrk(url, a.seconds, a.connections, body, method))
            peaks[server.name] = max(peaks[server.name], server.rss_kb("VmHWM"))
    out = {}
    for name, results in runs.items():
        out[name] = {k: statistics.median(r[k] for r in results) for k in ("rps", "p50", "p99")}
        out[name]["errors"] = sum(r["errors"] for r in results)
        out[name]["peak"] = peaks[name]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--only", default="", help="measure only the rows whose label has this text")
    a = ap.parse_args()
    if not os.path.exists(base.HEARTH):
        raise SystemExit("build hearth first: cargo build --release")

    tmp = tempfile.mkdtemp(prefix="hearth-hooks-bench-")
    plain = start_hearth(tmp, "plain", folder(tmp, "no-hooks", ""))
    elsewhere = start_hearth(tmp, "hooks elsewhere", folder(tmp, "elsewhere", ELSEWHERE))
    trivial = start_hearth(tmp, "trivial create hook", folder(tmp, "trivial", TRIVIAL))
    # The route row gets a hearth of its own, as fresh as PocketBase's: the view and create
    # rows leave the other one with a far bigger database and request log.
    routes = start_hearth(tmp, "hooks elsewhere, fresh", folder(tmp, "elsewhere", ELSEWHERE))
    pb = start_pocketbase(tmp, ROUTE)
    servers = [plain, elsewhere, trivial, routes, pb]
    ids = {s.name: base.seed(s, a.records) for s in servers}
    create = '{"title": "bench", "views": 7, "published": true}'

    def view(s):
        return (s, f"{s.base}/api/collections/posts/records/{ids[s.name]}", None, "GET")

    def create_on(s):
        return (s, f"{s.base}/api/collections/drafts/records", create, "POST")

    def route(s):
        return (s, f"{s.base}/api/bench/hello/ann", None, "GET")

    wanted = [
        ("view, hooks loaded that match nothing", lambda: [view(plain), view(elsewhere)], "plain", "hooks elsewhere", 0.97),
        ("create, hooks loaded that match nothing", lambda: [create_on(plain), create_on(elsewhere)], "plain", "hooks elsewhere", 0.97),
        ("create, trivial onRecordCreateRequest", lambda: [create_on(plain), create_on(trivial)], "plain", "trivial create hook", 0.85),
        ("routerAdd JSON route vs PocketBase", lambda: [route(routes), route(pb)], "pocketbase", "hooks elsewhere, fresh", 2.0),
    ]
    rows = [(label, measure(a, sides()), baseline, measured, target)
            for label, sides, baseline, measured, target in wanted if a.only in label]
    print(f"{a.rounds} rounds of {a.seconds}s, {a.connections} connections, {a.records} records; medians\n")
    print("| row | baseline | req/s | p50 ms | p99 ms | with hooks | req/s | p50 ms | p99 ms | peak RSS MB | ratio | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for label, r, baseline, measured, target in rows:
        b, m = r[baseline], r[measured]
        ratio = m["rps"] / b["rps"] if b["rps"] else float("nan")
        ok = ratio >= target
        failed |= not ok
        print(f"| {label} | {baseline} | {b['rps']:.0f} | {b['p50']:.2f} | {b['p99']:.2f} | {measured} | "
              f"{m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['peak'] / 1024:.0f} vs {b['peak'] / 1024:.0f} | "
              f"{ratio:.2f}x | >= {target}x {'ok' if ok else 'MISSED'} |")
        if b["errors"] or m["errors"]:
            print(f"|   errors: {baseline} {b['errors']}, {measured} {m['errors']} |")
    for s in servers:
        s.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
