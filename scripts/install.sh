#!/usr/bin/env bash
# Installs the vigil SDK (headers, libvigil.a, libvigil.so.N, pkg-config and
# CMake package files) into PREFIX.
#
#   scripts/install.sh PREFIX                    # bazel build //:sdk, install
#   scripts/install.sh --tarball SDK.tar.gz PREFIX   # install a built SDK
#
# PREFIX/lib/pkgconfig/vigil.pc and PREFIX/lib/cmake/vigil/ are relocatable
# (paths relative to themselves), so a prefix may be moved or packaged as is.
# Nothing outside PREFIX is touched; for a system prefix run `ldconfig`
# afterwards (or set LD_LIBRARY_PATH=PREFIX/lib).
set -euo pipefail

tarball=
if [[ ${1:-} == --tarball ]]; then
  tarball=$2
  shift 2
fi
if (($# != 1)); then
  echo "usage: $0 [--tarball SDK.tar.gz] PREFIX" >&2
  exit 2
fi
prefix=$1

if [[ -z $tarball ]]; then
  # An optimised build: the SDK is what applications ship with.
  tarball=$(cd "$(dirname "$0")/.." && bazel build --config=opt //:sdk >&2 &&
    echo "$PWD/bazel-bin/vigil-sdk.tar.gz")
fi
mkdir -p "$prefix"
# One top folder, vigil-<version>/, holding include/ lib/ share/.
tar -xzf "$tarball" -C "$prefix" --strip-components=1 --no-same-owner
echo "install: vigil SDK in $prefix" \
  "($(sed -n 's/^Version: //p' "$prefix/lib/pkgconfig/vigil.pc"))"
