#!/usr/bin/env bash
# wrk against GET /api/quotes on loopback: qf-gateway (one event-loop thread) over the fake
# engine (tests/gateway/fake_engine). Prints requests/s and latency percentiles.
#   bench/gateway/wrk_quotes.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
# Target (issue 5): >= 20,000 requests/s on one core.
set -euo pipefail
build=${1:-build}
duration=${2:-10}
conns=${3:-50}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/$build/bin
inst=gwbench$$
work=$(mktemp -d)
cleanup() { kill "${gw_pid:-}" "${fake_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
printf '[engine]\ninstance = "%s"\n[gateway]\naudit_log = "%s/audit.jsonl"\n' "$inst" "$work" > "$work/gw.toml"
"$bin/fake_engine" "$inst" > "$work/fake.out" 2>&1 & fake_pid=$!
"$bin/qf-gateway" --config "$work/gw.toml" --port 0 > "$work/gw.out" 2>&1 & gw_pid=$!
for _ in $(seq 100); do grep -q listening "$work/gw.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -nE 's/.*listening http:\/\/127.0.0.1:([0-9]+).*/\1/p' "$work/gw.out")
[[ -n "$port" ]] || { echo "gateway did not start"; cat "$work/gw.out"; exit 1; }
curl -sf "http://127.0.0.1:$port/api/quotes" > /dev/null
echo "qf-gateway pid $gw_pid on port $port; wrk -t1 -c$conns -d${duration}s --latency GET /api/quotes"
wrk -t1 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port/api/quotes" | tee "$work/wrk.txt"
cpu=$(ps -o cputime= -p "$gw_pid")
echo "gateway CPU time after the run: $cpu"
awk '/Requests\/sec/ {printf "requests/s: %s (target >= 20000)\n", $2}' "$work/wrk.txt"
