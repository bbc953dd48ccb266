#!/usr/bin/env bash
# Builds and runs the example service on its built-in defaults (installing
# what is missing first): probe server on 127.0.0.1:8080, application on
# 127.0.0.1:8081, supervised. It prints the URLs to try, a curl line for each
# format, and how to watch vigil catch each failure.
#
# Readiness depends on --upstream (default 127.0.0.1:6379). Unless you pass
# --upstream or something already listens there, this script starts a
# throwaway Redis on 127.0.0.1:6379 (no persistence, its own session so
# Ctrl-C reaches only the service) and stops it when the service exits, so
# /readyz turns 200 within seconds. Safe to run twice. Extra arguments go to
# the service, e.g.
#   scripts/run_example.sh --upstream=127.0.0.1:5432 --port=9090
# Ctrl-C drains (readiness 503 for --drain_delay) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bazel build --config=opt --noshow_progress --ui_event_filters=-info \
  //examples/service 2>&1 |
  grep -vE 'linux-sandbox|^INFO: From ' || true
bin=bazel-bin/examples/service/service
[[ -x $bin ]] || { echo "run_example: build failed" >&2; exit 1; }

redis_pid=
stop_redis() {
  [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  return 0
}
if [[ " $* " != *" --upstream="* ]] &&
  [[ -z $(ss -ltnH 'sport = :6379' 2>/dev/null) ]]; then
  setsid redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --logfile /dev/null --dir /tmp &
  redis_pid=$!
  trap stop_redis EXIT
  for _ in $(seq 50); do
    [[ -n $(ss -ltnH 'sport = :6379' 2>/dev/null) ]] && break
    sleep 0.1
  done
  echo "run_example: started a throwaway Redis on 127.0.0.1:6379 (pid $redis_pid) for the default --upstream;"
  echo "run_example: see readiness fail: kill $redis_pid; recover: redis-server --bind 127.0.0.1 --port 6379 --save '' --daemonize yes"
  echo
fi

# The service runs in the foreground of this shell's process group: Ctrl-C
# reaches it (and only it: Redis has its own session).
status=0
"$bin" "$@" || status=$?
exit "$status"
