#!/usr/bin/env bash
# Loopback probe benchmark: vigil's dedicated probe server vs a bare
# cpp-httplib handler (the floor for that library) vs nginx (best in class),
# each answering /readyz on its own 127.0.0.1 port, driven by wrk with the
# same connections, threads and duration, alternating A/B/C for a few rounds.
# Then probes under application load, and the idle cost of vigil.
# Prints Markdown. Bounded: every load has a fixed duration.
#
#   benchmarks/http/run.sh [--quick] [--json FILE]
#
# --json FILE also writes the key figures as JSON (benchmarks/summarize.py
# reads them for the headline table).
#
# Needs the opt build of //benchmarks/http:probe_target and
# //examples/service (benchmarks/run_all.sh builds them) and wrk + nginx
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=5
rounds=3
idle_window=20
json_out=
while (($#)); do
  case "$1" in
    --quick) duration=2; rounds=1; idle_window=5 ;;
    --json) json_out=$2; shift ;;
    *) echo "usage: $0 [--quick] [--json FILE]" >&2; exit 2 ;;
  esac
  shift
done
connections=8
bin=bazel-bin/benchmarks/http/probe_target
example=bazel-bin/examples/service/service
for b in "$bin" "$example"; do
  [[ -x $b ]] || { echo "run.sh: $b missing: bazel build --config=opt first" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk missing (scripts/setup.sh)" >&2; exit 1; }
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "run.sh: nginx missing" >&2; exit 1; }

source benchmarks/http/lib.sh

# run_wrk URL [extra wrk args]: prints "rps p50_ms p99_ms errors".
run_wrk() {
  local url=$1
  shift
  wrk -t1 -c"$connections" -d"${duration}s" --latency "$@" "$url" \
    > "$work/wrk.out" 2>&1 || true
  python3 - "$work/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v, unit):
    v = float(v)
    return {"us": v / 1000, "ms": v, "s": v * 1000}[unit]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs += int(non2xx.group(1)) if non2xx else 0
print("%s %s %s %d" % (rps.group(1) if rps else "0",
                       "%.3f" % ms(*p50.groups()) if p50 else "nan",
                       "%.3f" % ms(*p99.groups()) if p99 else "nan", errs))
PY
}

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# --- (1) vigil vs bare cpp-httplib vs nginx --------------------------------
start_target vigil --mode=vigil --port=0
vigil_port=$target_port
start_target bare --mode=bare --port=0 --threads="$connections"
bare_port=$target_port
nginx_port=$(free_port)
start_nginx "$nginx_port" ok 1024
for u in "http://127.0.0.1:$vigil_port/readyz" "http://127.0.0.1:$bare_port/readyz" \
         "http://127.0.0.1:$nginx_port/readyz"; do
  wait_http "$u"
done
# vigil's /readyz passes once its checks ran.
wait_ok "http://127.0.0.1:$vigil_port/readyz" || true

declare -A rps p50 p99 errs
for name in vigil bare nginx; do rps[$name]=""; p50[$name]=""; p99[$name]=""; errs[$name]=0; done
for r in $(seq "$rounds"); do
  for name in vigil bare nginx; do
    port_var=${name}_port
    read -r a b c e < <(run_wrk "http://127.0.0.1:${!port_var}/readyz")
    rps[$name]+=" $a"; p50[$name]+=" $b"; p99[$name]+=" $c"
    errs[$name]=$((errs[$name] + e))
  done
done
declare -A mrps mp50 mp99
for name in vigil bare nginx; do
  mrps[$name]=$(median ${rps[$name]})
  mp50[$name]=$(median ${p50[$name]})
  mp99[$name]=$(median ${p99[$name]})
done
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b) if b else 'n/a')" "$1" "$2"; }

echo "## /readyz over loopback (wrk -t1 -c$connections -d${duration}s, median of $rounds alternating rounds)"
echo
echo "| server | threads serving | requests/s | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|---|"
echo "| vigil ProbeServer | 1 event loop | ${mrps[vigil]} | ${mp50[vigil]} | ${mp99[vigil]} | ${errs[vigil]} |"
echo "| bare cpp-httplib handler | $connections pool threads (one per connection) | ${mrps[bare]} | ${mp50[bare]} | ${mp99[bare]} | ${errs[bare]} |"
echo "| nginx 1 worker, return 200 | 1 worker process | ${mrps[nginx]} | ${mp50[nginx]} | ${mp99[nginx]} | ${errs[nginx]} |"
echo
echo "Ratios (requests/s): vigil/bare = $(ratio "${mrps[vigil]}" "${mrps[bare]}"), vigil/nginx = $(ratio "${mrps[vigil]}" "${mrps[nginx]}"); p99 latency vigil/bare = $(ratio "${mp99[vigil]}" "${mp99[bare]}")."
echo

stop_servers

# --- (2) probes while the application's threads are saturated -------------
# --- (3) idle cost ----------------------------------------------------------
source benchmarks/http/example_load.sh

if [[ -n $json_out ]]; then
  python3 - "$json_out" <<PY
import json, sys
json.dump({
    "wrk": "-t1 -c$connections -d${duration}s, median of $rounds rounds",
    "rps": {"vigil": ${mrps[vigil]}, "bare": ${mrps[bare]},
            "nginx": ${mrps[nginx]}},
    "p50_ms": {"vigil": ${mp50[vigil]}, "bare": ${mp50[bare]},
               "nginx": ${mp50[nginx]}},
    "p99_ms": {"vigil": ${mp99[vigil]}, "bare": ${mp99[bare]},
               "nginx": ${mp99[nginx]}},
    "errors": {"vigil": ${errs[vigil]}, "bare": ${errs[bare]},
               "nginx": ${errs[nginx]}},
    "saturated_p99_ms": {"dedicated": $busy_p99, "mounted": $busy_m99},
    "saturated_failed": {"dedicated": $busy_fail, "mounted": $busy_mfail},
    "idle": {"window_s": $idle_window,
             "on": {"cpu_s": ${idle_cpu[on]}, "rss_kib": ${idle_rss[on]}},
             "off": {"cpu_s": ${idle_cpu[off]}, "rss_kib": ${idle_rss[off]}}},
}, open(sys.argv[1], "w"), indent=1)
PY
fi
