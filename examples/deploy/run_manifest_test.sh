#!/usr/bin/env bash
# Runs manifest_test.py with Debian's python3 (python3-grpcio and
# python3-yaml are Debian modules; the python3 on PATH may be another
# interpreter).
set -euo pipefail
export VIGIL_SERVICE="$PWD/$1"
export VIGIL_MANIFEST="$PWD/$2"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 examples/deploy/manifest_test.py
