#!/usr/bin/env bash
# Runs python_check_benchmark.py with Debian's python3 against the built
# libvigil.so and native_check.so (bazel run sets the runfiles dir as cwd).
set -euo pipefail
export VIGIL_LIBRARY=$PWD/bindings/c/libvigil.so
export VIGIL_NATIVE_CHECK=$PWD/benchmarks/python/native_check.so
export PYTHONPATH=$PWD/bindings/python PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 benchmarks/python/python_check_benchmark.py "$@"
