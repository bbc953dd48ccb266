#!/usr/bin/env bash
# Regenerates docs/statusz.png, the README's /statusz screenshot: runs
# //examples/service:statusz_browser_test (the example service during S1,
# memory rising in a 256 MiB cgroup and a dependency lost, loaded in
# headless Chromium) and copies the screenshot that test keeps as an
# undeclared output. Needs what the test's S1 needs: root, a writable v1
# memory cgroup and chromium (scripts/setup.sh).
#
# Usage (from the repository root): bash docs/statusz_screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CI=1 bazel test //examples/service:statusz_browser_test \
  --test_env=CI --cache_test_results=no --test_output=errors
outputs="$(bazel info bazel-testlogs)/examples/service/statusz_browser_test/test.outputs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -f "$outputs/outputs.zip" ]]; then
  /usr/bin/python3 - "$outputs/outputs.zip" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
else
  cp "$outputs"/* "$tmp"/
fi
# The README's picture is S1 (memory); a machine without a v1 memory
# cgroup runs the test's disk scenario instead, which is not it.
if ! grep -q '^S1 memory' "$tmp/scenario.txt"; then
  echo "statusz_screenshot: the test ran $(cat "$tmp/scenario.txt"), not S1" \
    "(needs a writable v1 memory cgroup); docs/statusz.png unchanged" >&2
  exit 1
fi
cp "$tmp/statusz.png" docs/statusz.png
echo "wrote docs/statusz.png ($(stat -c %s docs/statusz.png) bytes)"
