#!/usr/bin/env bash
# Fails if any tracked C/C++ file differs from clang-format (Google style,
# .clang-format). Prints the offending files.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h' '*.c')
if ((${#bad[@]})); then
  echo "check_format: not clang-formatted (run clang-format -i):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check_format: all files clang-formatted"
