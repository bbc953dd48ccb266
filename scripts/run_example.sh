#!/usr/bin/env bash
# Builds and runs the example service on its built-in defaults (installing
# what is missing first): probe server on 127.0.0.1:8080, application on
# 127.0.0.1:8081. It prints the URLs to try and a curl line for each format.
# Safe to run twice. Extra arguments go to the service, e.g.
#   scripts/run_example.sh --upstream=127.0.0.1:5432 --port=9090
# Ctrl-C drains (readiness 503 for --drain_delay) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bazel build --config=opt --noshow_progress --ui_event_filters=-info \
  //examples/service 2>&1 |
  grep -vE 'linux-sandbox|^INFO: From ' || true
bin=bazel-bin/examples/service/service
[[ -x $bin ]] || { echo "run_example: build failed" >&2; exit 1; }
exec "$bin" "$@"
