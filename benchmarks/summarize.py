#!/usr/bin/env python3
"""Turns a Google Benchmark JSON file into a Markdown table with ratios.

Each benchmark is shown with its real time per iteration and counters. A
benchmark whose name matches a baseline rule gets a `ratio` column: its time
divided by the baseline's time from the same run (same binary, same
process), which is what the performance contract is stated in.
"""

import json
import re
import sys

# (pattern for the measured benchmark, name of its baseline in the same run)
BASELINES = [
    (r"^BM_GroupStatusReadiness/threads:(\d+)$", "BM_BareAtomicLoad{t}"),
    (r"^BM_ReadinessAccessor/threads:(\d+)$", "BM_BareAtomicLoad{t}"),
    (r"^BM_Beat(/threads:(\d+))?$", "BM_BareRelaxedStore{t}"),
    (r"^BM_Beat\w*", "BM_BareRelaxedStore"),
    (r"^BM_Sample(\w+)$", "BM_RawRead{0}"),
]


def fmt_time(ns):
    if ns < 1e3:
        return "%.2f ns" % ns
    if ns < 1e6:
        return "%.2f µs" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def to_ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def main(path):
    with open(path) as f:
        data = json.load(f)
    rows = [b for b in data["benchmarks"] if b.get("run_type") != "aggregate"]
    by_name = {b["name"]: b for b in rows}
    print("## %s" % path.rsplit("/", 1)[-1].replace(".json", ""))
    print()
    print("| benchmark | time | ratio to baseline | counters |")
    print("|---|---|---|---|")
    for b in rows:
        name = b["name"]
        ratio = ""
        for pattern, base in BASELINES:
            m = re.match(pattern, name)
            if not m:
                continue
            threads = m.group(1) if m.groups() and m.group(1) else ""
            if threads and threads.isdigit():
                candidates = [base.format(threads, t="/threads:" + threads)]
            else:
                candidates = [base.format(*(m.groups() or [""]), t="")]
            if "{t}" in base:
                candidates.append(base.format(t=""))
            for cand in candidates:
                if cand in by_name and cand != name:
                    ratio = "%.2f× %s" % (to_ns(b) / to_ns(by_name[cand]), cand)
                    break
            if ratio:
                break
        counters = ", ".join(
            "%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
            for k, v in b.items()
            if k not in ("name", "run_name", "run_type", "repetitions",
                         "repetition_index", "threads", "iterations",
                         "real_time", "cpu_time", "time_unit",
                         "family_index", "per_family_instance_index",
                         "aggregate_name", "error_occurred", "error_message")
            and isinstance(v, (int, float)))
        print("| %s | %s | %s | %s |" % (name, fmt_time(to_ns(b)), ratio,
                                         counters))
    print()


if __name__ == "__main__":
    main(sys.argv[1])
