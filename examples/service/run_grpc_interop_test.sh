#!/usr/bin/env bash
# Runs grpc_interop_test.py with Debian's python3 (python3-grpcio is a
# Debian module; the python3 on PATH may be another interpreter).
set -euo pipefail
export VIGIL_SERVICE="$PWD/$1"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 examples/service/grpc_interop_test.py
