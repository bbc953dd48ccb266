#!/bin/sh
# A rolling restart with a deploy gate, as the S8 test does it: for each
# instance, drain and stop it, start the new version, and only move on once
# `vigil-sidecar wait` says it is ready; a failed gate stops the rollout
# (exit code: 3 not ready, 4 unreachable, 5 timed out) so the caller can
# roll back. Instance i is the systemd unit vigil-example@i with its probe
# server on port 8080+2i.
set -eu
for i in 0 1; do
  probe=$((8080 + 2 * i))
  systemctl restart "vigil-example@$i"   # SIGTERM: drain, then stop, start
  if ! vigil-sidecar wait --url "http://127.0.0.1:$probe/readyz" \
      --timeout 60s --successes 3 --interval 500ms --json; then
    echo "instance $i did not become ready: roll back" >&2
    exit 1
  fi
  # Let the load balancer see it (HAProxy rise 2 x inter 200ms) before the
  # next instance goes down.
  sleep 1
done
