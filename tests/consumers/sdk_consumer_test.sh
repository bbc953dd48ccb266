#!/usr/bin/env bash
# The installed SDK as its users see it: scripts/install.sh into a temp
# prefix; a Makefile project (pkg-config) and a CMake project
# (find_package(vigil CONFIG)) each build the consumer service in C++ (shared
# and static libvigil) and C, run it and probe /readyz, /livez, /metrics.
# ABI: libvigil.so exports only the public API (no internal namespace, no
# absl/std/protobuf internals), has SONAME libvigil.so.<major>, and
# programs built against this SDK run against a rebuilt library.
set -euo pipefail
source tests/consumers/lib.sh

for tool in cmake make pkg-config c++ cc curl nm c++filt readelf; do
  require_or_skip "command -v $tool" \
    "$tool is not installed (scripts/setup.sh installs it)"
done
require_or_skip "pkg-config --exists absl_status protobuf cpp-httplib" \
  "Debian's absl/protobuf/cpp-httplib -dev packages are missing"

tmp=$TEST_TMPDIR
prefix=$tmp/prefix
bash scripts/install.sh --tarball vigil-sdk.tar.gz "$prefix" >/dev/null
VIGIL_VERSION=$(sed -n 's/^#define VIGIL_VERSION_STRING "\(.*\)"$/\1/p' \
  "$prefix/include/health/version.h")
major=${VIGIL_VERSION%%.*}

# --- Layout.
for f in include/health/registry.h include/health/proto/health.pb.h \
  include/bindings/c/vigil.h lib/libvigil.a "lib/libvigil.so.$major" \
  lib/pkgconfig/vigil.pc lib/cmake/vigil/vigilConfig.cmake \
  lib/cmake/vigil/vigilConfigVersion.cmake; do
  [[ -e $prefix/$f ]] || fail "SDK lacks $f"
done
if find "$prefix/include" -path '*/testing/*' | grep .; then
  fail "SDK ships testing headers (above)"
fi
# Internal headers ship only where a shipped header includes them (as
# Abseil's do): implementation a public header needs, not API.
while IFS= read -r h; do
  rel=${h#"$prefix/include/"}
  grep -rqF --include='*.h' "#include \"$rel\"" "$prefix/include" ||
    fail "SDK ships $rel, which no shipped header includes"
done < <(find "$prefix/include" -path '*/internal/*' -name '*.h')

# --- ABI: SONAME and exported symbols.
so=$prefix/lib/libvigil.so.$major
[[ $(readelf -d "$so") == *"SONAME"*"[libvigil.so.$major]"* ]] ||
  fail "SONAME is not libvigil.so.$major"
nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^VIGIL_' |
  sed 's/@.*//' | sort -u >"$tmp/exported"
c++filt <"$tmp/exported" >"$tmp/exported.demangled"
count=$(wc -l <"$tmp/exported")
c_count=$(grep -c '^vigil_' "$tmp/exported" || true)
echo "exported symbols: $count ($c_count C functions)"
# Every export is vigil's: C ABI, namespace vigil (with vtables, typeinfo,
# thunks), or what health.pb.h refers to.
sed -E 's/^(vtable|typeinfo|typeinfo name|VTT|guard variable) for //;
        s/^(non-)?virtual thunk to //; s/\(.*//' "$tmp/exported.demangled" |
  grep -vE '^(vigil_|vigil::|google::protobuf::Arena::CreateMaybeMessage<vigil::v1::|(descriptor_table|TableStruct|scc_info).*health_2eproto)' \
    >"$tmp/foreign" || true
[[ ! -s $tmp/foreign ]] || {
  head "$tmp/foreign" >&2
  fail "libvigil.so exports symbols that are not vigil's (above)"
}
# No export names an internal namespace (arguments may mention one).
sed 's/(.*//' "$tmp/exported.demangled" | grep -E '::internal::' |
  grep -vE '^vigil::v1::' >"$tmp/internal" || true
[[ ! -s $tmp/internal ]] || {
  head "$tmp/internal" >&2
  fail "libvigil.so exports internal symbols (above)"
}
for sym in vigil_version vigil_registry_new vigil_probe_server_start \
  vigil_heartbeat_beat vigil_register_default_pressure vigil_report_proto; do
  grep -qx "$sym" "$tmp/exported" || fail "$sym is not exported"
done

# --- pkg-config: the Makefile project.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[[ $(pkg-config --modversion vigil) == "$VIGIL_VERSION" ]] ||
  fail "pkg-config --modversion vigil is not $VIGIL_VERSION"
mkdir -p "$tmp/make"
make -s -C tests/consumers/make SRC="$PWD/tests/consumers/service" \
  OUT="$tmp/make" || fail "the Makefile project did not build"

# --- CMake: find_package(vigil CONFIG REQUIRED).
cmake -S tests/consumers/cmake -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DVIGIL_CONSUMER_SRC="$PWD/tests/consumers/service" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || {
  cat "$tmp/cmake.log" >&2
  fail "cmake could not configure the project"
}
cmake --build "$tmp/cmake" -j 2 >>"$tmp/cmake.log" 2>&1 || {
  tail -30 "$tmp/cmake.log" >&2
  fail "the CMake project did not build"
}

# --- Run them all.
export LD_LIBRARY_PATH=$prefix/lib
for kind in make cmake; do
  for bin in service_cc service_cc_static service_c; do
    expect_service "$kind/$bin" "$tmp/$kind/$bin"
  done
done
[[ $(ldd "$tmp/make/service_cc_static") != *libvigil* ]] ||
  fail "service_cc_static should not load libvigil.so"

# --- A rebuilt library: the same programs, unchanged, against it.
rebuilt=$tmp/rebuilt
bash scripts/install.sh --tarball tests/consumers/vigil-sdk-rebuilt.tar.gz \
  "$rebuilt" >/dev/null
cmp -s "$so" "$rebuilt/lib/libvigil.so.$major" &&
  fail "the rebuilt library is identical to the original"
export LD_LIBRARY_PATH=$rebuilt/lib
for bin in make/service_cc make/service_c cmake/service_cc; do
  start_service "rebuilt-$bin" "$tmp/$bin"
  grep -q "$rebuilt/lib/libvigil.so" "/proc/$SERVICE_PID/maps" ||
    fail "$bin did not load the rebuilt library"
  probe_and_stop "rebuilt/$bin"
done
# --- Python: pip install ./bindings/python (offline, Debian's python3),
# then the example service on the installed SDK's libvigil.so.0.
require_or_skip "/usr/bin/python3 -m pip --version" \
  "python3-pip is not installed (scripts/setup.sh installs it)"
export LD_LIBRARY_PATH=$prefix/lib
# pip builds in the source folder: a copy laid out like the tree (the
# backend reads health/version.h).
mkdir -p "$tmp/src/bindings" "$tmp/src/health"
cp -rL bindings/python "$tmp/src/bindings/python"
cp health/version.h "$tmp/src/health/version.h"
/usr/bin/python3 -m pip install -q --no-index --target "$tmp/site" \
  "$tmp/src/bindings/python" >"$tmp/pip.log" 2>&1 || {
  cat "$tmp/pip.log" >&2
  fail "pip install ./bindings/python failed"
}
got=$(PYTHONPATH=$tmp/site /usr/bin/python3 -c 'import vigil; print(vigil.version())')
[[ $got == "$VIGIL_VERSION" ]] || fail "python vigil.version() is $got"
PORT_LINE="probe port" start_service python/example_service \
  env PYTHONPATH="$tmp/site" PYTHONDONTWRITEBYTECODE=1 \
  /usr/bin/python3 "$tmp/src/bindings/python/example_service.py" --drain 0.2
probe_and_stop python/example_service

echo "PASS: SDK $VIGIL_VERSION, $count exported symbols," \
  "$(du -sh "$prefix" | cut -f1) installed"
