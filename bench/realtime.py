#!/usr/bin/env python3
"""Realtime fan-out benchmark: N SSE clients (default 1000) subscribe to `posts/*` as
guests on hearth and on the real PocketBase in turn; events are published by creating
records (one at a time, spaced); each client notes when each event arrives. Prints
publish-to-receive latency p50/p99/max over every (client, event) pair, how many
deliveries arrived, and the server's RSS with the clients connected.

"Publish" is the moment the create request is sent, so latency includes the write and its
commit. Clients and publisher share this machine's cores with the server.

Needs what bench/run.py needs (a release build, `pocketbase` on PATH).

    python3 bench/realtime.py [--clients 1000] [--events 50] [--interval 0.1] [--procs 2]

The clients are spread over `--procs` processes (one asyncio loop each), so reading 1000
streams is not bottlenecked on one Python thread; arrival times use the system-wide
monotonic clock, comparable across processes.
"""
import argparse
import asyncio
import multiprocessing
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import EMAIL, HEARTH, PASSWORD, call, start_hearth, start_pocketbase  # noqa: E402

TITLE = re.compile(rb'"title":"t(\d+)"')


class SseClient(asyncio.Protocol):
    """One raw HTTP/1.1 SSE connection; records (publish ns, receive ns) per event."""

    def __init__(self, connected):
        self.buf = b""
        self.client_id = None
        self.connected = connected
        self.arrivals = []

    def data_received(self, data):
        now = time.perf_counter_ns()
        if self.client_id is None:
            self.buf += data
            m = re.search(rb'"clientId":"([A-Za-z0-9]+)"', self.buf)
            if m:
                self.client_id = m.group(1).decode()
                self.buf = b""
                self.connected.set_result(self.client_id)
            return
        for sent in TITLE.findall(data):
            self.arrivals.append((int(sent), now))


async def open_client(loop, port):
    connected = loop.create_future()
    transport, proto = await loop.create_connection(lambda: SseClient(connected), "127.0.0.1", port)
    transport.write(f"GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await asyncio.wait_for(connected, 30)
    return transport, proto


def subscribe(base, client_id, collection):
    call(base, "POST", "/api/realtime", {"clientId": client_id, "subscriptions": [f"{collection}/*"]})


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def hold_clients(port, base, n, ready, go, collection):
    """One client process: opens and subscribes `n` clients, reports ready, waits for `go`
    (the events are over), and returns every (sent, received) pair."""
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(n):
        conns.append(await open_client(loop, port))
    await asyncio.gather(*(loop.run_in_executor(None, subscribe, base, p.client_id, collection) for _, p in conns))
    ready.set()
    while not go.is_set():
        await asyncio.sleep(0.05)
    pairs = [pair for _, p in conns for pair in p.arrivals]
    for transport, _ in conns:
        transport.close()
    return pairs


def client_process(port, base, n, ready, go, out, collection):
    out.put(asyncio.run(hold_clients(port, base, n, ready, go, collection)))


def measure(server, clients, events, interval, procs, collection="posts"):
    idle_rss = server.rss_kb("VmRSS")
    token = call(server.base, "POST", "/api/collections/_superusers/auth-with-password",
                 {"identity": EMAIL, "password": PASSWORD})["token"]
    call(server.base, "POST", "/api/collections", {
        "name": collection, "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "title", "type": "text"}],
    }, token)
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    workers = []
    for i in range(procs):
        n = clients // procs + (1 if i < clients % procs else 0)
        ready = ctx.Event()
        proc = ctx.Process(target=client_process, args=(server.port, server.base, n, ready, go, out, collection))
        proc.start()
        workers.append((proc, ready))
    for _, ready in workers:
        if not ready.wait(120):
            raise SystemExit("clients did not connect")
    connected_rss = server.rss_kb("VmRSS")
    for _ in range(events):
        sent = time.perf_counter_ns()
        call(server.base, "POST", f"/api/collections/{collection}/records", {"title": f"t{sent}"})
        time.sleep(interval)
    time.sleep(1.0)
    peak_rss = server.rss_kb("VmHWM")
    go.set()
    pairs = [pair for _ in workers for pair in out.get(timeout=60)]
    for proc, _ in workers:
        proc.join(30)
    latencies = sorted((recv - sent) / 1e6 for sent, recv in pairs)
    return {
        "delivered": len(latencies),
        "expected": clients * events,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else float("nan"),
        "idle_rss": idle_rss / 1024,
        "connected_rss": connected_rss / 1024,
        "peak_rss": peak_rss / 1024,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--only", choices=["hearth", "pocketbase"])
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.clients * 2 + 256)), hard))
    if not os.path.exists(HEARTH):
        raise SystemExit("build hearth first: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="hearth-rt-bench-")
    results = {}
    starters = [("hearth", start_hearth), ("pocketbase", start_pocketbase)]
    for name, start in starters:
        if a.only and a.only != name:
            continue
        if name == "pocketbase" and not shutil.which("pocketbase"):
            print("pocketbase is not installed: skipped", file=sys.stderr)
            continue
        server = start(tmp)
        try:
            results[name] = measure(server, a.clients, a.events, a.interval, max(1, a.procs))
        finally:
            server.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"{a.clients} SSE clients on posts/* in {a.procs} client processes, {a.events} events "
          f"{a.interval * 1000:.0f} ms apart, {os.cpu_count()} cores shared by clients and server\n")
    print("| server | delivered | p50 ms | p99 ms | max ms | RSS idle / subscribed / peak (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['delivered']}/{r['expected']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
              f"{r['idle_rss']:.1f} / {r['connected_rss']:.1f} / {r['peak_rss']:.1f} |")


if __name__ == "__main__":
    main()
