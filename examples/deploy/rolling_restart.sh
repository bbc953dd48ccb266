#!/bin/sh
# A rolling restart with a deploy gate, as the S8 tests do it: for each
# instance, drain and stop it, start the new version, and only move on once
# `vigil-sidecar wait` says it is ready; a failed gate stops the rollout
# (exit code: 3 not ready, 4 unreachable, 5 timed out) so the caller can
# roll back. Instance i is the systemd unit vigil-example@i with its probe
# server on port 8080+2i and its application on 8081+2i.
#
#   LB=haproxy (default)  HAProxy's active /readyz checks take a draining
#                         instance out by themselves (haproxy.cfg); the
#                         script only waits for rise before the next one.
#   LB=nginx              open-source nginx has no active checks: the script
#                         marks the instance `down` in UPSTREAM_CONF (the
#                         file nginx.conf includes), reloads nginx and waits
#                         for the old workers to exit before SIGTERM, and
#                         puts it back once the gate passes.
#                         (s8_nginx_test runs this flow.)
set -eu
LB=${LB:-haproxy}
UPSTREAM_CONF=${UPSTREAM_CONF:-/etc/nginx/vigil-upstream.conf}
HOST=${HOST:-127.0.0.1}

# Writes UPSTREAM_CONF with instance $1 marked down (-1: none), reloads
# nginx, and returns once no old worker is left (none can still pick it).
nginx_upstreams() {
  tmp="$UPSTREAM_CONF.tmp"
  : > "$tmp"
  for j in 0 1; do
    down=""
    [ "$j" = "$1" ] && down=" down"
    echo "server $HOST:$((8081 + 2 * j)) max_fails=1 fail_timeout=5s$down;" \
      >> "$tmp"
  done
  mv "$tmp" "$UPSTREAM_CONF"
  nginx -t -q && nginx -s reload
  # Old workers finish the requests they hold, then exit.
  sleep 0.2
  while pgrep -f "nginx: worker process is shutting down" > /dev/null; do
    sleep 0.1
  done
}

for i in 0 1; do
  probe=$((8080 + 2 * i))
  [ "$LB" = nginx ] && nginx_upstreams "$i"
  systemctl restart "vigil-example@$i"   # SIGTERM: drain, then stop, start
  if ! vigil-sidecar wait --url "http://$HOST:$probe/readyz" \
      --timeout 60s --successes 3 --interval 500ms --json; then
    echo "instance $i did not become ready: roll back" >&2
    exit 1
  fi
  if [ "$LB" = nginx ]; then
    nginx_upstreams -1
  else
    # Let HAProxy see it (rise 2 x inter 200ms) before the next instance
    # goes down; `show servers state` on the stats socket shows it UP.
    sleep 1
  fi
done
