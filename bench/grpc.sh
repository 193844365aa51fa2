#!/usr/bin/env bash
# Side-by-side gRPC load generator benchmark: iter8 against ghz and fortio's
# gRPC load, all calling the standard health service
# (grpc.health.v1.Health/Check) of iter8's demo gRPC server on 127.0.0.1.
#
# The server (`iter8 demo --serve` without latency or errors) is pinned to one
# core and every load generator to another. Runs are interleaved for ROUNDS
# rounds; the table shows medians and the ratio of iter8's CPU seconds per
# 10,000 calls to each peer's (below 1.00: iter8 is cheaper). iter8 runs twice:
# with one connection (its default, and ghz's) and with one connection per
# worker (as fortio does).
#
# Usage:
#   bench/grpc.sh                      # closed loop, concurrency 16, 10 s, 3 rounds
#   RATE=2000 bench/grpc.sh            # fixed rate
#   MEMORY=1 bench/grpc.sh             # peak RSS of 100,000 and 5,000,000 calls instead
#
# Peers are installed by name into $ITER8_BENCH_CACHE (default
# ~/.cache/iter8-bench): github.com/bojand/ghz/cmd/ghz@v0.120.0 and
# fortio.org/fortio@v1.68.2.
set -euo pipefail
cd "$(dirname "$0")/.."

CONC=${CONC:-16}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-0}
GRPC_PORT=${GRPC_PORT:-18091}
. bench/lib.sh
[ -x "$BIN/fortio" ] || GOBIN=$BIN go install fortio.org/fortio@v1.68.2
[ -x "$BIN/ghz" ] || GOBIN=$BIN go install github.com/bojand/ghz/cmd/ghz@v0.120.0

HOST=127.0.0.1:$GRPC_PORT
taskset -c "$SERVER_CPU" "$BIN/iter8" demo --serve --latency 0 --error-rate 0 \
  --grpc-addr "$HOST" --addr "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
echo $! >"$WORK/nginx.pid" # stopped by lib.sh's trap
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/_iter8/stats" >/dev/null && break; sleep 0.1; done

calls() {
  curl -s "http://127.0.0.1:$PORT/_iter8/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("/grpc.health.v1.Health/Check", 0))'
}

# measure TOOL CMD...: a result row: tool cpu_seconds peak_rss_kb server_calls peak_anon_kb
measure() {
  local tool=$1; shift
  local before after cpu rss anon
  before=$(calls)
  read -r cpu rss anon < <(rusage taskset -c "$GEN_CPU" "$@" 2>"$WORK/$tool.out")
  after=$(calls)
  echo "$tool $cpu $rss $((after - before)) $anon" >>"$WORK/rows"
}

iter8_launch() { # TOOL CONNECTIONS extra-values...
  local tool=$1 conns=$2; shift 2
  rm -rf "$WORK/$tool"
  measure "$tool" "$BIN/iter8" launch --runDir "$WORK/$tool" --set "tasks={grpc}" --set "grpc.host=$HOST" \
    --set grpc.call=grpc.health.v1.Health.Check --set "grpc.concurrency=$CONC" --set "grpc.connections=$conns" \
    --set "grpc.rps=$RATE" "$@"
  "$BIN/iter8" report --runDir "$WORK/$tool" -o json | python3 -c '
import json,sys
r=json.load(sys.stdin)
load=[l for l in r["load"] if l["provider"]=="grpc"][0]
vals={m["name"]: m["values"][0] for m in r["metrics"]}
print(load["achievedRate"], vals["grpc/latency/p50"], vals["grpc/latency/p99"])' >"$WORK/$tool.stats"
}

run_iter8() { iter8_launch iter8 1 --set "grpc.duration=${DURATION}s"; }
run_iter8_conns() { iter8_launch iter8-conns "$CONC" --set "grpc.duration=${DURATION}s"; }

run_fortio() {
  local qps=-1
  [ "$RATE" != 0 ] && qps=$RATE
  measure fortio "$BIN/fortio" load -quiet -grpc -c "$CONC" -qps "$qps" -t "${DURATION}s" -p "50,99" -json "$WORK/fortio.json" "$HOST"
  python3 -c '
import json
d=json.load(open("'"$WORK"'/fortio.json")); p={x["Percentile"]: x["Value"]*1000 for x in d["DurationHistogram"]["Percentiles"]}
print(d["ActualQPS"], p[50], p[99])' >"$WORK/fortio.stats"
}

run_ghz() {
  local r=()
  [ "$RATE" != 0 ] && r=(--rps "$RATE")
  measure ghz "$BIN/ghz" --insecure --call grpc.health.v1.Health/Check -c "$CONC" -z "${DURATION}s" "${r[@]}" \
    -O json -o "$WORK/ghz.json" "$HOST"
  python3 -c '
import json
d=json.load(open("'"$WORK"'/ghz.json")); p={x["percentage"]: x["latency"]/1e6 for x in d["latencyDistribution"]}
print(d["rps"], p[50], p[99])' >"$WORK/ghz.stats"
}

if [ "${MEMORY:-0}" = 1 ]; then
  echo "| calls | peak RSS MB | of which anonymous (heap, stacks) MB | CPU s | calls served |"
  echo "|---:|---:|---:|---:|---:|"
  for n in ${SHORT:-100000} ${LONG:-5000000}; do
    : >"$WORK/rows"
    iter8_launch iter8 1 --set "grpc.total=$n"
    read -r _ cpu rss served anon <"$WORK/rows"
    python3 -c "print('| %d | %.1f | %.1f | %.1f | %d |' % ($n, $rss/1024, $anon/1024, $cpu, $served))"
  done
  exit 0
fi

: >"$WORK/rows"
: >"$WORK/all"
for round in $(seq "$ROUNDS"); do
  for tool in iter8 iter8_conns fortio ghz; do
    echo "round $round/$ROUNDS: $tool" >&2
    "run_$tool"
    name=${tool/_/-}
    echo "$(tail -n1 "$WORK/rows") $(cat "$WORK/$name.stats")" >>"$WORK/all"
  done
done

echo
echo "gRPC load generators against iter8's demo gRPC server (health check) on 127.0.0.1: concurrency $CONC, ${DURATION}s, $([ "$RATE" = 0 ] && echo "closed loop" || echo "fixed rate $RATE calls/s"), $ROUNDS rounds, one core each (medians)"
python3 - "$WORK/all" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    tool, cpu, rss, served, _anon, rps, p50, p99 = line.split()
    rows.setdefault(tool, []).append(dict(cpu=float(cpu), rss=int(rss), served=int(served), rps=float(rps), p50=float(p50), p99=float(p99)))
def med(tool, k): return statistics.median(r[k] for r in rows[tool])
def per10k(tool): return statistics.median(r["cpu"] / r["served"] * 10000 for r in rows[tool])
names = {"iter8": "iter8 (1 connection)", "iter8-conns": "iter8 (a connection per worker)"}
print()
print("| tool | calls/s | p50 ms | p99 ms | calls served | CPU s / 10k calls | peak RSS MB | iter8 CPU ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
base = per10k("iter8")
for tool in rows:
    ratio = "1.00" if tool == "iter8" else "%.2f" % (base / per10k(tool))
    print("| %s | %.0f | %.3f | %.3f | %.0f | %.3f | %.1f | %s |" % (
        names.get(tool, tool), med(tool, "rps"), med(tool, "p50"), med(tool, "p99"), med(tool, "served"), per10k(tool), med(tool, "rss") / 1024, ratio))
PY
