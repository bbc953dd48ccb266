#!/usr/bin/env bash
# Checks the shipped Prometheus rules: `promtool check rules` (syntax, every
# expression parses, templates compile), then `promtool test rules` on each
# group's test file in rules/tests/ (every alert firing and not firing, one
# evaluation before its for: ends); and that every query of the Grafana
# dashboard parses (dashboard_check.py). Without promtool: skips on a developer
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
/usr/bin/python3 monitoring/dashboard_check.py \
  monitoring/grafana/vigil-fleet.json "${TEST_TMPDIR:-/tmp}"
cd monitoring/rules
promtool check rules vigil.rules.yml
cd tests
status=0
for t in *_test.yml; do
  promtool test rules "$t" || status=1
done
exit $status
