#!/usr/bin/env bash
# Checks the shipped Prometheus rules: `promtool check rules` (syntax, every
# expression parses, templates compile), then `promtool test rules` on each
# group's test file in rules/tests/ (every alert firing and not firing, one
# evaluation before its for: ends). Without promtool: skips on a developer
# machine, fails under CI.
set -euo pipefail
if ! command -v promtool >/dev/null; then
  if [[ -n "${CI:-}" ]]; then
    echo "FAIL: promtool not installed (scripts/setup.sh installs prometheus)"
    exit 1
  fi
  echo "SKIP: promtool not installed (scripts/setup.sh installs prometheus)"
  exit 0
fi
cd monitoring/rules
promtool check rules vigil.rules.yml
cd tests
status=0
for t in *_test.yml; do
  promtool test rules "$t" || status=1
done
exit $status
