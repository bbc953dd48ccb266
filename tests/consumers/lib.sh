# Helpers shared by the consumer tests (sourced, not run).

# require_or_skip COND_CMD REASON: the shell twin of VIGIL_REQUIRE_OR_SKIP
# (health/testing/require.h): when COND_CMD fails, skip (exit 0) with the
# reason on a developer machine, fail when $CI is set.
require_or_skip() {
  if ! eval "$1" >/dev/null 2>&1; then
    if [[ -n ${CI:-} ]]; then
      echo "FAIL (CI is set, so a missing precondition fails): $2" >&2
      exit 1
    fi
    echo "SKIP: $2"
    exit 0
  fi
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds; fails
# after SECONDS.
wait_until() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# start_service NAME CMD...: starts a consumer service in the background
# with its stdout in $TEST_TMPDIR/NAME.out; sets SERVICE_PID and
# SERVICE_PORT (from its "port N" line, or "$PORT_LINE N" if set, waited
# for up to 60 s).
start_service() {
  local name=$1
  shift
  local log=$TEST_TMPDIR/${name//\//_}
  local out=$log.out
  "$@" >"$out" 2>"$log.err" &
  SERVICE_PID=$!
  local line=${PORT_LINE:-port}
  if ! wait_until 60 grep -q "^$line " "$out"; then
    cat "$log.err" >&2
    fail "$name did not print its port"
  fi
  SERVICE_PORT=$(sed -n "s/^$line //p" "$out")
}

# http_code PORT PATH: the status code of GET PATH.
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://127.0.0.1:$1$2" || true
}

# code_is PORT PATH CODE: whether GET PATH answers CODE now. A command for
# wait_until, which must ask again on each try: `wait_until 30 test
# "$(http_code ...)" = 200` would compare the first answer 600 times.
code_is() {
  [[ $(http_code "$1" "$2") == "$3" ]]
}

# probe_and_stop NAME: expects the service started last to pass /readyz
# and /livez (within 30 s: its first check run), /metrics to report vigil's
# version ($VIGIL_VERSION), and SIGTERM to make it exit 0.
probe_and_stop() {
  local name=$1
  wait_until 30 code_is "$SERVICE_PORT" /readyz 200 ||
    fail "$name: /readyz is $(http_code "$SERVICE_PORT" /readyz), not 200"
  wait_until 30 code_is "$SERVICE_PORT" /livez 200 ||
    fail "$name: /livez is $(http_code "$SERVICE_PORT" /livez), not 200"
  # Read whole, then matched: `curl | grep -q` fails under pipefail when
  # grep exits early and curl gets EPIPE.
  local metrics
  metrics=$(curl -s --max-time 5 "http://127.0.0.1:$SERVICE_PORT/metrics")
  [[ $metrics == *"vigil_version=\"$VIGIL_VERSION\""* ]] ||
    fail "$name: /metrics lacks vigil_version=\"$VIGIL_VERSION\""
  kill -TERM "$SERVICE_PID"
  local rc=0
  wait "$SERVICE_PID" || rc=$?
  ((rc == 0)) || fail "$name exited $rc after SIGTERM"
  echo "ok: $name (port $SERVICE_PORT: /readyz 200, /livez 200, drained)"
}

# expect_service NAME CMD...: start_service, then probe_and_stop.
expect_service() {
  start_service "$@"
  probe_and_stop "$1"
}
