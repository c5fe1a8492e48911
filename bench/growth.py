"""How cost grows with the data: bench/run.py --growth 10000,100000,1000000.

For each record count N, a fresh hearth and a fresh PocketBase get N posts (as bench/run.py
seeds them) and N tasks spread over the 1,000 users of the signed-in workload
(bench/signed_in.py: N / 1000 each), then wrk measures view by id, list with filter + sort +
totals, a signed-in user's list of own records, search for a word (hearth's ?search= on its
full-text index, PocketBase's `~` filter) and create, in that order. Reported per N: each
row as in bench/run.py, how long seeding took, each server's data.db (stopped after seeding,
so SQLite has folded its WAL back; hearth's again with the search index built) and the peak
RSS over the rows; then hearth's slowdown from the smallest N to the largest per row.

Where the work itself grows with N: both lists with totals count their matches (the
filtered list about 45% of the posts; the signed-in list a user's N / 1000 tasks, which it
also sorts, and its page of 20 fills up until N reaches 20,000), and search ranks or scans
its matches, an eighth of the posts. View and create should stay flat.

The users, teams and projects (1,000 password hashes and sign-ins on each server) are made
once: each N starts both servers on a copy of the data directories they were made in, and
the tokens signed in then stay valid.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402
import signed_in  # noqa: E402

SIGNED_IN_LIST = "signed in: list own records, sort + totals"
# Row labels in the order they run; create last, as it adds records.
ROWS = ["view by id", "list, filter + sort + totals", SIGNED_IN_LIST, "list, search for a word", "create"]


def start(tmp):
    return [run.start_hearth(tmp), run.start_pocketbase(tmp)]


def stop(servers):
    for s in servers:
        s.stop()


def db_mb(tmp, server):
    """The server's data.db in MB (with its WAL, if one was left)."""
    path = os.path.join(tmp, "hearth" if server.name == "hearth" else "pb", "data.db")
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)) / 1e6


def people(root):
    """A data directory pair holding the collections, users, teams and projects, and every
    user's token on each server."""
    tmp = os.path.join(root, "people")
    servers = start(tmp)
    data = signed_in.AppData(0)
    started = time.time()
    for s in servers:
        run.create_collections(s)
        signed_in.seed_people(s, data)
    tokens = {s.name: signed_in.sign_in(s, data) for s in servers}
    stop(servers)
    print(f"users, teams and projects made and signed in on both servers in {time.time() - started:.0f} s",
          file=sys.stderr, flush=True)
    return tmp, tokens


def measure(root, template, tokens, records, a):
    """One N: the rows, seeding times, data.db sizes and peak RSS."""
    tmp = os.path.join(root, str(records))
    shutil.copytree(template, tmp)
    servers = start(tmp)
    data = signed_in.AppData(records)
    ids, seeding = {}, {}
    for s in servers:
        started = time.time()
        ids[s.name] = run.seed_posts(s, records)
        signed_in.seed_tasks(s, data)
        seeding[s.name] = time.time() - started
        print(f"{records}: {s.name} seeded in {seeding[s.name]:.0f} s", file=sys.stderr, flush=True)
    signed_in.check(servers, data, tokens)
    stop(servers)
    size = {s.name: db_mb(tmp, s) for s in servers}
    servers = start(tmp)
    started = time.time()
    run.make_searchable(servers[0])
    indexing = time.time() - started
    servers[0].stop()
    size["hearth, search index"] = db_mb(tmp, servers[0])
    servers[0] = run.start_hearth(tmp)

    guest = dict(run.guest_workloads(ids))
    rows = {}
    for label in ROWS:
        if label == SIGNED_IN_LIST:
            rows[label] = run.measure_row(
                servers, lambda s: signed_in.measure(s, "list", data, tokens, a.seconds, a.connections))
        else:
            rows[label] = run.guest_row(servers, guest[label], a.seconds, a.connections)
    peak = {s.name: max(r[s.name]["peak"] for r in rows.values()) for s in servers}
    stop(servers)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"rows": rows, "seeding": seeding, "size": size, "indexing": indexing, "peak": peak}


def main(counts, a):
    root = tempfile.mkdtemp(prefix="hearth-growth-")
    template, tokens = people(root)
    results = {n: measure(root, template, tokens, n, a) for n in counts}
    shutil.rmtree(root, ignore_errors=True)

    print(f"How cost grows: N posts and N tasks (N / 1,000 per user), {a.seconds}s per run, "
          f"{a.connections} connections, wrk -t2, {os.cpu_count()} cores\n")
    print(f"| workload | records | {run.TABLE_HEAD}")
    print(f"|---|---:|{run.TABLE_RULE}")
    for label in ROWS:
        for n in counts:
            print(f"| {label} | {n} | {run.table_cells(results[n]['rows'][label])}")
    print("\n| records | seeding h/pb s | data.db h/pb MB | ratio | hearth data.db with search index MB "
          "(built in s) | peak RSS over the rows h/pb MB | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in counts:
        r = results[n]
        sz, sd, pk = r["size"], r["seeding"], r["peak"]
        print(f"| {n} | {sd['hearth']:.0f} / {sd['pocketbase']:.0f} | {sz['hearth']:.1f} / {sz['pocketbase']:.1f} | "
              f"{sz['hearth'] / sz['pocketbase']:.2f} | {sz['hearth, search index']:.1f} ({r['indexing']:.1f}) | "
              f"{pk['hearth'] / 1024:.1f} / {pk['pocketbase'] / 1024:.1f} | {pk['hearth'] / pk['pocketbase']:.2f} |")
    small, large = counts[0], counts[-1]
    print(f"\nhearth from {small} to {large} records:\n")
    print(f"| workload | req/s at {small} | req/s at {large} | slower by | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in ROWS:
        s, l = results[small]["rows"][label]["hearth"], results[large]["rows"][label]["hearth"]
        print(f"| {label} | {s['rps']:.0f} | {l['rps']:.0f} | {run.ratio(s['rps'], l['rps'])}x | "
              f"{s['p50']:.2f} -> {l['p50']:.2f} | {s['p99']:.2f} -> {l['p99']:.2f} |")
