#!/usr/bin/env bash
# Packs the vigil SDK tarball (run by tools/sdk.bzl's vigil_sdk rule; not
# meant to be run by hand: use `bazel build //:sdk` or scripts/install.sh).
#
#   make_sdk.sh OUT.tar.gz VERSION_H ARCHIVES HEADERS LINKFLAGS TEMPLATE_DIR
#
# ARCHIVES lists the static archives of vigil's public targets, HEADERS
# "destination<TAB>source" lines for every candidate header, LINKFLAGS the
# link flags of the system dependencies. The tarball holds one top folder,
# vigil-<version>/, with:
#   include/                  public headers + the headers they include
#   lib/libvigil.a            every object of the public targets
#   lib/libvigil.so.<v>       the same, shared; SONAME libvigil.so.<major>;
#                             exports the public API only (symbol map below)
#   lib/pkgconfig/vigil.pc    lib/cmake/vigil/vigilConfig{,Version}.cmake
#   share/vigil/exported-symbols.txt   what libvigil.so exports, demangled
set -euo pipefail
out=$1 version_h=$2 archives=$3 headers=$4 linkflags=$5 templates=$6

define() { sed -n "s/^#define $1 \([0-9]*\)$/\1/p" "$version_h"; }
major=$(define VIGIL_VERSION_MAJOR)
minor=$(define VIGIL_VERSION_MINOR)
patch=$(define VIGIL_VERSION_PATCH)
[[ -n $major && -n $minor && -n $patch ]] || {
  echo "make_sdk: no VIGIL_VERSION_* in $version_h" >&2
  exit 1
}
version=$major.$minor.$patch

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/vigil-$version
mkdir -p "$root/include" "$root/lib/pkgconfig" "$root/lib/cmake/vigil"

# --- Headers: the public ones (not under internal/) and, transitively,
# every header of ours they include. Nothing else.
declare -A source_of=() shipped=()
queue=()
while IFS=$'\t' read -r dest src; do
  source_of[$dest]=$src
  [[ $dest == */internal/* ]] || queue+=("$dest")
done <"$headers"
while ((${#queue[@]})); do
  h=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${shipped[$h]:-} ]] && continue
  shipped[$h]=1
  while read -r inc; do
    [[ -n ${source_of[$inc]:-} && -z ${shipped[$inc]:-} ]] && queue+=("$inc")
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "${source_of[$h]}")
done
for h in "${!shipped[@]}"; do
  mkdir -p "$root/include/$(dirname "$h")"
  cp "${source_of[$h]}" "$root/include/$h"
  chmod 644 "$root/include/$h"
done

# --- libvigil.a: every object of every archive (names made unique: two
# packages may both have a util.o).
mkdir "$work/objs"
n=0
while read -r a; do
  [[ -n $a ]] || continue
  n=$((n + 1))
  d=$work/objs/$n
  mkdir "$d"
  (cd "$d" && ar x "$OLDPWD/$a")
  for o in "$d"/*.o; do mv "$o" "$d/lib${n}_$(basename "$o")"; done
done <"$archives"
find "$work/objs" -name '*.o' | sort >"$work/objs.txt"
ar rcsD "$root/lib/libvigil.a" $(cat "$work/objs.txt")

# --- The symbol map: exactly the public API. Exported: the C ABI
# (vigil_*), every C++ symbol of namespace vigil (functions, vtables,
# typeinfo, thunks) whose qualified name has no "internal" namespace, and
# what the generated health.pb.h refers to. Everything else (vigil's
# internals, and the absl/std/protobuf template code compiled into it) is
# local, so it cannot clash with the application's own copies.
nm -g --defined-only "$root/lib/libvigil.a" 2>/dev/null |
  awk 'NF == 3 && $2 ~ /[TWDBRVu]/ {print $3}' | sort -u >"$work/mangled"
c++filt <"$work/mangled" >"$work/demangled"
paste "$work/mangled" "$work/demangled" | awk -F'\t' '
  {
    m = $1; d = $2
    name = d; sub(/\(.*/, "", name)   # the qualified name, without arguments
    sub(/^(vtable|typeinfo|typeinfo name|VTT|construction vtable|guard variable) for /, "", name)
    sub(/^(non-)?virtual thunk to /, "", name)
    if (m ~ /^vigil_/) { print m; next }
    if (name ~ /^vigil::/ && name !~ /::internal::/) { print m; next }
    if (name ~ /^google::protobuf::Arena::CreateMaybeMessage<vigil::v1::/) { print m; next }
    if (m ~ /_health_2fproto_2fhealth_2eproto$/) { print m; next }
  }' >"$work/exported"
{
  echo "VIGIL_$major {"
  echo "  global:"
  sed 's/.*/    &;/' "$work/exported"
  echo "  local:"
  echo "    *;"
  echo "};"
} >"$work/vigil.map"

# --- libvigil.so: all objects, public symbols only.
so=libvigil.so.$version
g++ -shared -o "$root/lib/$so" -Wl,-soname,libvigil.so.$major \
  -Wl,--version-script="$work/vigil.map" -Wl,--no-undefined \
  -Wl,--whole-archive "$root/lib/libvigil.a" -Wl,--no-whole-archive \
  $(grep -v '^$' "$linkflags") -lstdc++ -lm
ln -s "$so" "$root/lib/libvigil.so.$major"
ln -s "libvigil.so.$major" "$root/lib/libvigil.so"

# --- pkg-config and CMake files.
flags_cmake=$(grep -v '^$' "$linkflags" | paste -sd';')
flags_pc=$(grep -v '^$' "$linkflags" | paste -sd' ')
subst() {
  sed -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    -e "s|@LINK_FLAGS_CMAKE@|$flags_cmake|g" \
    -e "s|@LINK_FLAGS_PC@|$flags_pc|g" "$1"
}
subst "$templates/vigil.pc.in" >"$root/lib/pkgconfig/vigil.pc"
subst "$templates/vigilConfig.cmake.in" >"$root/lib/cmake/vigil/vigilConfig.cmake"
subst "$templates/vigilConfigVersion.cmake.in" \
  >"$root/lib/cmake/vigil/vigilConfigVersion.cmake"
# The exported symbols, demangled, for ABI reviews and the consumer tests.
mkdir -p "$root/share/vigil"
c++filt <"$work/exported" | sort >"$root/share/vigil/exported-symbols.txt"

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
  -C "$work" -cf - "vigil-$version" | gzip -n >"$out"
