#!/usr/bin/env bash
# The shipped systemd unit matches the code: `systemd-analyze verify` passes
# on examples/deploy/vigil-example.service with ExecStart= pointed at the
# built binary, the flags ExecStart= passes are flags the binary knows, and
# the unit asks for what the service implements (Type=notify with
# NotifyAccess=main, WatchdogSec=, KillMode=mixed). A control run shows the
# verification can fail (ExecStart= at a missing binary).
set -uo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null; then
  [[ -n ${CI:-} ]] && fail "systemd-analyze missing under CI (scripts/setup.sh installs systemd)"
  echo "SKIP: systemd-analyze not installed (scripts/setup.sh installs systemd)"
  exit 0
fi

runfiles=${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-vigil}
unit=$runfiles/examples/deploy/vigil-example.service
bin=$(readlink -f "$runfiles/examples/service/service")
[[ -f $unit ]] || fail "no unit at $unit"
[[ -x $bin ]] || fail "no service binary at $bin"
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/unit.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# ExecStart=/usr/local/bin/vigil-example ARGS...
exec_line=$(grep -E '^ExecStart=' "$unit") || fail "no ExecStart= line"
[[ $(grep -cE '^ExecStart=' "$unit") == 1 ]] || fail "more than one ExecStart="
read -r -a exec_words <<<"${exec_line#ExecStart=}"
[[ ${exec_words[0]} == /usr/local/bin/vigil-example ]] ||
  fail "ExecStart= runs ${exec_words[0]}, the README installs /usr/local/bin/vigil-example"
args=("${exec_words[@]:1}")

# 1. systemd's own verification, with the binary in place.
sed "s#^ExecStart=/usr/local/bin/vigil-example#ExecStart=$bin#" "$unit" \
  >"$dir/vigil-example.service"
if ! out=$(systemd-analyze verify "$dir/vigil-example.service" 2>&1); then
  fail "systemd-analyze verify: $out"
fi
[[ -z $out ]] || fail "systemd-analyze verify warned: $out"

# Control: the same check rejects a unit whose binary is missing.
sed "s#^ExecStart=/usr/local/bin/vigil-example#ExecStart=$dir/missing#" "$unit" \
  >"$dir/broken.service"
if systemd-analyze verify "$dir/broken.service" >/dev/null 2>&1; then
  fail "control: systemd-analyze verify accepted a missing ExecStart binary"
fi

# 2. Every flag of ExecStart= is one the binary knows (absl reports unknown
#    flags before it prints --help).
help=$("$bin" "${args[@]}" --help 2>&1)
if grep -qiE 'unknown command line flag|ERROR' <<<"$help"; then
  fail "ExecStart= flags rejected by the binary: $(grep -iE 'unknown|ERROR' <<<"$help")"
fi
bad=$("$bin" --no_such_flag_for_control --help 2>&1)
grep -qi 'unknown command line flag' <<<"$bad" ||
  fail "control: an unknown flag was not reported: $bad"

# 3. The unit asks for what the code implements.
for want in '^Type=notify$' '^NotifyAccess=main$' '^WatchdogSec=[0-9]+s$' \
  '^KillMode=mixed$' '^Restart=on-failure$'; do
  grep -qE "$want" "$unit" || fail "unit lacks $want"
done
grep -q -- '--demo_endpoints=false' <<<"$exec_line" ||
  fail "ExecStart= must turn the demonstration endpoints off in production"

echo "PASS: systemd-analyze verify clean; ExecStart flags: ${args[*]}"
