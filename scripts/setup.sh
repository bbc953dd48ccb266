#!/usr/bin/env bash
# Installs everything vigil needs to build, run and test on Debian 12, from
# Debian's package archive only. Idempotent: packages already present are not
# reinstalled, and `apt-get update` runs only when something is missing.
#
# Usage: scripts/setup.sh            # build + test dependencies
#        VIGIL_SETUP_QUIET=1 ...     # less output
set -euo pipefail

PACKAGES=(
  # Build.
  bazel-bootstrap g++ git ca-certificates protobuf-compiler
  # C++ libraries (see shared BUILD-NOTES: exact versions are Debian 12's).
  libabsl-dev libcpp-httplib-dev libprotobuf-dev libgtest-dev libgmock-dev
  libbenchmark-dev libssl-dev libpq-dev zlib1g-dev libbrotli-dev
  # gRPC health (health/grpc/): grpc++ 1.51, its protoc plugin, and a Python
  # client vigil did not write for the interoperability test (and PyYAML
  # for the Kubernetes manifest's test).
  libgrpc++-dev protobuf-compiler-grpc python3-grpcio python3-yaml
  # Sanitizer runtimes and formatting.
  clang-14 libclang-rt-14-dev clang-format
  # libFuzzer (--config=fuzz, fuzz/) links with clang-14 and libclang-rt-14-dev;
  # llvm-14 gives llvm-symbolizer for readable crash stacks.
  llvm-14
  # Real components used by tests, examples and benchmarks.
  haproxy nginx-light prometheus prometheus-alertmanager redis-server
  postgresql wrk curl iproute2 systemd chromium
  openssl procps psmisc util-linux stress-ng
  # Instruction counts of the history cost (benchmarks/history_cost.sh) and
  # of the probe port (benchmarks/http/probe_instructions.sh, with strace's
  # system call counts).
  valgrind strace
  # Out-of-process stack capture by the supervisor (libdw, as eu-stack uses).
  libdw-dev elfutils
  # Python binding (pip installs it offline: tests/consumers).
  python3 python3-dev python3-pytest python3-pip
  # SDK consumers (tests/consumers): CMake and Makefile projects, ABI checks.
  cmake make pkg-config binutils
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run as root (or install them) and retry" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packaged services (nginx, redis, postgresql) must not be started by the
  # install: tests and benchmarks start their own instances on loopback.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all packages present"
