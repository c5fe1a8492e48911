#!/usr/bin/env python3
"""Litestream benchmark: hearth under `litestream replicate -exec`, replicating data.db and
auxiliary.db to an S3 bucket, with writers creating records for a while and the daily
checkpoint job (`__pbDBOptimize__`) run every few seconds, as the day's one run would land
in the middle of a load. Reports what decides whether hearth's checkpoints and Litestream's
fight: write latency (a stall shows as a max), the WAL sizes, replication lag (seconds since
Litestream's last successful sync, from its control socket), how often Litestream had to
take a full snapshot, its checkpoint errors, and how long a graceful stop takes.

Needs `litestream` (0.5.x) and an S3 endpoint that takes anonymous requests, such as
`weed server -s3` without `-s3.config`; the bucket is created if missing.

    python3 bench/litestream.py --hearth target/debug/hearth --s3 http://127.0.0.1:18333 \
        [--seconds 30] [--writers 32] [--optimize-every 5] [--hearth-arg=--litestream ...]

Every `--hearth-arg` is added to `hearth serve`; the text `{socket}` in one becomes the
path of Litestream's control socket.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime

EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"


def api(port, method, path, body=None, token=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = token
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_get(path, route):
    """GET `route` from Litestream's control socket (HTTP over a Unix socket)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    s.sendall(f"GET {route} HTTP/1.0\r\nHost: litestream\r\n\r\n".encode())
    chunks = []
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks.append(c)
    s.close()
    return json.loads(b"".join(chunks).split(b"\r\n\r\n", 1)[1])


def parse_time(text):
    # Go's RFC 3339 with nanoseconds; Python takes microseconds.
    text = re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()


def config(dir, s3, bucket, prefix, metrics_port, sock):
    def db(name):
        return f"""  - path: {dir}/{name}
    replica:
      type: s3
      bucket: {bucket}
      path: {prefix}/{name}
      endpoint: {s3}
      region: us-east-1
      force-path-style: true
      access-key-id: bench
      secret-access-key: bench
      sync-interval: 1s
"""
    return f"""addr: 127.0.0.1:{metrics_port}
socket:
  enabled: true
  path: {sock}
logging:
  level: debug
dbs:
{db("data.db")}{db("auxiliary.db")}"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hearth", required=True)
    p.add_argument("--s3", required=True)
    p.add_argument("--bucket", default="lsbench")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--writers", type=int, default=32)
    p.add_argument("--optimize-every", type=float, default=5)
    p.add_argument("--hearth-arg", action="append", default=[])
    args = p.parse_args()

    try:
        urllib.request.urlopen(urllib.request.Request(f"{args.s3}/{args.bucket}", method="PUT"))
    except urllib.error.HTTPError as e:
        if e.code != 409:  # 409: the bucket is there already
            raise
    work = tempfile.mkdtemp(prefix="hearth-litestream-")
    dir = os.path.join(work, "hearth_data")
    os.makedirs(dir)
    sock = os.path.join(work, "litestream.sock")
    port, metrics_port = free_port(), free_port()
    prefix = os.path.basename(work)
    cfg = os.path.join(work, "litestream.yml")
    with open(cfg, "w") as f:
        f.write(config(dir, args.s3, args.bucket, prefix, metrics_port, sock))
    # The databases exist before Litestream starts, as after a restore.
    subprocess.run([args.hearth, "--dir", dir, "superuser", "upsert", EMAIL, PASSWORD],
                   check=True, capture_output=True)
    extra = [a.replace("{socket}", sock) for a in args.hearth_arg]
    exec_cmd = " ".join([args.hearth, "--dir", dir, "serve", "--http", f"127.0.0.1:{port}",
                         "--auth-ip-limit", "0"] + extra)
    log_path = os.path.join(work, "litestream.log")
    log = open(log_path, "w")
    ls = subprocess.Popen(["litestream", "replicate", "-config", cfg, "-exec", exec_cmd],
                          stdout=log, stderr=log, env={**{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
                               "RUST_LOG": "warn"})
    deadline = time.time() + 30
    while True:
        try:
            if api(port, "GET", "/api/health")[0] == 200:
                break
        except OSError:
            pass
        assert time.time() < deadline, "hearth did not start"
        time.sleep(0.1)
    status, body = api(port, "POST", "/api/collections/_superusers/auth-with-password",
                       {"identity": EMAIL, "password": PASSWORD})
    token = json.loads(body)["token"]
    status, body = api(port, "POST", "/api/collections", {
        "name": "items", "type": "base", "createRule": "", "listRule": "",
        "fields": [{"name": "title", "type": "text"}, {"name": "n", "type": "number"}]}, token)
    assert status == 200, body

    stop = threading.Event()
    latencies, errors = [], []
    lock = threading.Lock()

    def writer(w):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while not stop.is_set():
            body = json.dumps({"title": f"w{w}-{i}-" + "x" * 200, "n": i})
            t = time.time()
            try:
                conn.request("POST", "/api/collections/items/records", body=body,
                             headers={"Content-Type": "application/json"})
                res = conn.getresponse()
                res.read()
                ok = res.status == 200
            except OSError as e:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            took = time.time() - t
            with lock:
                (latencies if ok else errors).append(took)
            i += 1

    samples = {"wal_data": [], "wal_aux": [], "lag": []}

    def sampler():
        while not stop.is_set():
            for key, name in (("wal_data", "data.db-wal"), ("wal_aux", "auxiliary.db-wal")):
                try:
                    samples[key].append(os.path.getsize(os.path.join(dir, name)))
                except OSError:
                    pass
            try:
                now = time.time()
                for d in socket_get(sock, "/list")["databases"]:
                    if d.get("last_sync_at"):
                        samples["lag"].append(now - parse_time(d["last_sync_at"]))
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.25)

    optimize_times = []

    def optimizer():
        while not stop.wait(args.optimize_every):
            t = time.time()
            status, body = api(port, "POST", "/api/crons/__pbDBOptimize__", token=token)
            optimize_times.append(time.time() - t)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
    threads += [threading.Thread(target=sampler)]
    if args.optimize_every > 0:
        threads.append(threading.Thread(target=optimizer))
    started = time.time()
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.time() - started

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
    t = time.time()
    ls.send_signal(signal.SIGTERM)
    ls.wait(timeout=120)
    shutdown = time.time() - t
    log.close()
    text = open(log_path).read()
    snaps = [line for line in text.splitlines() if "snap=true" in line]
    reasons = {}
    for line in snaps:
        m = re.search(r'reason="([^"]*)"', line)
        r = m.group(1) if m else "first sync"
        reasons[r] = reasons.get(r, 0) + 1
    ckpt_errors = sum(float(v) for v in re.findall(
        r'^litestream_checkpoint_error_count\{[^}]*\} (\S+)', metrics, re.M))
    ckpts = re.findall(r'^litestream_checkpoint_count\{db="[^"]*/([^"/]+)",mode="(\w+)"\} (\S+)',
                       metrics, re.M)
    lat = sorted(latencies)
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000 if lat else 0
    mib = lambda xs: max(xs) / 2**20 if xs else 0
    print(json.dumps({
        "hearth_args": extra,
        "writes_acknowledged": len(lat), "writes_failed": len(errors),
        "writes_per_s": round(len(lat) / elapsed, 1),
        "latency_ms": {"p50": round(q(0.5), 1), "p99": round(q(0.99), 1),
                       "max": round(lat[-1] * 1000 if lat else 0, 1)},
        "optimize_job_s": [round(x, 2) for x in optimize_times],
        "wal_max_mib": {"data": round(mib(samples["wal_data"]), 1),
                        "auxiliary": round(mib(samples["wal_aux"]), 1)},
        "lag_s": {"median": round(statistics.median(samples["lag"]), 2) if samples["lag"] else None,
                  "max": round(max(samples["lag"]), 2) if samples["lag"] else None},
        "litestream_snapshots": reasons,
        "litestream_checkpoints": {f"{d}/{m}": float(v) for d, m, v in ckpts},
        "litestream_checkpoint_errors": ckpt_errors,
        "shutdown_s": round(shutdown, 2),
        "log": log_path,
    }, indent=1))


if __name__ == "__main__":
    main()
