#!/usr/bin/env bash
# vigil as an external repository of another Bazel workspace: a consumer
# workspace in the test's temp dir (local_repository pointing at this
# source tree) builds the consumer service against @vigil//health,
# @vigil//health/http:probe_server and @vigil//watchdog, runs it and probes
# /readyz, /livez and /metrics; an internal target is refused by visibility.
#
# The nested bazel runs in --batch mode with its own output root in the
# test's temp dir (no server left behind), at most 2 jobs, and shares the
# disk cache named by $VIGIL_BAZEL_DISK_CACHE when set (CI on a fresh
# machine builds from scratch: a few minutes on 2 cores).
set -euo pipefail
source tests/consumers/lib.sh

require_or_skip "command -v bazel" "bazel is not installed"
require_or_skip "command -v curl" "curl is not installed"

# The real source tree, through the WORKSPACE file's runfiles symlink.
vigil_src=$(dirname "$(readlink -f WORKSPACE)")
[[ -f $vigil_src/health/BUILD.bazel ]] ||
  fail "cannot find vigil's source tree (got $vigil_src)"

tmp=$TEST_TMPDIR
ws=$tmp/consumer
mkdir -p "$ws"
sed "s|@VIGIL_PATH@|$vigil_src|g" tests/consumers/bazel/WORKSPACE.consumer \
  >"$ws/WORKSPACE"
cp tests/consumers/bazel/BUILD.consumer "$ws/BUILD.bazel"
cp tests/consumers/service/service.cc "$ws/"

export HOME=$tmp/home
mkdir -p "$HOME"
cache_flags=()
if [[ -n ${VIGIL_BAZEL_DISK_CACHE:-} ]]; then
  cache_flags=(--disk_cache="$VIGIL_BAZEL_DISK_CACHE")
fi
nested() {
  # The system rc (Debian: --install_base) is kept; ~/.bazelrc is not.
  (cd "$ws" && bazel --batch --nohome_rc --noworkspace_rc \
    --output_user_root="$tmp/bazel-root" "$@" \
    --cxxopt=-std=c++17 --host_cxxopt=-std=c++17 \
    --spawn_strategy=local --jobs=2 --local_cpu_resources=2 \
    "${cache_flags[@]}")
}

start=$SECONDS
if ! nested build //:service_cc >"$tmp/build.log" 2>&1; then
  tail -40 "$tmp/build.log" >&2
  fail "the consumer workspace did not build"
fi
echo "nested bazel build: $((SECONDS - start)) s"

# Internal targets are private: the build must fail on visibility.
if nested build //:uses_internal >"$tmp/internal.log" 2>&1; then
  fail "@vigil//health:worker_pool (internal) was visible to a consumer"
fi
grep -q "is not visible" "$tmp/internal.log" || {
  tail -20 "$tmp/internal.log" >&2
  fail "building //:uses_internal failed for another reason than visibility"
}

VIGIL_VERSION=$(sed -n 's/^#define VIGIL_VERSION_STRING "\(.*\)"$/\1/p' \
  "$vigil_src/health/version.h")
expect_service bazel/service_cc "$ws/bazel-bin/service_cc"
echo "PASS: a Bazel workspace built and ran a service on @vigil"
