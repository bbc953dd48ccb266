#!/usr/bin/env bash
# The probe port's CPU time per request (issue 14), vigil against nginx:
# `perf stat -e task-clock` attached to each server process (every thread,
# user and kernel) while `wrk -t1 -cCLIENTS -dDURATION` drives GET /readyz
# over keep-alive (or, with --close, a new connection per request),
# divided by the requests wrk completed. Rounds alternate
# who goes first. This VM's perf has no hardware counters (cycles,
# instructions: "not supported"), so the software task clock is what it
# counts; unlike requests/s, it says what a request costs the server
# whatever else runs, because other work on the cores does not add to the
# server's own CPU time (only cache effects move it a little). With
# --close that holds less: on loopback the kernel's TCP work for a packet
# (handshakes, FINs) runs in softirq context on whichever task is on the
# CPU, so part of the client's connection set-up is charged to the server
# and part of the server's to wrk; count system calls (strace -c, or
# probe_instructions.sh) for that mode.
#
#   bash benchmarks/http/cpu_per_request.sh [--clients 8] [--rounds 3]
#     [--duration 3] [--binary PATH] [--close]
set -euo pipefail
cd "$(dirname "$0")/../.."
clients=8
rounds=3
duration=3
binary=""
close=()
mode=keep-alive
while (($#)); do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --close) close=(-H "Connection: close"); mode="new connection per request"; shift ;;
    *) echo "usage: $0 [--clients N] [--rounds N] [--duration S] [--binary PATH] [--close]" >&2
       exit 2 ;;
  esac
done
for tool in perf wrk /usr/sbin/nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool missing (scripts/setup.sh)" >&2; exit 1; }
done
if [[ -z $binary ]]; then
  bazel build --config=opt --noshow_progress //benchmarks/http:probe_target >&2
  binary=bazel-bin/benchmarks/http/probe_target
fi
source benchmarks/http/lib.sh
bin="$work/probe_target"
cp "$binary" "$bin"  # bazel-bin may be repointed meanwhile.
start_target vigil --mode=vigil --port=0 --check_interval_ms=3600000
vigil_port=$target_port
vigil_pid=${pids[-1]}
nginx_port=$(free_port)
# One process (master_process off), so its pid is the one that serves.
start_nginx "$nginx_port" 'ok\n' 8192 "master_process off;" \
  "keepalive_requests 1000000;" "backlog=4096"
nginx_pid=${pids[-1]}
wait_ok "http://127.0.0.1:$nginx_port/readyz"
wait_ok "http://127.0.0.1:$vigil_port/readyz"

: > "$work/rows"
for ((r = 1; r <= rounds; ++r)); do
  if ((r % 2)); then order="vigil nginx"; else order="nginx vigil"; fi
  for server in $order; do
    if [[ $server == vigil ]]; then port=$vigil_port pid=$vigil_pid; else port=$nginx_port pid=$nginx_pid; fi
    perf stat -x, -e task-clock,context-switches -p "$pid" -o "$work/perf.$server.$r" \
      -- sleep "$((duration + 1))" &
    perf_pid=$!
    sleep 0.2  # perf attached before the load starts
    requests=$(wrk -t1 -c"$clients" -d"${duration}s" "${close[@]}" "http://127.0.0.1:$port/readyz" |
      awk '/requests in/ {print $1}')
    wait "$perf_pid"
    # -x, lines: value,unit,event,...
    awk -F, -v s="$server" -v r="$r" -v n="$requests" '
      $3 ~ /^task-clock/ {cpu = $1}
      $3 ~ /^context-switches/ {cs = $1}
      END {printf "%s %s %s %.4f %.4f\n", r, s, n, cpu * 1000 / n, cs / n}' \
      "$work/perf.$server.$r" >> "$work/rows"
    echo "round $r $server done" >&2
  done
done
python3 - "$work/rows" "$clients" "$mode" <<'PY'
import collections, statistics, sys
cpu = collections.defaultdict(list)
cs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, server, _, us, switches = line.split()
    cpu[server].append(float(us))
    cs[server].append(float(switches))
med = statistics.median
print(f"### Server CPU per request: GET /readyz, {sys.argv[3]}, wrk -t1 -c{sys.argv[2]}\n")
print("| server | CPU µs/request, median (min-max) | context switches/request |")
print("|---|---|---|")
for s in ("vigil", "nginx"):
    print(f"| {s} | {med(cpu[s]):.2f} ({min(cpu[s]):.2f}-{max(cpu[s]):.2f}) | {med(cs[s]):.3f} |")
print(f"\nvigil/nginx CPU per request: {med(cpu['vigil']) / med(cpu['nginx']):.2f}")
PY
