#!/usr/bin/env python3
"""File benchmark: hearth vs the real PocketBase in one run. Upload and download
throughput of a 10 MB file, and peak server memory while 20 uploads run at once (uploads
must stream to disk, so memory stays bounded whatever the file sizes).

Needs a release build of hearth and `pocketbase` on PATH, as bench/run.py.

    python3 bench/files.py [--rounds 10] [--size-mb 10] [--parallel 20]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared server start-up of bench/run.py)

BOUNDARY = "hearthbenchboundary7MA4YWxkTrZu0gW"


def multipart(field, name, payload):
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return head + payload + f"\r\n--{BOUNDARY}--\r\n".encode()


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, data


def upload(server, body):
    status, data = request(server, "POST", "/api/collections/blobs/records", body,
                           {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    if status != 200:
        raise SystemExit(f"{server.name}: upload failed with {status}: {data[:200]!r}")
    return json.loads(data)


def setup(server, max_size):
    token = run.call(server.base, "POST", "/api/collections/_superusers/auth-with-password",
                     {"identity": run.EMAIL, "password": run.PASSWORD})["token"]
    run.call(server.base, "POST", "/api/collections", {
        "name": "blobs", "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "file", "type": "file", "maxSelect": 1, "maxSize": max_size}],
    }, token)


def peak_rss_during(server, work):
    """Runs `work` while sampling the server's resident memory; returns (result, peak MB)."""
    peak, done = [server.rss_kb("VmRSS")], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kb("VmRSS"))
            time.sleep(0.005)

    t = threading.Thread(target=sample)
    t.start()
    try:
        result = work()
    finally:
        done.set()
        t.join()
    return result, peak[0] / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--size-mb", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=20)
    a = ap.parse_args()
    if not os.path.exists(run.HEARTH):
        raise SystemExit("build hearth first: cargo build --release")
    size = a.size_mb * 1024 * 1024
    body = multipart("file", "payload.bin", os.urandom(size))

    tmp = tempfile.mkdtemp(prefix="hearth-files-bench-")
    results = {}
    try:
        # One server at a time, so neither competes with the other for the two cores.
        for start in (run.start_hearth, run.start_pocketbase):
            server = start(tmp)
            try:
                setup(server, size * 2)
                idle = server.rss_kb("VmRSS") / 1024
                started = time.time()
                records = [upload(server, body) for _ in range(a.rounds)]
                up = a.rounds * size / (time.time() - started) / 1e6
                rec = records[0]
                path = f"/api/files/blobs/{rec['id']}/{rec['file']}"
                started = time.time()
                for _ in range(a.rounds):
                    status, data = request(server, "GET", path)
                    assert status == 200 and len(data) == size, (status, len(data))
                down = a.rounds * size / (time.time() - started) / 1e6

                def burst():
                    with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
                        return list(pool.map(lambda _: upload(server, body), range(a.parallel)))

                started = time.time()
                _, peak = peak_rss_during(server, burst)
                burst_s = time.time() - started
                results[server.name] = {"up": up, "down": down, "idle": idle, "peak": peak, "burst": burst_s}
            finally:
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    h, p = results["hearth"], results["pocketbase"]
    print(f"{a.size_mb} MB file, {a.rounds} sequential uploads and downloads, then {a.parallel} uploads at once; "
          f"{os.cpu_count()} cores, loopback\n")
    print("| | hearth | PocketBase | ratio |\n|---|---:|---:|---:|")
    print(f"| upload MB/s | {h['up']:.0f} | {p['up']:.0f} | {h['up'] / p['up']:.2f}x |")
    print(f"| download MB/s | {h['down']:.0f} | {p['down']:.0f} | {h['down'] / p['down']:.2f}x |")
    print(f"| {a.parallel} parallel uploads (s) | {h['burst']:.2f} | {p['burst']:.2f} | {h['burst'] / p['burst']:.2f} |")
    print(f"| RSS before (MB) | {h['idle']:.1f} | {p['idle']:.1f} | |")
    print(f"| peak RSS during the {a.parallel} uploads (MB) | {h['peak']:.1f} | {p['peak']:.1f} | {h['peak'] / p['peak']:.2f} |")


if __name__ == "__main__":
    main()
