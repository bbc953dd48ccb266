#!/usr/bin/env python3
"""Turns vigil's benchmark results into Markdown tables with ratios.

  summarize.py headline RESULTS_DIR      the contract table: each figure next
                                         to its baseline from the same run
  summarize.py details FILE.json         every benchmark of one Google
                                         Benchmark binary, with its baseline
  summarize.py names BINARY              the benchmark names the spec below
                                         uses for BINARY (for the test that
                                         keeps the spec and the binaries in
                                         step)

RESULTS_DIR holds core_benchmark.json, pressure_benchmark.json,
watchdog_benchmark.json, grpc_benchmark.json (Google Benchmark's JSON
output), http.json (written by benchmarks/http/run.sh) and
history_cost.json (benchmarks/history_cost.sh). A name the spec expects but a result
file lacks is reported as MISSING and makes the exit status 1, so a renamed
benchmark cannot silently drop its row.

Ratios are always vigil's cost over the baseline's cost (time over time, or
for throughput the baseline's requests/s over vigil's): 1.00 means as cheap
as the baseline, 1.25 means 25% more expensive. The performance contract
asks for at most 1.10 where vigil has a baseline to match.
"""

import json
import os
import sys

# Allowed cost over the baseline before a row is flagged for profiling.
TOLERANCE = 1.10

# grpc_benchmark's completion rows: (load, cpu), see BM_CompletionUnderGrpc.
GRPC_COMPLETION = "BM_CompletionUnderGrpc/load:%d/cpu:%d/iterations:1/manual_time"

# (binary, what, measured benchmark, baseline benchmark, metric). Metric
# "real" is wall time per iteration; "cpu" is CPU time per iteration, which
# for /threads:N benchmarks is the cost per operation on each thread; a name
# ending in "_ms" is that counter of the benchmark, in milliseconds.
GBENCH_ROWS = [
    ("core_benchmark", "`readiness()`: the hot-path read",
     "BM_ReadinessAccessor/threads:1", "BM_BareAtomicLoad", "real"),
    ("core_benchmark", "`readiness()`, 2 threads reading",
     "BM_ReadinessAccessor/threads:2", "BM_BareAtomicLoad/threads:2", "cpu"),
    ("core_benchmark", "`GroupStatus(kReadiness)`: lookup by name",
     "BM_GroupStatusReadiness/threads:1", "BM_BareAtomicLoad", "real"),
    ("core_benchmark",
     "`GroupStatus(\"batch\")`: a custom group, found by name in the "
     "snapshot (for scale: only the four well-known groups are one load)",
     "BM_GroupStatusCustomGroup", None, "real"),
    ("core_benchmark", "check completion with 1,000 checks vs 10",
     "BM_CheckCompletionWithNChecks/1000", "BM_CheckCompletionWithNChecks/10",
     "real"),
    ("core_benchmark", "check completion with 10,000 checks vs 10",
     "BM_CheckCompletionWithNChecks/10000", "BM_CheckCompletionWithNChecks/10",
     "real"),
    ("core_benchmark", "`/statusz` page for 10 checks (no baseline)",
     "BM_StatusPage/10", None, "real"),
    ("core_benchmark", "`/statusz` page for 1,000 checks (no baseline)",
     "BM_StatusPage/1000", None, "real"),
    ("core_benchmark", "100 checks of 50 ms vs the slowest single check",
     "BM_FanOut/checks:100/max_workers:128/hung:0/iterations:3/manual_time",
     "BM_FanOut/checks:1/max_workers:128/hung:0/iterations:3/manual_time",
     "real"),
    ("core_benchmark", "same, one more check hung",
     "BM_FanOut/checks:100/max_workers:128/hung:1/iterations:3/manual_time",
     "BM_FanOut/checks:1/max_workers:128/hung:0/iterations:3/manual_time",
     "real"),
    ("core_benchmark", "HealthReport for 10,000 checks (no baseline)",
     "BM_BuildHealthReport/10000", None, "real"),
    ("core_benchmark", "its JSON (no baseline)",
     "BM_ReportToJson/10000", None, "real"),
    ("core_benchmark", "its binary protobuf (no baseline)",
     "BM_ReportToBinary/10000", None, "real"),
    ("pressure_benchmark", "memory sample vs pread of its files kept open",
     "BM_Sample<MemoryDetector>", "BM_RawKeptOpenPread<MemoryDetector>", "cpu"),
    ("pressure_benchmark", "cpu sample vs pread kept open",
     "BM_Sample<CpuDetector>", "BM_RawKeptOpenPread<CpuDetector>", "cpu"),
    ("pressure_benchmark", "io sample vs pread kept open",
     "BM_Sample<IoDetector>", "BM_RawKeptOpenPread<IoDetector>", "cpu"),
    ("pressure_benchmark", "fds sample vs pread kept open",
     "BM_Sample<FdDetector>", "BM_RawKeptOpenPread<FdDetector>", "cpu"),
    ("pressure_benchmark", "tasks sample vs pread kept open",
     "BM_Sample<TasksDetector>", "BM_RawKeptOpenPread<TasksDetector>", "cpu"),
    ("pressure_benchmark", "disk sample vs a bare statvfs",
     "BM_Disk_Sample", "BM_Disk_RawStatvfs", "cpu"),
    ("pressure_benchmark", "memory sample vs naive open+read+close",
     "BM_Sample<MemoryDetector>", "BM_RawOpenReadClose<MemoryDetector>", "cpu"),
    ("pressure_benchmark",
     "memory: kernel event -> published snapshot, median, vs polling every "
     "1 s",
     "BM_MemoryEventToSnapshot/events:1/iterations:100/manual_time",
     "BM_MemoryEventToSnapshot/events:0/iterations:10/manual_time",
     "median_ms"),
    ("pressure_benchmark",
     "memory: kernel event -> published snapshot, p99, vs polling every 1 s",
     "BM_MemoryEventToSnapshot/events:1/iterations:100/manual_time",
     "BM_MemoryEventToSnapshot/events:0/iterations:10/manual_time",
     "p99_ms"),
    ("pressure_benchmark",
     "memory: idle CPU of the process, events armed vs polling only",
     "BM_MemoryIdleCost/events:1/iterations:2/process_time/real_time",
     "BM_MemoryIdleCost/events:0/iterations:2/process_time/real_time", "cpu"),
    ("pressure_benchmark",
     "all default detectors: idle CPU of the process, every event source "
     "armed (memory, CPU and IO PSI triggers) vs polling only",
     "BM_DefaultDetectorsIdleCost/events:1/iterations:2/process_time/"
     "real_time",
     "BM_DefaultDetectorsIdleCost/events:0/iterations:2/process_time/"
     "real_time", "cpu"),
    ("grpc_benchmark",
     "gRPC `Check(\"readiness\")` over loopback vs a bare grpc++ unary "
     "handler (median of alternating rounds; spread: ratio_p10/p90 in the "
     "details)",
     "BM_GrpcCheckRounds/variant:1/iterations:1/manual_time",
     "BM_GrpcCheckRounds/variant:0/iterations:1/manual_time", "real"),
    ("grpc_benchmark",
     "gRPC `Check` of one check (snapshot lookup) vs the same bare handler",
     "BM_GrpcCheckRounds/variant:2/iterations:1/manual_time",
     "BM_GrpcCheckRounds/variant:0/iterations:1/manual_time", "real"),
    ("grpc_benchmark",
     "registry threads' CPU per check completion (10 checks flipping), "
     "100 Watch streams + Check flood of 2,000/s vs no gRPC server",
     GRPC_COMPLETION % (3, 1), GRPC_COMPLETION % (0, 1), "real"),
    ("grpc_benchmark",
     "the same, wall time per completion (includes sharing the 2 cores "
     "with gRPC's and the clients' threads)",
     GRPC_COMPLETION % (3, 0), GRPC_COMPLETION % (0, 0), "real"),
    ("grpc_benchmark",
     "100 Watch streams + Check flood while a check flips every 10 ms, 3 s "
     "(no baseline; lost_final, coalesced, rss_growth_kib in the details)",
     "BM_WatchLoad/iterations:1/manual_time", None, "real"),
    ("watchdog_benchmark", "a heartbeat beat vs a bare relaxed store",
     "BM_Beat", "BM_BareRelaxedStore", "cpu"),
    ("watchdog_benchmark", "2 threads beating separate heartbeats vs 1 thread",
     "BM_BeatSeparateHeartbeats/threads:2",
     "BM_BeatSeparateHeartbeats/threads:1", "cpu"),
    ("watchdog_benchmark", "baseline of that: bare stores, 2 threads vs 1",
     "BM_BareStoreSeparateLines/threads:2",
     "BM_BareStoreSeparateLines/threads:1", "cpu"),
]

# Rows for the details table of each binary: (measured, baseline, metric),
# beyond those in GBENCH_ROWS. Other benchmarks are listed without a ratio.
DETAIL_ROWS = {
    "core_benchmark": [
        ("BM_CheckCompletionWithNChecks/100",
         "BM_CheckCompletionWithNChecks/10", "real"),
        # The history's cost in time (noisy on a shared machine; the
        # headline counts instructions, see history_cost_rows).
        ("BM_CheckCompletionWithHistory/10",
         "BM_CheckCompletionWithNChecks/10", "real"),
        ("BM_CheckCompletionWithHistory/1000",
         "BM_CheckCompletionWithNChecks/1000", "real"),
        ("BM_CheckCompletionWithNoopResultListener/10",
         "BM_CheckCompletionWithNChecks/10", "real"),
        ("BM_FanOut/checks:100/max_workers:4/hung:0/iterations:3/manual_time",
         "BM_FanOut/checks:1/max_workers:128/hung:0/iterations:3/manual_time",
         "real"),
        ("BM_FanOut/checks:100/max_workers:16/hung:0/iterations:3/manual_time",
         "BM_FanOut/checks:1/max_workers:128/hung:0/iterations:3/manual_time",
         "real"),
    ],
    "pressure_benchmark": [
        ("BM_Sample<%s>" % d, "BM_RawOpenReadClose<%s>" % d, "cpu")
        for d in ("CpuDetector", "IoDetector", "FdDetector", "TasksDetector")
    ],
    "grpc_benchmark": [
        (GRPC_COMPLETION % (load, cpu), GRPC_COMPLETION % (0, cpu), "real")
        for load in (1, 2, 4) for cpu in (0, 1)
    ],
    "watchdog_benchmark": [
        ("BM_BeatSeparateHeartbeats/threads:1", "BM_BareRelaxedStore", "cpu"),
        ("BM_BeatOneHeartbeat/threads:2", "BM_BareStoreSharedLine/threads:2",
         "cpu"),
    ],
}


def fmt_time(ns):
    if ns != ns:  # NaN
        return "n/a"
    if ns < 1e3:
        return "%.2f ns" % ns
    if ns < 1e6:
        return "%.2f µs" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


def to_ns(bench, metric):
    if metric.endswith("_ms"):  # A counter in milliseconds (median_ms...).
        return bench[metric] * 1e6
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[
        bench.get("time_unit", "ns")]
    return bench["cpu_time" if metric == "cpu" else "real_time"] * scale


def verdict(ratio, has_baseline=True):
    if not has_baseline:
        return ""
    if ratio <= TOLERANCE:
        return "ok"
    return "**%.0f%% over**" % (100 * (ratio - 1))


def load_gbench(path):
    """name -> benchmark entry (iterations, not aggregates) of one file."""
    with open(path) as f:
        data = json.load(f)
    return {
        b["name"]: b
        for b in data["benchmarks"]
        if b.get("run_type") != "aggregate" and not b.get("error_occurred")
    }


class Table:
    """Collects headline rows and remembers what was missing."""

    def __init__(self):
        self.rows = []
        self.missing = []

    def add(self, what, vigil, baseline, ratio, has_baseline=True,
            note=None):
        self.rows.append((what, vigil, baseline,
                          "%.2f" % ratio if has_baseline else "",
                          note if note is not None else
                          verdict(ratio, has_baseline)))

    def add_missing(self, what, name):
        self.missing.append(name)
        self.rows.append((what, "MISSING: %s" % name, "", "", "missing"))

    def print(self):
        print("| what | vigil | baseline (same run) | cost ratio | "
              "within 1.10× |")
        print("|---|---|---|---|---|")
        for r in self.rows:
            print("| %s |" % " | ".join(r))
        print()


def gbench_rows(table, results_dir):
    files = {}
    for binary, what, measured, base, metric in GBENCH_ROWS:
        if binary not in files:
            path = os.path.join(results_dir, binary + ".json")
            files[binary] = load_gbench(path) if os.path.exists(path) else {}
        by_name = files[binary]
        if measured not in by_name:
            table.add_missing(what, "%s %s" % (binary, measured))
            continue
        if base is not None and base not in by_name:
            table.add_missing(what, "%s %s" % (binary, base))
            continue
        m = to_ns(by_name[measured], metric)
        if base is None:
            table.add(what, fmt_time(m), "", 0, has_baseline=False)
            continue
        b = to_ns(by_name[base], metric)
        label = " (CPU/op)" if metric == "cpu" else ""
        table.add(what, fmt_time(m) + label, fmt_time(b) + label,
                  m / b if b else float("inf"))


def http_rows(table, results_dir):
    path = os.path.join(results_dir, "http.json")
    if not os.path.exists(path):
        table.add_missing("loopback harness", "http.json")
        return
    with open(path) as f:
        h = json.load(f)
    rps = h["rps"]
    for base, label in (("bare", "bare cpp-httplib handler"),
                        ("nginx", "nginx `return 200`")):
        table.add("`/readyz` requests/s over loopback vs %s" % label,
                  "%.0f/s" % rps["vigil"], "%.0f/s" % rps[base],
                  rps[base] / rps["vigil"] if rps["vigil"] else float("inf"))
    p99 = h["p99_ms"]
    table.add("`/readyz` p99 latency under that load vs nginx",
              "%.3f ms" % p99["vigil"], "%.3f ms" % p99["nginx"],
              p99["vigil"] / p99["nginx"] if p99["nginx"] else float("inf"))
    sat = h["saturated_p99_ms"]
    table.add("probe p99 while the app's threads are saturated: dedicated "
              "ProbeServer vs probes mounted on the app server",
              "%.3f ms" % sat["dedicated"], "%.3f ms" % sat["mounted"],
              sat["dedicated"] / sat["mounted"] if sat["mounted"] else 0)
    idle = h["idle"]
    window = idle["window_s"]
    on, off = idle["on"], idle["off"]
    # The idle baseline does next to nothing (a 50 ms sleep loop), so the
    # CPU ratio is shown but judged on vigil's absolute share of a core.
    share = 100.0 * (on["cpu_s"] - off["cpu_s"]) / window
    table.add("idle CPU of the example service, %% of one core (%d s)" % window,
              "%.3f %%" % (100.0 * on["cpu_s"] / window),
              "%.3f %% (--vigil=false)" % (100.0 * off["cpu_s"] / window),
              on["cpu_s"] / off["cpu_s"] if off["cpu_s"] else float("inf"),
              note="vigil's share: %.3f %% of one core" % share)
    table.add("idle RSS of the example service",
              "%d KiB" % on["rss_kib"],
              "%d KiB (--vigil=false)" % off["rss_kib"],
              on["rss_kib"] / off["rss_kib"] if off["rss_kib"] else float("inf"))


# Issue 16 allows the history at most this cost on check completion.
HISTORY_TOLERANCE = 1.05


def history_cost_rows(table, results_dir):
    """Rows from history_cost.json (benchmarks/history_cost.sh): instructions
    per check completion under callgrind, median of its rounds."""
    path = os.path.join(results_dir, "history_cost.json")
    if not os.path.exists(path):
        table.add_missing("history cost on check completion",
                          "history_cost.json")
        return
    with open(path) as f:
        h = json.load(f)
    per = h["instructions_per_completion"]
    rng = h.get("range", {})

    def cell(side):
        lo, hi = rng.get(side, [per[side], per[side]])
        return "%.0f instr. (%.0f–%.0f, %d rounds)" % (
            per[side], lo, hi, h.get("rounds", 1))

    for side, base, what in (
            ("with_history", "without",
             "check completion (%d checks) with the history attached vs "
             "without, instructions (issue 16 asks <= %.2f)"
             % (h["checks"], HISTORY_TOLERANCE)),
            ("with_history", "noop_listener",
             "same, vs a result listener that does nothing (the journal's "
             "own cost)"),
            ("noop_listener", "without",
             "same, a no-op result listener vs nothing (the hook's cost)")):
        ratio = per[side] / per[base] if per[base] else float("inf")
        note = ("ok" if ratio <= HISTORY_TOLERANCE else
                "**%.1f%% over (allowed %.0f%%)**" % (
                    100 * (ratio - 1), 100 * (HISTORY_TOLERANCE - 1)))
        table.add(what, cell(side), cell(base), ratio, note=note)


def headline(results_dir):
    table = Table()
    gbench_rows(table, results_dir)
    history_cost_rows(table, results_dir)
    http_rows(table, results_dir)
    print("## Headline: each figure next to its baseline")
    print()
    print("Cost ratio = vigil's cost / the baseline's cost, measured in the "
          "same run (for throughput: the baseline's requests/s / vigil's). "
          "1.00 is as cheap as the baseline; the contract allows 1.10. Rows "
          "without a baseline are absolute.")
    print()
    table.print()
    for name in table.missing:
        print("summarize: missing from the results: %s" % name,
              file=sys.stderr)
    return 1 if table.missing else 0


def spec_rows(binary):
    """(measured, baseline or None, metric) for one binary, from both specs,
    headline rows first."""
    rows = [(m, base, metric)
            for b, _, m, base, metric in GBENCH_ROWS if b == binary]
    return rows + list(DETAIL_ROWS.get(binary, []))


def details(path):
    binary = os.path.basename(path).replace(".json", "")
    by_name = load_gbench(path)
    # The details show one baseline per benchmark: the first in the specs.
    pairs = {}
    for measured, base, metric in spec_rows(binary):
        if base is not None:
            pairs.setdefault(measured, (base, metric))
    with open(path) as f:
        ordered = [b for b in json.load(f)["benchmarks"]
                   if b.get("run_type") != "aggregate"]
    print("## %s" % binary)
    print()
    print("| benchmark | real time | CPU time | cost ratio to baseline | "
          "counters |")
    print("|---|---|---|---|---|")
    status = 0
    for b in ordered:
        name = b["name"]
        if b.get("error_occurred"):
            print("| %s | error: %s | | | |" % (name, b.get("error_message")))
            continue
        ratio = ""
        if name in pairs:
            base, metric = pairs[name]
            if base in by_name:
                r = to_ns(b, metric) / to_ns(by_name[base], metric)
                ratio = "%.2f× %s (%s)" % (r, base, metric)
            else:
                ratio = "MISSING baseline %s" % base
                status = 1
        counters = ", ".join(
            "%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v)
            for k, v in b.items()
            if k not in ("name", "run_name", "run_type", "repetitions",
                         "repetition_index", "threads", "iterations",
                         "real_time", "cpu_time", "time_unit",
                         "family_index", "per_family_instance_index",
                         "aggregate_name", "error_occurred", "error_message")
            and isinstance(v, (int, float)))
        if "checks" in b and b["checks"]:
            counters += ", per check %s" % fmt_time(
                to_ns(b, "real") / b["checks"])
        print("| %s | %s | %s | %s | %s |" % (
            name, fmt_time(to_ns(b, "real")), fmt_time(to_ns(b, "cpu")),
            ratio, counters.lstrip(", ")))
    print()
    return status


def names(binary):
    out = set()
    for measured, base, _ in spec_rows(binary):
        out.add(measured)
        if base is not None:
            out.add(base)
    for n in sorted(out):
        print(n)
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "headline":
        return headline(argv[2])
    if len(argv) == 3 and argv[1] == "details":
        return details(argv[2])
    if len(argv) == 3 and argv[1] == "names":
        return names(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
