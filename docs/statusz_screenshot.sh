#!/usr/bin/env bash
# Regenerates docs/statusz.png, the README's /statusz screenshot: runs
# //examples/service:statusz_browser_test (the example service during S1,
# memory rising in a 256 MiB cgroup and a dependency lost, loaded in
# headless Chromium) and copies the screenshot that test keeps as an
# undeclared output. Needs what the test needs: root and chromium
# (scripts/setup.sh).
#
# Usage (from the repository root): bash docs/statusz_screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CI=1 bazel test //examples/service:statusz_browser_test \
  --test_env=CI --cache_test_results=no --test_output=errors
outputs="$(bazel info bazel-testlogs)/examples/service/statusz_browser_test/test.outputs"
if [[ -f "$outputs/outputs.zip" ]]; then
  /usr/bin/python3 - "$outputs/outputs.zip" docs/statusz.png <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    open(sys.argv[2], "wb").write(z.read("statusz.png"))
PY
else
  cp "$outputs/statusz.png" docs/statusz.png
fi
echo "wrote docs/statusz.png ($(stat -c %s docs/statusz.png) bytes)"
