#!/usr/bin/env bash
# Instructions executed by the registry's own threads per check completion,
# with no gRPC server vs a HealthServer + 100 Watch streams + a Check flood
# (issue 15: "completion time unaffected"), counted by valgrind's callgrind
# so that the 2 shared cores' noise and cache/core sharing with the clients'
# threads cannot move the figure. Hardware counters (perf_event_open) are
# not available in these VMs.
#
# Runs grpc_benchmark's BM_CompletionInstructions under
# `valgrind --tool=callgrind --separate-threads=yes`, at 10 and at 60
# completions per side; sums the per-thread files of the registry's threads
# only (those in which TickerForInstructionCount or WorkerPool::Loop ran);
# (Ir at 60 - Ir at 10) / 50 is the cost of one completion, set-up
# excluded. Prints JSON. Several minutes (gRPC is slow under valgrind).
#
#   bash benchmarks/grpc_instructions.sh [--binary PATH] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
keep=""
while (($#)); do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--keep DIR]" >&2; exit 2 ;;
  esac
done
source benchmarks/lib/callgrind.sh
cg_setup grpc_benchmark "$binary" "$keep"
run() {  # load completions: writes $cg_tmp/cg.L.N-NN, one file per thread.
  cg_run 1800 "$cg_tmp/cg.$1.$2" "$cg_tmp/log.$1.$2" \
    --separate-threads=yes --compress-strings=no -- \
    --benchmark_filter="^BM_CompletionInstructions/load:$1/completions:$2/" ||
    return 1
  grep -q 'unsettled=0' "$cg_tmp/log.$1.$2" ||
    { echo "load $1, $2: a fan-out did not settle" >&2; return 1; }
}
sum() {  # load completions -> "registry_Ir threads all_Ir"
  local f reg=0 n=0 all=0 ir
  for f in "$cg_tmp/cg.$1.$2"-*; do
    ir=$(cg_total "$f")
    all=$((all + ir))
    if grep -qE '^fn=.*(TickerForInstructionCount|WorkerPool::Loop)' "$f"; then
      reg=$((reg + ir))
      n=$((n + 1))
    fi
  done
  echo "$reg $n $all"
}
for load in 0 3; do
  run "$load" 10 &
  run "$load" 60 &
  wait %1 && wait %2  # Two at a time: the machine has 2 cores.
done
/usr/bin/python3 - "$(sum 0 10)" "$(sum 0 60)" "$(sum 3 10)" "$(sum 3 60)" <<'PY'
import json, sys
(r0a, n0a, a0a), (r0b, n0b, a0b), (r3a, n3a, a3a), (r3b, n3b, a3b) = (
    [int(x) for x in s.split()] for s in sys.argv[1:])
without = (r0b - r0a) / 50
with_grpc = (r3b - r3a) / 50
print(json.dumps({
    "completions": [10, 60], "checks": 10,
    "registry_ir": {"without": [r0a, r0b], "with_grpc": [r3a, r3b]},
    "registry_threads": {"without": [n0a, n0b], "with_grpc": [n3a, n3b]},
    "process_ir": {"without": [a0a, a0b], "with_grpc": [a3a, a3b]},
    "instructions_per_completion": {"without": without,
                                    "with_grpc": with_grpc},
    "ratio": with_grpc / without}, indent=1))
PY
