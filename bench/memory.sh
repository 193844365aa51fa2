#!/usr/bin/env bash
# Memory is constant in the number of requests: peak RSS of iter8 for a short
# and a long closed-loop run against nginx on 127.0.0.1 (generator pinned to
# one core).
#
# Usage: bench/memory.sh                # 100,000 and 10,000,000 requests
#        SHORT=10000 LONG=1000000 bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${SHORT:-100000}
LONG=${LONG:-10000000}
CONNS=${CONNS:-16}
. bench/lib.sh
start_nginx

echo "| requests | peak RSS MB | of which anonymous (heap, stacks) MB | CPU s | requests served |"
echo "|---:|---:|---:|---:|---:|"
for n in "$SHORT" "$LONG"; do
  rm -rf "$WORK/run"
  before=$(served)
  read -r cpu rss anon < <(rusage taskset -c "$GEN_CPU" "$BIN/iter8" launch --runDir "$WORK/run" --set "tasks={http}" \
    --set "http.url=$URL" --set http.qps=0 --set "http.connections=$CONNS" --set "http.numRequests=$n" 2>/dev/null)
  after=$(served)
  python3 -c "print('| %d | %.1f | %.1f | %.1f | %d |' % ($n, $rss/1024, $anon/1024, $cpu, $after-$before-1))"
done
