#!/usr/bin/env python3
"""Measures probe latency: N sequential GETs, each on a new connection (as a
kubelet or load balancer probes), with a probe's timeout. Prints p50, p99,
max and how many failed or timed out.

  examples/service/probe_latency.py http://127.0.0.1:8080/readyz -n 1000
"""
import argparse
import http.client
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("url")
    ap.add_argument("-n", type=int, default=1000, help="requests (default 1000)")
    ap.add_argument("--timeout", type=float, default=1.0,
                    help="per-request timeout in seconds (default 1)")
    ap.add_argument("--keepalive", action="store_true",
                    help="reuse one connection instead of one per request")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    path = u.path + ("?" + u.query if u.query else "")
    latencies, failures, statuses = [], 0, {}
    conn = None
    for _ in range(args.n):
        start = time.perf_counter()
        try:
            if conn is None or not args.keepalive:
                conn = http.client.HTTPConnection(u.hostname, u.port,
                                                  timeout=args.timeout)
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if not args.keepalive:
                conn.close()
        except (OSError, http.client.HTTPException):
            failures += 1
            conn = None
            continue
        latencies.append(time.perf_counter() - start)
    latencies.sort()

    def pct(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    print(f"{args.url}: {len(latencies)} answered {statuses}, "
          f"{failures} failed or timed out (>{args.timeout}s); "
          f"p50 {pct(0.50):.3f} ms, p99 {pct(0.99):.3f} ms, "
          f"max {latencies[-1] * 1e3 if latencies else float('nan'):.3f} ms")


if __name__ == "__main__":
    main()
