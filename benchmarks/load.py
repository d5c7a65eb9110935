"""Drive a running endpoint (``slpack serve``, the edge server, a Function URL) with concurrent
clients.

    slpack serve dist/churn --workers 2 --port 8080 &
    python benchmarks/load.py http://127.0.0.1:8080 --data @examples/personalization/request.json \
        --clients 8 --requests 4000

Each client keeps one connection open and sends the body again and again; every answer must be
200 and identical to the first (none lost, none mixed up), else the run fails. Prints throughput
and latency percentiles. For a C load generator, wrk does the same load (it does not check answers):

    wrk -t4 -c16 -d30s -s benchmarks/wrk_post.lua http://127.0.0.1:8080/
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


def run(url: str, body: bytes, clients: int, requests: int) -> dict[str, float]:
    parts = urlsplit(url)
    per_client = max(1, requests // clients)
    latencies: list[float] = []
    failures: list[str] = []
    reference: list[bytes] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            conn.request("POST", parts.path or "/", body, {"content-type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - started)
            answer = json.loads(data)
            answer.pop("request_id", None)
            canonical = json.dumps(answer, sort_keys=True).encode()
            with lock:
                if response.status != 200:
                    failures.append(f"{response.status}: {data[:200]!r}")
                elif not reference:
                    reference.append(canonical)
                elif canonical != reference[0]:
                    failures.append(f"answer differs: {data[:200]!r}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(
            f"{len(failures)} of {len(latencies)} requests failed; first: {failures[0]}"
        )
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {
        "requests": len(ordered),
        "seconds": elapsed,
        "rps": len(ordered) / elapsed,
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--data", required=True, help="JSON body, or @file")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    body = Path(args.data[1:]).read_bytes() if args.data.startswith("@") else args.data.encode()
    report = run(args.url, body, args.clients, args.requests)
    print(json.dumps({k: round(v, 3) for k, v in report.items()}))


if __name__ == "__main__":
    sys.exit(main())
