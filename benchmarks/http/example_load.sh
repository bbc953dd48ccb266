# Sourced by run.sh (uses its helpers, $example, $work, $duration,
# $idle_window, pids): (2) probe latency while the example service's
# application threads saturate both cores, dedicated probe server vs probes
# mounted on the saturated application server; (3) idle cost of vigil in the
# example service: CPU time and RSS over a fixed window, vigil on vs off.

# start_example NAME ARGS...: starts the example service, sets
# ex_probe / ex_app / ex_pid from its first line.
start_example() {
  local name=$1
  shift
  "$example" --port=0 --app_port=0 --warmup=0s --drain_delay=0s "$@" \
    > "$work/$name.out" 2>&1 &
  ex_pid=$!
  pids+=("$ex_pid")
  for _ in $(seq 100); do
    grep -q '^vigil-example: probe=' "$work/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  ex_probe=$(sed -n 's/^vigil-example: probe=\([^ ]*\) .*/\1/p' "$work/$name.out")
  ex_app=$(sed -n 's/^vigil-example: .* app=\([^ ]*\) .*/\1/p' "$work/$name.out")
}

# latency URL N: "p50 p99 max failed" over N sequential new-connection GETs
# with a 1 s timeout, as a kubelet probes.
latency() {
  python3 examples/service/probe_latency.py "$1" -n "$2" --timeout 1 |
    sed -n 's/.*, \([0-9]*\) failed.*p50 \([0-9.na]*\) ms, p99 \([0-9.na]*\) ms, max \([0-9.na]*\) ms/\2 \3 \4 \1/p'
}

probe_n=300
[[ $duration -le 2 ]] && probe_n=100
app_threads=4

# The upstream check connects to the probe port itself, so readiness passes.
probe_port_guess=$(free_port)
start_example load --port="$probe_port_guess" --app_threads=$app_threads \
  --upstream="127.0.0.1:$probe_port_guess"
wait_http "http://$ex_probe/livez"

read -r idle_p50 idle_p99 idle_max idle_fail < <(latency "http://$ex_probe/readyz" "$probe_n")
read -r idle_m50 idle_m99 idle_mmax idle_mfail < <(latency "http://$ex_app/health/readyz" "$probe_n")

# Saturate the application: more concurrent CPU-burning requests than it has
# threads, for long enough to cover both probe runs (bounded).
load_seconds=$((duration * 6 + 10))
wrk -t2 -c$((app_threads * 4)) -d"${load_seconds}s" --timeout 10s \
  "http://$ex_app/work?ms=20" > "$work/appload.out" 2>&1 &
load_pid=$!
pids+=("$load_pid")
sleep 1
read -r busy_p50 busy_p99 busy_max busy_fail < <(latency "http://$ex_probe/readyz" "$probe_n")
read -r busy_m50 busy_m99 busy_mmax busy_mfail < <(latency "http://$ex_app/health/readyz" "$probe_n")
kill "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
app_rps=$(sed -n 's/Requests\/sec:[ ]*//p' "$work/appload.out")
kill "$ex_pid" 2>/dev/null || true
wait "$ex_pid" 2>/dev/null || true

echo "## Probes while the application's $app_threads threads are saturated"
echo
echo "Example service; load: wrk -t2 -c$((app_threads * 4)) on /work?ms=20 (${app_rps:-?} requests/s served)."
echo "Probes: $probe_n sequential GETs of /readyz, a new connection each, 1 s timeout."
echo
echo "| probe endpoint | app load | p50 ms | p99 ms | max ms | failed or >1 s |"
echo "|---|---|---|---|---|---|"
echo "| dedicated ProbeServer | idle | $idle_p50 | $idle_p99 | $idle_max | $idle_fail |"
echo "| mounted on app server | idle | $idle_m50 | $idle_m99 | $idle_mmax | $idle_mfail |"
echo "| dedicated ProbeServer | saturated | $busy_p50 | $busy_p99 | $busy_max | $busy_fail |"
echo "| mounted on app server | saturated | $busy_m50 | $busy_m99 | $busy_mmax | $busy_mfail |"
echo

# --- idle cost -----------------------------------------------------------
# cpu_ns PID: CPU time of every thread of PID so far, in nanoseconds, from
# /proc/PID/task/*/schedstat (nanosecond resolution; /proc/PID/stat counts
# 10 ms ticks, too coarse for an idle process). Falls back to the ticks when
# schedstat is absent (kernel without CONFIG_SCHED_INFO).
cpu_ns() {
  local pid=$1
  if [[ -r /proc/$pid/schedstat ]]; then
    cat /proc/"$pid"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
  else
    awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1e9 / hz}' "/proc/$pid/stat"
  fi
}

# cpu_rss PID SECONDS: "cpu_seconds rss_kib" used by PID over the window
# (threads that exit during the window are not counted; vigil's threads are
# long-lived).
cpu_rss() {
  local pid=$1 secs=$2 t0 t1 rss
  t0=$(cpu_ns "$pid")
  sleep "$secs"
  t1=$(cpu_ns "$pid")
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  python3 -c "print('%.4f %s' % (($t1 - $t0) / 1e9, '$rss'))"
}

declare -A idle_cpu idle_rss
for mode in on off; do
  start_example "idle_$mode" --vigil=$([[ $mode == on ]] && echo true || echo false) \
    --upstream="127.0.0.1:$probe_port_guess"
  sleep 2  # let start-up settle before the window opens
  read -r c r < <(cpu_rss "$ex_pid" "$idle_window")
  idle_cpu[$mode]=$c
  idle_rss[$mode]=$r
  kill "$ex_pid" 2>/dev/null || true
  wait "$ex_pid" 2>/dev/null || true
done
pct() { python3 -c "print('%.4f' % (100.0 * float('$1') / float('$2')))"; }
echo "## Idle cost (example service, ${idle_window} s window, no traffic)"
echo
echo "| vigil | CPU seconds | CPU % of one core | RSS KiB |"
echo "|---|---|---|---|"
echo "| on (default checks, pressure detectors, probe server) | ${idle_cpu[on]} | $(pct "${idle_cpu[on]}" "$idle_window") | ${idle_rss[on]} |"
echo "| off (--vigil=false) | ${idle_cpu[off]} | $(pct "${idle_cpu[off]}" "$idle_window") | ${idle_rss[off]} |"
echo
echo "vigil's idle cost: $(python3 -c "print('%.4f' % (100.0 * (float('${idle_cpu[on]}') - float('${idle_cpu[off]}')) / $idle_window))") % of one core, $(( ${idle_rss[on]} - ${idle_rss[off]} )) KiB RSS."
