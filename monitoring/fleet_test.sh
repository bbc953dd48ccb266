#!/usr/bin/env bash
# Runs fleet_test.py with Debian's python3 (stdlib only).
set -euo pipefail
exec /usr/bin/python3 monitoring/fleet_test.py "$@"
