# Shared by the benchmark scripts: settings, nginx on 127.0.0.1 pinned to one
# core, and CPU/RSS measurement of a command pinned to another.
# shellcheck shell=bash

PORT=${PORT:-18090}
CACHE=${ITER8_BENCH_CACHE:-$HOME/.cache/iter8-bench}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
BIN=$CACHE/bin
WORK=$(mktemp -d)
URL=http://127.0.0.1:$PORT/
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT

mkdir -p "$BIN"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
for p in wrk nginx taskset; do
  command -v "$p" >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$p" >/dev/null; }
done
go build -o "$BIN/iter8" ./cmd/iter8

# start_nginx: one worker, keep-alive without limit, no access log, a fixed body.
start_nginx() {
  cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$PORT;
    location = /nginx_status { stub_status; }
    location / { default_type text/plain; return 200 "iter8 benchmark: a fixed small body to keep the response size even.\n"; }
  }
}
NGINX
  mkdir -p "$WORK/logs"
  taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK" &
  for _ in $(seq 50); do curl -sf "$URL" >/dev/null && return; sleep 0.1; done
  echo "nginx did not start: $(cat "$WORK/error.log")" >&2
  exit 1
}

# served prints how many requests nginx has answered.
served() { curl -s "http://127.0.0.1:$PORT/nginx_status" | awk 'NR==3{print $3}'; }

# rusage CMD...: runs CMD and prints its CPU seconds (user + system, to the
# microsecond), its peak RSS in KB (from wait4) and its peak anonymous RSS in
# KB (heap and stacks, without the binary's own file-backed pages; sampled
# every 20 ms from /proc). CMD's output goes to stderr.
rusage() {
  python3 -c '
import os, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=sys.stderr, stderr=sys.stderr)
anon = 0
while True:
    pid, status, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    try:
        for line in open("/proc/%d/status" % p.pid):
            if line.startswith("RssAnon:"):
                anon = max(anon, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
print("%.6f %d %d" % (ru.ru_utime + ru.ru_stime, ru.ru_maxrss, anon))' "$@"
}
