#!/usr/bin/env bash
# Runs every vigil benchmark in one go (about 8 minutes on 2 cores, build
# included) and writes benchmarks/results/latest.md (also printed): first
# the headline table (each figure next to its baseline from the same run, as
# a cost ratio), then every suite in detail.
#
#   bash benchmarks/run_all.sh            # everything
#   bash benchmarks/run_all.sh --quick    # shorter loads, for a smoke run
#
# In-process suites (Google Benchmark, baseline in the same binary) and the
# loopback harness (benchmarks/http/run.sh: vigil vs bare cpp-httplib vs
# nginx, probes under application load, idle cost). Installs what it needs
# (scripts/setup.sh: wrk, nginx). Loopback only; every load is bounded in
# time. Exits non-zero if a suite fails or a figure the headline expects is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
  "") ;;
  --quick) quick=1 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
started=$(date +%s)
bash scripts/setup.sh
out=benchmarks/results
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt "$out"/*.md
suites=(core_benchmark pressure_benchmark watchdog_benchmark grpc_benchmark)
echo "=== build (opt)"
targets=(//benchmarks/http:probe_target //examples/service)
for name in "${suites[@]}"; do targets+=("//benchmarks:$name"); done
if ! bazel build --config=opt --noshow_progress --ui_event_filters=-info \
  "${targets[@]}" > "$out/build.log" 2>&1; then
  grep -vE 'linux-sandbox|^INFO: From' "$out/build.log" >&2
  echo "run_all: build failed" >&2
  exit 1
fi

min_time=0.5
((quick)) && min_time=0.05
for name in "${suites[@]}"; do
  echo "=== $name"
  "bazel-bin/benchmarks/$name" --benchmark_min_time="$min_time" \
    --benchmark_format=console --benchmark_out="$out/$name.json" \
    --benchmark_out_format=json 2>&1 | tee "$out/$name.txt"
done

echo "=== history cost (instructions, callgrind)"
bash benchmarks/history_cost.sh --binary bazel-bin/benchmarks/core_benchmark \
  --json "$out/history_cost.json" 2>&1 | tee "$out/history_cost.txt"

echo "=== loopback probe harness"
http_args=(--json "$out/http.json")
((quick)) && http_args+=(--quick)
bash benchmarks/http/run.sh "${http_args[@]}" | tee "$out/http.md"

status=0
{
  echo "# vigil benchmark results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: bash benchmarks/run_all.sh${1:+ $1} ($(($(date +%s) - started)) s)"
  echo "- Ratios compare two things measured in the same run and are the"
  echo "  stable figures; absolute times depend on the machine and its load."
  echo
  python3 benchmarks/summarize.py headline "$out" || status=1
  for name in "${suites[@]}"; do
    python3 benchmarks/summarize.py details "$out/$name.json" || status=1
  done
  cat "$out/http.md"
} > "$out/latest.md"
echo
cat "$out/latest.md"
echo
echo "results: $out/latest.md"
exit $status
