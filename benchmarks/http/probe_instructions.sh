#!/usr/bin/env bash
# The probe port's cost per request, counted rather than timed (issue 14):
# vigil's ProbeServer (//benchmarks/http:probe_target, opt) against nginx
# (1 worker, the `return 200` of scale.sh), in instructions and in system
# calls per request. On this machine's 2 shared cores wall-clock figures
# move with whatever else runs; callgrind counts every instruction of every
# thread of the server process, and strace counts its system calls, the
# same whatever the load.
#
# For each server and each mode (keep-alive: 8 connections, each sending
# its next GET /readyz when the previous answer arrived; close: a new
# connection with "Connection: close" per request, 8 at a time), the
# server is started under `valgrind --tool=callgrind` (nginx with
# `master_process off; daemon off;` so one process does everything),
# benchmarks/http/fixed_load.py sends exactly LOW, then in another run
# HIGH requests, and the server is stopped; (Ir at HIGH - Ir at LOW) /
# (HIGH - LOW) is one request's instructions, start-up and shutdown
# excluded. The same with `strace -f -c` gives system calls per request
# (and per system call). Rounds alternate vigil and nginx; the figure is
# the median of the rounds, with their range. vigil's checks run every
# hour here (--check_interval_ms), so background work does not scale with
# how long a run takes under valgrind.
#
# The count still varies a little between rounds: how many requests one
# epoll_wait returns depends on how the client and the (slowed) server
# interleave. Prints Markdown; --json FILE also writes the figures.
# About 4 minutes with the defaults.
#
#   bash benchmarks/http/probe_instructions.sh [--rounds 3] [--low 2000]
#     [--high 12000] [--connections 8] [--modes "keepalive close"]
#     [--tools "callgrind strace"] [--binary PATH] [--json FILE] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=3
low=2000
high=12000
connections=8
modes="keepalive close"
tools="callgrind strace"
binary=""
json=""
keep=""
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --low) low=$2; shift 2 ;;
    --high) high=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --tools) tools=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--low N] [--high N] [--connections N] [--modes LIST] [--tools LIST] [--binary PATH] [--json FILE] [--keep DIR]" >&2
       exit 2 ;;
  esac
done
((high > low)) || { echo "--high must exceed --low" >&2; exit 2; }
if [[ -z $binary ]]; then
  bazel build --config=opt --noshow_progress //benchmarks/http:probe_target >&2
  binary=bazel-bin/benchmarks/http/probe_target
fi
for tool in valgrind strace /usr/sbin/nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (scripts/setup.sh)" >&2; exit 1; }
done
# free_port and write_nginx_conf; this script keeps its own work directory
# (--keep) and its own EXIT trap (one server at a time, under a tool).
source benchmarks/http/lib.sh
if [[ -n $keep ]]; then
  rmdir "$work"
  work=$keep
  mkdir -p "$work"
fi
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ -z $keep ]] && rm -rf "$work"
  return 0
}
trap cleanup EXIT
cp "$binary" "$work/probe_target"  # bazel-bin may be repointed meanwhile.
client=(python3 benchmarks/http/fixed_load.py)

# Runs one server under one tool, sends `requests`, stops it; prints the
# tool's output file.
measure() {  # tool server mode requests tag
  local tool=$1 server=$2 mode=$3 requests=$4 tag=$5
  local out="$work/$tool.$server.$mode.$requests.$tag"
  local log="$out.log" wrap=() cmd=() port
  case $tool in
    callgrind) wrap=(valgrind --tool=callgrind --callgrind-out-file="$out") ;;
    strace) wrap=(strace -f -c -U calls,name -o "$out") ;;
  esac
  if [[ $server == vigil ]]; then
    cmd=("$work/probe_target" --mode=vigil --port=0 --check_interval_ms=3600000)
  else
    port=$(free_port)
    write_nginx_conf "$port" 'ok\n' 8192 "master_process off;" \
      "keepalive_requests 1000000;" "backlog=4096"
    cmd=(/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx")
  fi
  "${wrap[@]}" "${cmd[@]}" > "$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    [[ $server == vigil ]] && port=$(sed -n 's/^listening on //p' "$log")
    if [[ -n $port ]] &&
       [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") == 200 ]]; then
      break
    fi
    sleep 0.1
  done
  local extra=()
  [[ $mode == close ]] && extra=(--close)
  "${client[@]}" --port "$port" --requests "$requests" \
    --connections "$connections" "${extra[@]}" > "$out.client" 2>&1 ||
    { cat "$out.client" >&2; echo "$tool $server $mode $requests: client failed" >&2; exit 1; }
  # strace's pid is not the server's: signal the traced process itself.
  local target=$server_pid
  if [[ $tool == strace ]]; then
    target=$(pgrep -P "$server_pid" | head -1)
  fi
  kill -TERM "$target"
  wait "$server_pid" || true
  server_pid=""
  echo "$out"
}

instructions() {  # callgrind file -> total Ir of every thread
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

syscalls() {  # strace -c file -> "name=calls ..." and total
  awk '$NF != "total" && $1 ~ /^[0-9]+$/ {printf "%s=%s ", $2, $1}
       $NF == "total" {printf "total=%s", $1}' "$1"
}

: > "$work/rows"
for ((r = 1; r <= rounds; ++r)); do
  # Alternate who goes first in each round.
  if ((r % 2)); then order="vigil nginx"; else order="nginx vigil"; fi
  for tool in $tools; do
    for mode in $modes; do
      for server in $order; do
        lo=$(measure "$tool" "$server" "$mode" "$low" "$r")
        hi=$(measure "$tool" "$server" "$mode" "$high" "$r")
        if [[ $tool == callgrind ]]; then
          echo "$r $tool $server $mode ir $(instructions "$lo") $(instructions "$hi")" >> "$work/rows"
        else
          echo "$r $tool $server $mode sys $(syscalls "$lo") | $(syscalls "$hi")" >> "$work/rows"
        fi
        echo "round $r $tool $server $mode done" >&2
      done
    done
  done
done

python3 - "$work/rows" "$low" "$high" "$connections" "$json" <<'PY'
import collections, json, statistics, sys
rows_path, low, high, conns, json_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
n = high - low
ir = collections.defaultdict(list)        # (server, mode) -> [per request]
sys_total = collections.defaultdict(list)  # (server, mode) -> [per request]
sys_each = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(rows_path):
    parts = line.split()
    _, tool, server, mode, kind = parts[:5]
    if kind == "ir":
        ir[(server, mode)].append((int(parts[6]) - int(parts[5])) / n)
    else:
        lo_text, hi_text = " ".join(parts[5:]).split("|")
        lo = dict(kv.split("=") for kv in lo_text.split())
        hi = dict(kv.split("=") for kv in hi_text.split())
        sys_total[(server, mode)].append((int(hi.get("total", 0)) - int(lo.get("total", 0))) / n)
        for name in set(lo) | set(hi):
            if name == "total":
                continue
            sys_each[(server, mode)][name].append((int(hi.get(name, 0)) - int(lo.get(name, 0))) / n)
med = statistics.median
out = {"requests": [low, high], "connections": int(conns),
       "instructions_per_request": {}, "syscalls_per_request": {},
       "syscalls_by_name": {}}
modes = sorted({m for (_, m) in list(ir) + list(sys_total)}, reverse=True)
title = {"keepalive": "keep-alive", "close": "new connection per request"}
print(f"### Probe cost per request: GET /readyz, {conns} connections, "
      f"(count at {high} - count at {low}) / {n}\n")
print("| mode | server | instructions/request (min-max) | syscalls/request (min-max) |")
print("|---|---|---|---|")
for mode in modes:
    for server in ("vigil", "nginx"):
        a = ir.get((server, mode), [])
        s = sys_total.get((server, mode), [])
        fa = f"{med(a):,.0f} ({min(a):,.0f}-{max(a):,.0f})" if a else "-"
        fs = f"{med(s):.2f} ({min(s):.2f}-{max(s):.2f})" if s else "-"
        print(f"| {title.get(mode, mode)} | {server} | {fa} | {fs} |")
        key = f"{server}/{mode}"
        if a:
            out["instructions_per_request"][key] = {"median": med(a), "range": [min(a), max(a)], "rounds": a}
        if s:
            out["syscalls_per_request"][key] = {"median": med(s), "range": [min(s), max(s)], "rounds": s}
            out["syscalls_by_name"][key] = {k: med(v) for k, v in sys_each[(server, mode)].items()
                                            if abs(med(v)) >= 0.005}
print()
print("| mode | vigil/nginx instructions | vigil/nginx syscalls |")
print("|---|---|---|")
for mode in modes:
    va, ga = ir.get(("vigil", mode)), ir.get(("nginx", mode))
    vs, gs = sys_total.get(("vigil", mode)), sys_total.get(("nginx", mode))
    ra = f"{med(va) / med(ga):.2f}" if va and ga else "-"
    rs = f"{med(vs) / med(gs):.2f}" if vs and gs else "-"
    print(f"| {title.get(mode, mode)} | {ra} | {rs} |")
    out.setdefault("ratio", {})[mode] = {"instructions": ra, "syscalls": rs}
print()
for key, names in sorted(out["syscalls_by_name"].items()):
    text = ", ".join(f"{k} {v:.2f}" for k, v in sorted(names.items(), key=lambda kv: -kv[1]))
    print(f"- {key} system calls per request: {text}")
if json_path:
    with open(json_path, "w") as f:
        json.dump(out, f, indent=1)
PY
