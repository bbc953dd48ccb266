#!/usr/bin/env bash
# Runs every vigil benchmark in one go (about 10 minutes on 2 cores) and
# writes a Markdown table to benchmarks/results/latest.md (and stdout).
#
#   benchmarks/run_all.sh            # everything
#   benchmarks/run_all.sh --quick    # shorter loads, for a smoke run
#
# In-process suites (Google Benchmark, baseline in the same binary) and the
# loopback harness (benchmarks/http/run.sh: vigil vs bare cpp-httplib vs
# nginx, probes under application load, idle cost). Loopback only; every
# load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
bash scripts/setup.sh
out=benchmarks/results
mkdir -p "$out"
targets=(//benchmarks:core_benchmark)
for t in pressure_benchmark watchdog_benchmark; do
  grep -q "name = \"$t\"" benchmarks/BUILD.bazel && targets+=("//benchmarks:$t")
done
bazel build --config=opt "${targets[@]}" //benchmarks/http:probe_target \
  //examples/service 2>&1 | grep -vE 'linux-sandbox|^INFO: From' || true

min_time=0.5
((quick)) && min_time=0.05
{
  echo "# vigil benchmark results"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "- command: benchmarks/run_all.sh${1:+ $1}"
  echo "- figures marked (ratio) compare two things measured in the same run"
  echo "  and are the stable ones; absolute times depend on the machine."
  echo
} > "$out/latest.md"

for t in "${targets[@]}"; do
  name=${t##*:}
  echo "=== $name"
  "bazel-bin/benchmarks/$name" --benchmark_min_time="$min_time" \
    --benchmark_format=console --benchmark_out="$out/$name.json" \
    --benchmark_out_format=json 2>&1 | tee "$out/$name.txt"
  python3 benchmarks/summarize.py "$out/$name.json" >> "$out/latest.md"
done

echo "=== loopback probe harness"
bash benchmarks/http/run.sh $([[ $quick == 1 ]] && echo --quick) \
  | tee -a "$out/latest.md"
echo
echo "results: $out/latest.md"
