#!/usr/bin/env bash
# Loopback scaling benchmark for the probe port (issue 14): vigil's
# ProbeServer vs a bare cpp-httplib handler vs nginx (1 worker), each
# answering /readyz on its own 127.0.0.1 port, driven by wrk -t1 at 1, 8,
# 64, 256 and 1,024 clients, keep-alive and new-connection-per-request
# ("Connection: close"), alternating vigil / bare / nginx in every round.
# Prints Markdown: per server and client count the median requests/s, p50,
# p99 and p99.9 over the rounds, the spread of p99 (min-max), the errors
# summed over all rounds, and vigil's ratios to nginx. Bounded: every wrk
# run has a fixed duration (about 2 * 5 * 3 * rounds * duration seconds).
#
#   benchmarks/http/scale.sh [--rounds N] [--duration S] [--clients "1 8"]
#
# Needs the opt build of //benchmarks/http:probe_target
# (bazel build --config=opt //benchmarks/http:probe_target, or PROBE_TARGET=
# a copy of it), wrk and nginx (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=5
duration=3
clients_list="1 8 64 256 1024"
modes="keepalive close"
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --clients) clients_list=$2; shift ;;
    --modes) modes=$2; shift ;;
    *) echo "usage: $0 [--rounds N] [--duration S] [--clients LIST] [--modes LIST]" >&2; exit 2 ;;
  esac
  shift
done
# 1,024 clients: a descriptor each on both sides, plus nginx's and the
# servers' own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# bazel-bin follows the last build's configuration: PROBE_TARGET names a
# copy of the opt binary when other builds ran since.
bin=${PROBE_TARGET:-bazel-bin/benchmarks/http/probe_target}
[[ -x $bin ]] || { echo "scale.sh: $bin missing: bazel build --config=opt //benchmarks/http:probe_target" >&2; exit 1; }
command -v wrk >/dev/null || { echo "scale.sh: wrk missing (scripts/setup.sh)" >&2; exit 1; }
[[ -x /usr/sbin/nginx ]] || { echo "scale.sh: nginx missing (scripts/setup.sh)" >&2; exit 1; }
max_clients=0
for c in $clients_list; do ((c > max_clients)) && max_clients=$c; done

source benchmarks/http/lib.sh

start_target vigil --mode=vigil --port=0
vigil_port=$target_port
# cpp-httplib serves one connection per pool thread: give it one per client.
start_target bare --mode=bare --port=0 --threads="$max_clients"
bare_port=$target_port
nginx_port=$(free_port)
start_nginx "$nginx_port" 'ok\n' 8192 "worker_rlimit_nofile 65536;" \
  "keepalive_requests 1000000;" "backlog=4096"
for port in "$vigil_port" "$bare_port" "$nginx_port"; do
  wait_ok "http://127.0.0.1:$port/readyz" || true
done

# One wrk run; appends "name mode clients rps p50 p99 p999 errors" to
# $work/results.
run_one() {
  local name=$1 mode=$2 clients=$3 port=$4
  local extra=()
  [[ $mode == close ]] && extra=(-H "Connection: close")
  wrk -t1 -c"$clients" -d"${duration}s" --timeout 2s \
    -s benchmarks/http/percentiles.lua "${extra[@]}" \
    "http://127.0.0.1:$port/readyz" > "$work/wrk.out" 2>&1 || true
  python3 - "$work/wrk.out" "$name" "$mode" "$clients" >> "$work/results" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"VIGIL_WRK (.*)", text)
f = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
g = lambda k: int(f.get(k, 0))
secs = g("duration_us") / 1e6 or 1
errors = sum(g(k) for k in ("connect", "read", "write", "timeout", "status"))
ok = g("requests") - g("status")
print(sys.argv[2], sys.argv[3], sys.argv[4], "%.0f" % (ok / secs),
      "%.3f" % (g("p50_us") / 1000), "%.3f" % (g("p99_us") / 1000),
      "%.3f" % (g("p999_us") / 1000), errors)
PY
}

: > "$work/results"
for mode in $modes; do
  for clients in $clients_list; do
    for r in $(seq "$rounds"); do
      # Rotate who goes first, so no server always runs right after another.
      case $((r % 3)) in
        0) order="vigil bare nginx" ;;
        1) order="bare nginx vigil" ;;
        2) order="nginx vigil bare" ;;
      esac
      for name in $order; do
        port_var=${name}_port
        run_one "$name" "$mode" "$clients" "${!port_var}"
      done
    done
  done
done
cp "$work/results" "${SCALE_RAW:-/dev/null}" 2>/dev/null || true

python3 - "$work/results" "$rounds" "$duration" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, mode, c, rps, p50, p99, p999, err = line.split()
    rows[(mode, int(c), n)].append((float(rps), float(p50), float(p99), float(p999), int(err)))
rounds, duration = sys.argv[2], sys.argv[3]
med = lambda xs: statistics.median(xs)
for mode in ("keepalive", "close"):
    cs = sorted({c for (m, c, n) in rows if m == mode})
    if not cs:
        continue
    title = "keep-alive" if mode == "keepalive" else "new connection per request (Connection: close)"
    print(f"### /readyz, {title}: wrk -t1 -d{duration}s, median of {rounds} alternating rounds\n")
    print("| clients | server | requests/s (min-max) | p50 ms | p99 ms (min-max) | p99.9 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for c in cs:
        for n in ("vigil", "bare", "nginx"):
            v = rows.get((mode, c, n))
            if not v:
                continue
            rps = [x[0] for x in v]; p99 = [x[2] for x in v]
            print(f"| {c} | {n} | {med(rps):.0f} ({min(rps):.0f}-{max(rps):.0f}) | "
                  f"{med([x[1] for x in v]):.3f} | {med(p99):.3f} ({min(p99):.3f}-{max(p99):.3f}) | "
                  f"{med([x[3] for x in v]):.3f} | {sum(x[4] for x in v)} |")
    print()
    print("| clients | vigil/nginx requests/s | vigil/nginx p99 | vigil/bare requests/s |")
    print("|---|---|---|---|")
    for c in cs:
        v, g, b = (rows.get((mode, c, n)) for n in ("vigil", "nginx", "bare"))
        if not (v and g):
            continue
        r = med([x[0] for x in v]) / max(med([x[0] for x in g]), 1)
        p = med([x[2] for x in v]) / max(med([x[2] for x in g]), 1e-9)
        rb = med([x[0] for x in v]) / max(med([x[0] for x in b]), 1) if b else float("nan")
        print(f"| {c} | {r:.2f} | {p:.2f} | {rb:.2f} |")
    print()
PY
