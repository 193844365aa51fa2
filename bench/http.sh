#!/usr/bin/env bash
# Side-by-side HTTP load generator benchmark: iter8 against fortio, wrk, hey and
# vegeta, all loading the same nginx on 127.0.0.1.
#
# nginx (one worker, keep-alive, a fixed 68-byte body) is pinned to one core and
# every load generator to another, so each generator has exactly one core.
# Runs are interleaved (iter8, fortio, wrk, hey, vegeta, iter8, ...) for ROUNDS
# rounds and the table shows the median of each column, plus the ratio of
# iter8's CPU seconds per 10,000 requests to each peer's (below 1.00: iter8 is
# cheaper).
#
# Usage:
#   bench/http.sh                      # closed loop, 16 connections, 10 s, 3 rounds
#   RATE=2000 bench/http.sh            # fixed rate (tools that support one)
#   CONNS=64 DURATION=20 ROUNDS=5 bench/http.sh
#   TOOLS="iter8 fortio" RATE=2000 bench/http.sh   # a subset of the tools
#   BASELINE=/path/to/old/iter8 TOOLS="iter8 baseline fortio" bench/http.sh
#                                      # compare with another iter8 binary
#
# For iter8 (and baseline) the table adds the service time (from the actual
# send) beside the latency (from the due time), and the ratios of iter8's
# latency to its service time and to fortio's.
#
# At a fixed rate a third table sets, side by side from the same rounds,
# iter8's corrected latency and service time against fortio's latency, and
# both tools' CPU per 10,000 requests, as ratios against fortio: the whole
# process, and per request after start-up (each round also runs each tool
# for a single request; its CPU is subtracted). fortio's histogram
# resolution is set to 10 µs (-r 0.00001; its default of 1 ms puts every
# sub-millisecond latency at 0.5 ms). By default fortio's 16 connections
# fire together (16 requests at once every 8 ms at 2,000 req/s): a batch.
# The tool fortio-uniform adds fortio -uniform, which spreads them evenly,
# as iter8 does:
#   TOOLS="iter8 fortio fortio-uniform" RATE=2000 bench/http.sh
# ARRIVALS=poisson runs iter8 with Poisson arrivals.
#
# WIRE=1 adds a reference for latency fidelity: each measured run is captured
# on the loopback interface with tcpdump (packets with data, to and from
# nginx), and every request's wire latency, from its packet to nginx to the
# response's packet back on the same connection, is set beside what each
# tool reported (iter8: its service time and corrected latency). The capture
# runs in the sender's context, so CPU figures of WIRE rounds are not
# comparable with others:
#   WIRE=1 TOOLS="iter8 fortio fortio-uniform" RATE=2000 bench/http.sh
#
# Peers are installed by name into $ITER8_BENCH_CACHE (default
# ~/.cache/iter8-bench): fortio.org/fortio@v1.68.2, github.com/rakyll/hey,
# github.com/tsenart/vegeta/v12 from the Go module proxy, wrk and nginx from
# Debian. Needs taskset, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-16}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-0}

. bench/lib.sh
DEFAULT_TOOLS="iter8 fortio wrk hey vegeta"
[ "$RATE" != 0 ] && DEFAULT_TOOLS="iter8 fortio hey vegeta" # wrk has no fixed rate
read -r -a TOOLS <<<"${TOOLS:-$DEFAULT_TOOLS}"
wants() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }
if wants fortio || wants fortio-uniform; then [ -x "$BIN/fortio" ] || GOBIN=$BIN go install fortio.org/fortio@v1.68.2; fi
if wants hey; then [ -x "$BIN/hey" ] || GOBIN=$BIN go install github.com/rakyll/hey@latest; fi
if wants vegeta; then [ -x "$BIN/vegeta" ] || GOBIN=$BIN go install github.com/tsenart/vegeta/v12@latest; fi
start_nginx

WIRE=${WIRE:-0}
if [ "$WIRE" = 1 ]; then command -v tcpdump >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tcpdump >/dev/null; }; fi

# wire_start: captures packets with data to and from nginx (WIRE=1).
wire_start() {
  [ "$WIRE" = 1 ] || return 0
  rm -f "$WORK/cap.pcap" "$WORK/tcpdump.err"
  taskset -c "$SERVER_CPU" tcpdump -i lo -n -s 96 -B 65536 --time-stamp-precision=nano -w "$WORK/cap.pcap" \
    "tcp port $PORT and (tcp[tcpflags] & tcp-push != 0)" 2>"$WORK/tcpdump.err" &
  echo $! >"$WORK/tcpdump.pid"
  for _ in $(seq 100); do grep -q listening "$WORK/tcpdump.err" 2>/dev/null && return; sleep 0.05; done
  echo "tcpdump did not start: $(cat "$WORK/tcpdump.err")" >&2
  exit 1
}

# wire_stop TOOL: stops the capture and appends the run's wire latency
# (tool p50_ms p99_ms requests dropped) to $WORK/wire.
wire_stop() {
  [ "$WIRE" = 1 ] || return 0
  local pid dropped
  pid=$(cat "$WORK/tcpdump.pid")
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  dropped=$(awk '/dropped by kernel/{print $1}' "$WORK/tcpdump.err")
  tcpdump -r "$WORK/cap.pcap" -n -tt --time-stamp-precision=nano 2>/dev/null | python3 -c '
import sys
port, tool, dropped = "." + sys.argv[1], sys.argv[2], sys.argv[3] or "0"
def ns(t):
    s, f = t.split(".")
    return int(s) * 10**9 + int(f.ljust(9, "0"))
sent, lat = {}, []
for line in sys.stdin:
    f = line.split()
    if len(f) < 5 or f[1] != "IP":
        continue
    t, src, dst = ns(f[0]), f[2], f[4].rstrip(":")
    if dst.endswith(port):
        sent[src] = t
    elif src.endswith(port) and dst in sent:
        lat.append(t - sent.pop(dst))
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1e6
print(tool, pct(50), pct(99), len(lat), dropped)' "$PORT" "$TOOL_NAME" "$dropped" >>"$WORK/wire"
}

# measure TOOL CMD...: runs CMD on the generator core and appends a result row:
# tool cpu_seconds peak_rss_kb server_requests
measure() {
  local tool=$1; shift
  local before after cpu rss
  before=$(served)
  wire_start
  read -r cpu rss _ < <(rusage taskset -c "$GEN_CPU" "$@" 2>"$WORK/$tool.out")
  TOOL_NAME=$tool wire_stop
  after=$(served)
  # the status request itself is not the tool's
  echo "$tool $cpu $rss $((after - before - 1))" >>"$WORK/rows"
}

# startup TOOL CMD...: the CPU seconds of CMD (a run of one request) on the
# generator core, appended to the tool's start-up figures.
startup() {
  local tool=$1; shift
  local cpu
  read -r cpu _ < <(rusage taskset -c "$GEN_CPU" "$@" 2>/dev/null)
  echo "$tool $cpu" >>"$WORK/startup"
}

# iter8_with NAME BINARY: an iter8 run; its stats add the service time.
iter8_with() {
  local name=$1 bin=$2 arrivals=()
  [ -n "${ARRIVALS:-}" ] && arrivals=(--set "http.arrivals=$ARRIVALS")
  rm -rf "$WORK/$name" "$WORK/$name-one"
  startup "$name" "$bin" launch --runDir "$WORK/$name-one" --set "tasks={http}" --set "http.url=$URL" --set "http.numRequests=1"
  measure "$name" "$bin" launch --runDir "$WORK/$name" --set "tasks={http}" --set "http.url=$URL" \
    --set "http.qps=$RATE" --set "http.connections=$CONNS" --set "http.duration=${DURATION}s" "${arrivals[@]}"
  "$BIN/iter8" report --runDir "$WORK/$name" -o json | python3 -c '
import json,sys
r=json.load(sys.stdin)
load=[l for l in r["load"] if l["provider"]=="http"][0]
vals={m["name"]: m["values"][0] for m in r["metrics"]}
svc=lambda p: vals.get("http/service-time-"+p, vals["http/latency-"+p])
print(load["achievedRate"], vals["http/latency-p50"], vals["http/latency-p99"], svc("p50"), svc("p99"))' >"$WORK/$name.stats"
}

run_iter8() { iter8_with iter8 "$BIN/iter8"; }
run_baseline() { iter8_with baseline "$BASELINE"; }

# fortio_with NAME FLAGS...: a fortio run, with a 10 µs histogram resolution.
fortio_with() {
  local name=$1 qps=-1; shift
  [ "$RATE" != 0 ] && qps=$RATE
  startup "$name" "$BIN/fortio" load -quiet -n 1 "$@" "$URL"
  measure "$name" "$BIN/fortio" load -quiet -r 0.00001 -c "$CONNS" -qps "$qps" -t "${DURATION}s" -p "50,99" "$@" -json "$WORK/$name.json" "$URL"
  python3 -c '
import json
d=json.load(open("'"$WORK/$name"'.json")); p={x["Percentile"]: x["Value"]*1000 for x in d["DurationHistogram"]["Percentiles"]}
print(d["ActualQPS"], p[50], p[99])' >"$WORK/$name.stats"
}

run_fortio() { fortio_with fortio; }
run_fortio-uniform() { fortio_with fortio-uniform -uniform; }

run_wrk() {
  measure wrk wrk -t1 -c "$CONNS" -d "${DURATION}s" --latency "$URL"
  python3 -c '
import re
t=open("'"$WORK"'/wrk.out").read()
def ms(s):
    v=float(re.match(r"[\d.]+",s).group()); u=s[len(re.match(r"[\d.]+",s).group()):]
    return v*{"us":0.001,"ms":1,"s":1000}[u]
rps=float(re.search(r"Requests/sec:\s+([\d.]+)",t).group(1))
p50=ms(re.search(r"\s50%\s+(\S+)",t).group(1)); p99=ms(re.search(r"\s99%\s+(\S+)",t).group(1))
print(rps,p50,p99)' >"$WORK/wrk.stats"
}

run_hey() {
  local q=()
  # hey's -q is per worker: divide the rate among the workers
  [ "$RATE" != 0 ] && q=(-q "$(python3 -c "print($RATE/$CONNS)")")
  measure hey "$BIN/hey" -c "$CONNS" -z "${DURATION}s" "${q[@]}" "$URL"
  python3 -c '
import re
t=open("'"$WORK"'/hey.out").read()
rps=float(re.search(r"Requests/sec:\s+([\d.]+)",t).group(1))
p50=float(re.search(r"50%+ in ([\d.]+) secs",t).group(1))*1000; p99=float(re.search(r"99%+ in ([\d.]+) secs",t).group(1))*1000
print(rps,p50,p99)' >"$WORK/hey.stats"
}

run_vegeta() {
  local rate=0 extra=(-max-workers="$CONNS")
  [ "$RATE" != 0 ] && rate=$RATE && extra=(-max-workers="$CONNS")
  echo "GET $URL" >"$WORK/targets"
  measure vegeta "$BIN/vegeta" attack -targets="$WORK/targets" -rate="$rate" -workers="$CONNS" "${extra[@]}" \
    -connections="$CONNS" -duration="${DURATION}s" -output="$WORK/vegeta.bin"
  "$BIN/vegeta" report -type=json "$WORK/vegeta.bin" | python3 -c '
import json,sys
d=json.load(sys.stdin); print(d["throughput"], d["latencies"]["50th"]/1e6, d["latencies"]["99th"]/1e6)' >"$WORK/vegeta.stats"
}

: >"$WORK/rows"
: >"$WORK/all"
: >"$WORK/startup"
for round in $(seq "$ROUNDS"); do
  for tool in "${TOOLS[@]}"; do
    echo "round $round/$ROUNDS: $tool" >&2
    "run_$tool"
    echo "$(tail -n1 "$WORK/rows") $(cat "$WORK/$tool.stats")" >>"$WORK/all"
  done
done

echo
echo "HTTP load generators against nginx on 127.0.0.1: $CONNS connections, ${DURATION}s, $([ "$RATE" = 0 ] && echo "closed loop" || echo "fixed rate $RATE req/s"), $ROUNDS rounds, one core each (medians)"
python3 - "$WORK/all" "$RATE" "$WORK/startup" <<'PY'
import sys, statistics
startup = {}
for line in open(sys.argv[3]):
    tool, cpu = line.split()
    startup.setdefault(tool, []).append(float(cpu))
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    tool, cpu, rss, served, rps, p50, p99 = f[:7]
    svc50, svc99 = (f[7], f[8]) if len(f) > 7 else (p50, p99)
    rows.setdefault(tool, []).append(dict(cpu=float(cpu), rss=int(rss), served=int(served), rps=float(rps), p50=float(p50), p99=float(p99),
                                          s50=float(svc50), s99=float(svc99)))
def med(tool, k): return statistics.median(r[k] for r in rows[tool])
def per10k(tool): return statistics.median(r["cpu"] / r["served"] * 10000 for r in rows[tool])
print()
print("| tool | req/s | p50 ms | p99 ms | requests served | CPU s / 10k req | peak RSS MB | iter8 CPU ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
base = per10k("iter8")
for tool in rows:
    ratio = "1.00" if tool == "iter8" else "%.2f" % (base / per10k(tool))
    print("| %s | %.0f | %.3f | %.3f | %.0f | %.3f | %.1f | %s |" % (
        tool, med(tool, "rps"), med(tool, "p50"), med(tool, "p99"), med(tool, "served"), per10k(tool), med(tool, "rss") / 1024, ratio))
print()
print("| iter8 run | latency p50 / p99 ms | service time p50 / p99 ms | latency / service time | latency / fortio's |")
print("|---|---:|---:|---:|---:|")
for tool in rows:
    if tool not in ("iter8", "baseline"):
        continue
    vs = "–"
    if "fortio" in rows:
        vs = "%.2f / %.2f" % (med(tool, "p50") / med("fortio", "p50"), med(tool, "p99") / med("fortio", "p99"))
    print("| %s | %.3f / %.3f | %.3f / %.3f | %.2f / %.2f | %s |" % (tool, med(tool, "p50"), med(tool, "p99"), med(tool, "s50"), med(tool, "s99"),
        med(tool, "p50") / med(tool, "s50"), med(tool, "p99") / med(tool, "s99"), vs))
if sys.argv[2] == "0":
    sys.exit()
# Against fortio, from the same rounds: the latency iter8 charges the target
# (corrected), its service time, fortio's latency, and CPU per 10k requests:
# the whole process, and after start-up (the median CPU of a one-request
# run of the same tool subtracted, round by round).
def per10k_run(tool):
    s = statistics.median(startup.get(tool, [0]))
    return statistics.median((r["cpu"] - s) / r["served"] * 10000 for r in rows[tool])
print()
print("| iter8 run vs fortio | corrected p50 / p99 ms | service time p50 / p99 ms | fortio p50 / p99 ms | corrected ÷ service time | corrected ÷ fortio | service time ÷ fortio | CPU s / 10k req, iter8 / fortio | iter8 ÷ fortio CPU | after start-up: CPU s / 10k req | iter8 ÷ fortio CPU after start-up |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for tool in rows:
    if tool not in ("iter8", "baseline"):
        continue
    for peer in ("fortio", "fortio-uniform"):
        if peer not in rows:
            continue
        print("| %s vs %s | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.3f / %.3f | %.2f | %.3f / %.3f | %.2f |" % (
            tool, peer, med(tool, "p50"), med(tool, "p99"), med(tool, "s50"), med(tool, "s99"), med(peer, "p50"), med(peer, "p99"),
            med(tool, "p50") / med(tool, "s50"), med(tool, "p99") / med(tool, "s99"),
            med(tool, "p50") / med(peer, "p50"), med(tool, "p99") / med(peer, "p99"),
            med(tool, "s50") / med(peer, "p50"), med(tool, "s99") / med(peer, "p99"),
            per10k(tool), per10k(peer), per10k(tool) / per10k(peer),
            per10k_run(tool), per10k_run(peer), per10k_run(tool) / per10k_run(peer)))
print()
print("start-up CPU s (median of one-request runs): " + ", ".join("%s %.3f" % (t, statistics.median(v)) for t, v in startup.items()))
PY
if [ "$WIRE" = 1 ]; then
  echo
  echo "Latency against the wire (WIRE=1: from each request's packet to nginx to its response's packet; medians of the rounds):"
  python3 - "$WORK/all" "$WORK/wire" <<'PY'
import sys, statistics
wire, tools = {}, {}
for line in open(sys.argv[2]):
    tool, p50, p99, n, dropped = line.split()
    wire.setdefault(tool, []).append((float(p50), float(p99), int(n), int(dropped)))
for line in open(sys.argv[1]):
    f = line.split()
    s50, s99 = (f[7], f[8]) if len(f) > 7 else (f[5], f[6])
    tools.setdefault(f[0], []).append((float(f[5]), float(f[6]), float(s50), float(s99)))
med = lambda rows, i: statistics.median(r[i] for r in rows)
print()
print("| tool | reported p50 / p99 ms | service time p50 / p99 ms | wire p50 / p99 ms | reported − wire p50 / p99 µs | reported ÷ wire p50 / p99 | requests on the wire, dropped packets |")
print("|---|---:|---:|---:|---:|---:|---:|")
for tool, rows in tools.items():
    w = wire[tool]
    r50, r99, s50, s99, w50, w99 = med(rows, 0), med(rows, 1), med(rows, 2), med(rows, 3), med(w, 0), med(w, 1)
    print("| %s | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %+.0f / %+.0f | %.2f / %.2f | %.0f, %d |" % (
        tool, r50, r99, s50, s99, w50, w99, (r50 - w50) * 1000, (r99 - w99) * 1000, r50 / w50, r99 / w99, med(w, 2), sum(x[3] for x in w)))
PY
fi
echo
echo "Rounds (tool, CPU s, peak RSS KB, requests served, req/s, p50 ms, p99 ms[, service p50 ms, p99 ms]):"
cat "$WORK/all"
