# The loopback harness's shared set-up, sourced (from the repository root)
# by run.sh, scale.sh and probe_instructions.sh, which run under `set -euo pipefail`. Defines:
#
#   work, pids   a temporary work directory and the pids of the servers
#                started in the background; an EXIT trap stops every one
#                of them and removes the directory.
#   free_port    prints a port on 127.0.0.1 nobody listens on right now.
#   start_target NAME ARGS...
#                starts $bin (probe_target) with ARGS in the background,
#                waits (at most 10 s) for it to print its port, sets
#                target_port.
#   write_nginx_conf PORT BODY WORKER_CONNECTIONS [MAIN] [HTTP] [LISTEN]
#                writes $work/nginx/nginx.conf: one worker, not daemonized,
#                answering `return 200 BODY` on 127.0.0.1:PORT/readyz; MAIN,
#                HTTP and LISTEN are extra directives for the main context,
#                the http context and the listen line.
#   start_nginx PORT BODY WORKER_CONNECTIONS [MAIN] [HTTP] [LISTEN]
#                write_nginx_conf, then starts nginx with it (in the
#                foreground of its own background job).
#   wait_http URL
#                until URL answers at all; fails after 10 s.
#   wait_ok URL  until URL answers 200; fails after 10 s.
#   stop_servers stops the servers started so far and forgets them.
#
# Errors name the sourcing script ("run.sh: ...").

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Started in this shell (not a subshell), so its pid lands in pids and the
# EXIT trap stops it.
start_target() {
  local name=$1
  shift
  "$bin" "$@" > "$work/$name.out" 2>&1 &
  pids+=($!)
  target_port=
  for _ in $(seq 100); do
    target_port=$(sed -n 's/^listening on //p' "$work/$name.out" 2>/dev/null)
    [[ -n $target_port ]] && return 0
    sleep 0.1
  done
  echo "${0##*/}: $name never printed its port" >&2
  return 1
}

write_nginx_conf() {
  local port=$1 body=$2 connections=$3 main=${4:-} http=${5:-} listen=${6:-}
  mkdir -p "$work/nginx"
  {
    echo "worker_processes 1;"
    [[ -n $main ]] && echo "$main"
    cat <<NGINX
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections $connections; }
http {
  access_log off;
NGINX
    [[ -n $http ]] && echo "  $http"
    cat <<NGINX
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$port${listen:+ $listen};
    location = /readyz { default_type text/plain; return 200 "$body"; }
  }
}
NGINX
  } > "$work/nginx/nginx.conf"
}

start_nginx() {
  write_nginx_conf "$@"
  /usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  pids+=($!)
}

wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "${0##*/}: $1 never answered" >&2
  return 1
}

wait_ok() {
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1") == 200 ]] && return 0
    sleep 0.1
  done
  echo "${0##*/}: $1 never answered 200" >&2
  return 1
}

stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
