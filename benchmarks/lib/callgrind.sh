# The callgrind driver shared by the instruction-count benchmarks
# (benchmarks/history_cost.sh, benchmarks/grpc_instructions.sh): valgrind
# --tool=callgrind counts the instructions (Ir) of every thread the same way
# whatever else runs on the machine's shared cores, so a difference of two
# counts resolves costs that timings cannot. Sourced (from the repository
# root) by a script running under `set -euo pipefail`; defines:
#
#   cg_setup TARGET BINARY KEEP
#     The benchmark binary: BINARY if not empty, else builds
#     //benchmarks:TARGET with --config=opt. Fails if valgrind is missing.
#     Sets cg_tmp, the work directory: KEEP if not empty (created, kept),
#     else a temporary one removed on exit (an EXIT trap). Copies the binary
#     to $cg_tmp/TARGET (a later build in another configuration repoints
#     bazel-bin) and sets cg_binary to the copy.
#   cg_run SECONDS OUT LOG [VALGRIND_OPTION...] -- [BINARY_ARG...]
#     Runs $cg_binary under callgrind (at most SECONDS), its profile in OUT
#     (with --separate-threads=yes, one OUT-NN file per thread), its output
#     in LOG. On failure prints LOG to stderr and returns 1.
#   cg_total FILE
#     Prints the total Ir of a callgrind profile (the "totals:" line sums
#     every thread the file covers).
#   cg_per_unit LOW HIGH UNITS
#     Prints (HIGH - LOW) / UNITS, rounded down: the instructions of one unit
#     of work when LOW and HIGH count the same process doing UNITS more of it
#     (set-up and tear-down cancel out).

cg_setup() {
  local target=$1 binary=$2 keep=$3
  if [[ -z "$binary" ]]; then
    bazel build --config=opt --noshow_progress "//benchmarks:$target" >&2
    binary=bazel-bin/benchmarks/$target
  fi
  command -v valgrind >/dev/null || { echo "valgrind not installed" >&2; return 1; }
  if [[ -n "$keep" ]]; then
    cg_tmp=$keep
    mkdir -p "$cg_tmp"
  else
    cg_tmp=$(mktemp -d)
    # Expanded now: the directory is removed even if cg_tmp changes.
    # shellcheck disable=SC2064
    trap "rm -rf '$cg_tmp'" EXIT
  fi
  cp "$binary" "$cg_tmp/$target"
  cg_binary=$cg_tmp/$target
}

cg_run() {
  local seconds=$1 out=$2 log=$3
  shift 3
  local options=()
  while (($#)) && [[ $1 != -- ]]; do
    options+=("$1")
    shift
  done
  (($#)) && shift  # The "--".
  timeout "$seconds" valgrind --tool=callgrind "${options[@]}" \
    --callgrind-out-file="$out" "$cg_binary" "$@" >"$log" 2>&1 ||
    { cat "$log" >&2; return 1; }
}

cg_total() {
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

cg_per_unit() {
  echo $(( ($2 - $1) / $3 ))
}
