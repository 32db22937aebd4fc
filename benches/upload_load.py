#!/usr/bin/env python3
"""Load generator for the registry upload benchmark (benches/registry.sh).

Uploads every *.zip in PKG_DIR once to POST /v1/packages with CONCURRENCY threads, each on its
own keep-alive connection, and reports uploads/s and latency percentiles. Every package must be
new to the registry, so any status other than 201 counts as an error.
Python 3 standard library only; run it as a separate process from the server.

Usage: upload_load.py --url http://127.0.0.1:PORT --token TOKEN [--concurrency 4] PKG_DIR
Prints one JSON object on stdout; a human summary and the first error bodies go to stderr.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="registry base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--token", required=True, help="lab API token")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("pkg_dir")
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.url)
    # Load every package up front so that disk reads are not part of the measurement.
    names = sorted(n for n in os.listdir(args.pkg_dir) if n.endswith(".zip"))
    bodies = []
    for n in names:
        with open(os.path.join(args.pkg_dir, n), "rb") as f:
            bodies.append(f.read())
    if not bodies:
        sys.exit(f"no *.zip in {args.pkg_dir}")
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/zip"}

    lock = threading.Lock()
    next_index = [0]
    latencies = []  # seconds, every attempted upload
    finished = []  # perf_counter() at the end of every attempted upload
    statuses = {}  # status (or exception name) -> count
    errors_shown = [0]
    start = threading.Barrier(args.concurrency + 1)

    def take():
        with lock:
            i = next_index[0]
            next_index[0] += 1
        return i if i < len(bodies) else None

    def record(latency, status, detail=""):
        with lock:
            latencies.append(latency)
            finished.append(time.perf_counter())
            statuses[status] = statuses.get(status, 0) + 1
            if status != 201 and errors_shown[0] < 5:
                errors_shown[0] += 1
                print(f"upload error: {status} {detail[:300]}", file=sys.stderr)

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout)
        start.wait()
        while (i := take()) is not None:
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/packages", body=bodies[i], headers=headers)
                resp = conn.getresponse()
                data = resp.read()  # read fully to keep the connection reusable
                record(time.perf_counter() - t0, resp.status, f"{names[i]}: {data.decode(errors='replace')}")
            except (OSError, http.client.HTTPException) as e:
                record(time.perf_counter() - t0, type(e).__name__, f"{names[i]}: {e}")
                conn.close()  # reconnects on the next request
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0

    lat = sorted(latencies)
    # Rate over the first and the last third of the run (by completion order), to show whether
    # uploads slow down as the registry fills.
    done = sorted(finished)
    third = len(done) // 3
    first_rate = third / (done[third - 1] - t0) if third else float("nan")
    last_rate = third / (done[-1] - done[-third - 1]) if third else float("nan")
    ok = statuses.get(201, 0)
    result = {
        "uploads": len(bodies),
        "created": ok,
        "errors": len(bodies) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "concurrency": args.concurrency,
        "mean_package_bytes": round(sum(map(len, bodies)) / len(bodies)),
        "seconds": round(wall, 3),
        "uploads_per_s": round(ok / wall, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1),
        "first_third_per_s": round(first_rate, 1),
        "last_third_per_s": round(last_rate, 1),
    }
    print(
        f"{ok}/{len(bodies)} uploads created in {wall:.2f} s: {result['uploads_per_s']} uploads/s, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms, "
        f"first/last third {result['first_third_per_s']}/{result['last_third_per_s']} uploads/s, "
        f"errors {result['errors']} {result['statuses']}",
        file=sys.stderr,
    )
    print(json.dumps(result))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
