#!/usr/bin/env python3
"""Tests for benchmarks/summarize.py.

- Every benchmark name the headline spec uses exists in the benchmark
  binaries (asked with --benchmark_list_tests, which times nothing), so a
  renamed benchmark cannot silently lose its baseline.
- The ratios and verdicts are computed from the figures given, and a missing
  figure is reported and fails the run.

Usage (Bazel passes these): summarize_test.py SUMMARIZE BINARY...
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

SUMMARIZE = None
BINARIES = []


def summarize(*args):
    return subprocess.run([sys.executable, SUMMARIZE, *args],
                          capture_output=True, text=True)


def spec_names(binary):
    r = summarize("names", binary)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


class SpecMatchesBinaries(unittest.TestCase):

    def test_every_name_in_the_spec_exists(self):
        self.assertEqual(len(BINARIES), 4)
        for path in BINARIES:
            binary = os.path.basename(path)
            listed = subprocess.run([path, "--benchmark_list_tests=true"],
                                    capture_output=True, text=True,
                                    timeout=60)
            self.assertEqual(listed.returncode, 0, listed.stderr)
            available = set(listed.stdout.split())
            wanted = spec_names(binary)
            self.assertTrue(wanted, binary)
            self.assertEqual(wanted - available, set(),
                             "%s lacks benchmarks the spec names" % binary)


def gbench(names_and_times):
    return {"benchmarks": [
        {"name": n, "run_type": "iteration", "real_time": t, "cpu_time": t,
         "median_ms": t / 1e6, "p99_ms": t / 1e6,
         "time_unit": "ns", "iterations": 1000}
        for n, t in names_and_times]}


class Ratios(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        for path in BINARIES:
            binary = os.path.basename(path)
            # Every measured benchmark costs 3 ns, every baseline 2 ns,
            # except readiness(), which costs what its baseline costs.
            names = sorted(spec_names(binary))
            times = []
            for n in names:
                if n.startswith("BM_ReadinessAccessor"):
                    t = 1.0
                elif n.startswith("BM_BareAtomicLoad"):
                    t = 1.0
                else:
                    t = 3.0
                times.append((n, t))
            self.write(binary + ".json", gbench(times))
        self.http = {
            "rps": {"vigil": 90000.0, "bare": 30000.0, "nginx": 100000.0},
            "p50_ms": {"vigil": 0.1, "bare": 0.2, "nginx": 0.05},
            "p99_ms": {"vigil": 0.2, "bare": 0.4, "nginx": 0.1},
            "errors": {"vigil": 0, "bare": 0, "nginx": 0},
            "saturated_p99_ms": {"dedicated": 8.0, "mounted": 400.0},
            "saturated_failed": {"dedicated": 0, "mounted": 0},
            "idle": {"window_s": 20,
                     "on": {"cpu_s": 0.04, "rss_kib": 12800},
                     "off": {"cpu_s": 0.02, "rss_kib": 11900}},
        }
        self.write("http.json", self.http)
        self.write("history_cost.json", {
            "checks": 10, "rounds": 5,
            "instructions_per_completion": {
                "without": 10000, "with_history": 10400,
                "noop_listener": 10100},
            "range": {"without": [9900, 10100],
                      "with_history": [10300, 10600],
                      "noop_listener": [10000, 10200]}})

    def write(self, name, data):
        with open(os.path.join(self.dir.name, name), "w") as f:
            json.dump(data, f)

    def row(self, text, what):
        for line in text.splitlines():
            if line.startswith("| " + what + " |"):
                return [c.strip() for c in line.strip("|").split("|")]
        self.fail("no row %r in:\n%s" % (what, text))

    def test_headline_ratios_and_verdicts(self):
        r = summarize("headline", self.dir.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.row(r.stdout, "`readiness()`: the hot-path read")
        self.assertEqual(row[1:], ["1.00 ns", "1.00 ns", "1.00", "ok"])
        row = self.row(r.stdout, "`GroupStatus(kReadiness)`: lookup by name")
        self.assertEqual(row[3:], ["3.00", "**200% over**"])
        row = self.row(r.stdout,
                       "`/readyz` requests/s over loopback vs nginx `return 200`")
        self.assertEqual(row[1:], ["90000/s", "100000/s", "1.11",
                                   "**11% over**"])
        row = self.row(
            r.stdout,
            "`/readyz` requests/s over loopback vs bare cpp-httplib handler")
        self.assertEqual(row[3:], ["0.33", "ok"])
        row = self.row(
            r.stdout,
            "idle CPU of the example service, % of one core (20 s)")
        self.assertEqual(row[1:], ["0.200 %", "0.100 % (--vigil=false)",
                                   "2.00",
                                   "vigil's share: 0.100 % of one core"])
        # A counter metric ("median_ms") is read from the counter.
        row = self.row(
            r.stdout,
            "memory: kernel event -> published snapshot, p99, vs polling "
            "every 1 s")
        self.assertEqual(row[1:], ["3.00 ns", "3.00 ns", "1.00", "ok"])
        row = self.row(r.stdout, "idle RSS of the example service")
        self.assertEqual(row[1:], ["12800 KiB", "11900 KiB (--vigil=false)",
                                   "1.08", "ok"])

    def test_history_cost_in_instructions(self):
        r = summarize("headline", self.dir.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.row(
            r.stdout,
            "check completion (10 checks) with the history attached vs "
            "without, instructions (issue 16 asks <= 1.05)")
        self.assertEqual(row[1:], [
            "10400 instr. (10300–10600, 5 rounds)",
            "10000 instr. (9900–10100, 5 rounds)", "1.04", "ok"])
        self.write("history_cost.json", {
            "checks": 10,
            "instructions_per_completion": {
                "without": 10000, "with_history": 10700,
                "noop_listener": 10100}})
        r = summarize("headline", self.dir.name)
        row = self.row(
            r.stdout,
            "check completion (10 checks) with the history attached vs "
            "without, instructions (issue 16 asks <= 1.05)")
        self.assertEqual(row[3:], ["1.07", "**7.0% over (allowed 5%)**"])

    def test_missing_history_cost_fails(self):
        os.remove(os.path.join(self.dir.name, "history_cost.json"))
        r = summarize("headline", self.dir.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISSING: history_cost.json", r.stdout)

    def test_missing_figure_fails_and_is_named(self):
        path = os.path.join(self.dir.name, "watchdog_benchmark.json")
        with open(path) as f:
            data = json.load(f)
        data["benchmarks"] = [b for b in data["benchmarks"]
                              if b["name"] != "BM_Beat"]
        self.write("watchdog_benchmark.json", data)
        r = summarize("headline", self.dir.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISSING: watchdog_benchmark BM_Beat", r.stdout)
        self.assertIn("missing from the results: watchdog_benchmark BM_Beat",
                      r.stderr)

    def test_missing_http_results_fail(self):
        os.remove(os.path.join(self.dir.name, "http.json"))
        r = summarize("headline", self.dir.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("MISSING: http.json", r.stdout)

    def test_details_show_ratio_to_baseline(self):
        r = summarize("details",
                      os.path.join(self.dir.name, "core_benchmark.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        row = self.row(r.stdout, "BM_GroupStatusReadiness/threads:1")
        self.assertEqual(row[3], "3.00× BM_BareAtomicLoad (real)")


if __name__ == "__main__":
    SUMMARIZE = os.path.abspath(sys.argv[1])
    BINARIES = [os.path.abspath(b) for b in sys.argv[2:]]
    unittest.main(argv=[sys.argv[0], "-v"])
