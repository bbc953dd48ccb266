#!/usr/bin/env bash
# Runs vigil's whole test suite: installs what is missing (scripts/setup.sh),
# then `bazel test //...` plainly, under AddressSanitizer +
# UndefinedBehaviorSanitizer, under ThreadSanitizer (every test not
# tagged "no-tsan"), and every libFuzzer target in fuzz/ for
# VIGIL_FUZZ_SECONDS (15) each.
# Safe to run twice. Exit status is non-zero on any failure.
#
# Each fuzzer prints "=== fuzz (NAME): N executions in S s (R/s), ok" or
# "CRASH" (the input is kept in /tmp/vigil-fuzz-crashes/), and counts
# as one passed or failed target.
#
# Each run ends with "=== tests (RUN): N passed, N failed, N skipped" and the
# names of the first skipped test cases; the last line totals them:
# "tests: N passed, N failed, N skipped". Passed and failed count test
# targets (and the format check); skipped counts test cases, which Bazel
# reports as PASSED. Under CI (CI set) a missing prerequisite fails instead
# of skipping (VIGIL_REQUIRE_OR_SKIP, health/testing/require.h).
#
#   scripts/test.sh                 # everything (what CI runs)
#   scripts/test.sh --quick         # plain run only
#   scripts/test.sh -- //health/... # plain run of some targets
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
targets=(//...)
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --) shift; targets=("$@"); quick=1; break ;;
    *) echo "usage: $0 [--quick] [-- TARGET...]" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/setup.sh || exit 1

passed=0
failed=0
skipped=0
status=0
# Skipped test cases named per run; the rest are counted.
show_skipped=5
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# run NAME BAZEL_ARGS...: one bazel test run, counting its results. Bazel
# reports a target whose test cases skipped as PASSED: the skipped cases are
# counted from the JUnit XML of the targets this run reported
# (scripts/skipped_tests.py), and the first few are named.
run() {
  local name=$1
  shift
  echo "=== tests ($name): bazel test $*"
  local since
  since=$(date +%s)
  bazel test --keep_going "$@" 2>&1 | tee "$logdir/$name.log" |
    grep -vE 'linux-sandbox|^INFO: From '
  # Bazel's status (no `|| true` here: with pipefail it would run whenever
  # bazel failed and reset PIPESTATUS to 0).
  local rc=${PIPESTATUS[0]}
  local p f s
  p=$(grep -cE '^//.* PASSED in' "$logdir/$name.log")
  f=$(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD|INCOMPLETE)' \
    "$logdir/$name.log")
  if ((rc != 0)); then
    echo "=== tests ($name): bazel exited $rc"
    status=1
    ((f == 0)) && f=1
  fi
  # An uncounted run must not read as "0 skipped".
  if ! python3 scripts/skipped_tests.py "$logdir/$name.log" bazel-testlogs \
    "$since" >"$logdir/$name.skipped"; then
    echo "=== tests ($name): could not count skipped tests"
    status=1
    f=$((f + 1))
  fi
  s=$(wc -l <"$logdir/$name.skipped")
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  echo "=== tests ($name): $p passed, $f failed, $s skipped"
  head -n "$show_skipped" "$logdir/$name.skipped" |
    while IFS=$'\t' read -r label case why; do
      echo "  skipped: $label $case ($why)"
    done
  if ((s > show_skipped)); then
    echo "  ... and $((s - show_skipped)) more skipped (bazel-testlogs/**/test.xml)"
  fi
}

echo "=== format: scripts/check_format.sh"
if bash scripts/check_format.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  status=1
fi

# ThreadSanitizer runs every test but those tagged "no-tsan" (each with a
# reason comment in its BUILD file).
run plain --test_summary=short "${targets[@]}"
if ((quick == 0)); then
  run asan --config=asan --test_summary=short --build_tests_only \
    --test_tag_filters=-no-asan //...
  run tsan --config=tsan --test_summary=short --build_tests_only \
    --test_tag_filters=-no-tsan //...
fi

# fuzz_all: builds every fuzz/ target with --config=fuzz (clang-14,
# libFuzzer, ASan+UBSan) and runs each, one at a time, for
# VIGIL_FUZZ_SECONDS on a scratch copy of its seed corpus. A crash, leak,
# broken FUZZ_CHECK or per-input timeout fails the step.
fuzz_all() {
  local seconds=${VIGIL_FUZZ_SECONDS:-15}
  local names
  names=$(bazel query --output=label 'attr(name, "_fuzzer$", //fuzz:*)' \
    2>/dev/null | sed 's|^//fuzz:||; s|_fuzzer$||')
  if [[ -z $names ]]; then
    echo "=== fuzz: no fuzz targets found"
    failed=$((failed + 1))
    status=1
    return
  fi
  local targets=()
  for n in $names; do targets+=("//fuzz:${n}_fuzzer"); done
  echo "=== fuzz: bazel build --config=fuzz ${targets[*]}"
  # --symlink_prefix=/: bazel-bin and bazel-testlogs keep pointing at the
  # plain build.
  bazel build --config=fuzz --symlink_prefix=/ "${targets[@]}" 2>&1 |
    grep -vE 'linux-sandbox|^INFO: From '
  if ((PIPESTATUS[0] != 0)); then
    echo "=== fuzz: build failed"
    failed=$((failed + 1))
    status=1
    return
  fi
  local bin crashes
  bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz
  crashes=${VIGIL_FUZZ_CRASH_DIR:-/tmp/vigil-fuzz-crashes}
  mkdir -p "$crashes"
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
  for n in $names; do
    local work="$logdir/fuzz-$n"
    mkdir -p "$work/corpus"
    cp fuzz/corpus/"$n"/* "$work/corpus/"
    (cd "$work" && "$bin/${n}_fuzzer" -max_total_time="$seconds" \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" \
      corpus >"$work/log" 2>&1)
    local rc=$?
    local runs rate
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
    if ((rc == 0)); then
      echo "=== fuzz ($n): ${runs:-?} executions in ${seconds} s" \
        "(${rate:-?}/s), ok"
      passed=$((passed + 1))
    else
      echo "=== fuzz ($n): CRASH (exit $rc) after ${runs:-?} executions"
      grep -E 'FUZZ_CHECK|ERROR:|SUMMARY:|^    #[0-9]' "$work/log" | head -n 30
      cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$crashes/" \
        2>/dev/null
      echo "  input kept in $crashes/; add it to fuzz/corpus/$n/ with the fix"
      failed=$((failed + 1))
      status=1
    fi
  done
}

if ((quick == 0)); then
  fuzz_all
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
