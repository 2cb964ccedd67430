#!/usr/bin/env bash
# The SIM stack at 100k msg/s with 200 WebSocket clients, the monitor and a venue fault every minute,
# for 30 minutes by default (not in CI): RSS and fds of every process sampled every 10 s; fails on
# growth beyond a bound or on any message lost inside the stack. Options: tests/soak/soak.py --help.
#   scripts/soak.sh [--minutes 30] [--rate 100000] [--clients 200] ...
# Builds the Release tree first (scripts/build.sh); the report goes to bench/results/soak.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >/dev/null
exec python3 tests/soak/soak.py "$@"
