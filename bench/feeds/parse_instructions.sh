#!/usr/bin/env bash
# Instructions per message of our parsers, counted by callgrind: repeatable on a shared, noisy
# machine where parse_bench's nanoseconds drift (the same binary and input give the same count).
# Each benchmark runs twice under callgrind, collecting only inside its `*_ours` function, for
# two run lengths; the difference in instructions over the difference in parse calls cancels the
# set-up (corpus, buffers, warm-up).
#   bench/feeds/parse_instructions.sh [PARSE_BENCH] [BENCHMARK...]
#   default: build/bin/parse_bench and every parse/*/qf benchmark
set -euo pipefail
bin=${1:-build/bin/parse_bench}
shift || true
mapfile -t names < <(if (($#)); then printf '%s\n' "$@"; else "$bin" --benchmark_list_tests | grep '/qf$'; fi)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() { # NAME MIN_TIME -> "instructions calls"
  local name=$1 fn
  case $name in parse/binance_*) fn=binance_ours ;; parse/coinbase_*) fn=coinbase_ours ;; parse/okx_*) fn=okx_ours ;; *) fn=ours ;; esac
  valgrind --tool=callgrind --toggle-collect="*${fn}*" --callgrind-out-file="$work/out" \
    "$bin" --benchmark_filter="^${name}\$" --benchmark_min_time="$2" >/dev/null 2>&1
  local total calls
  total=$(callgrind_annotate "$work/out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  # Parser::parse's calls: the sum over its callers in its block of the caller tree
  calls=$(callgrind_annotate --threshold=100 --tree=caller "$work/out" | awk -v RS= '/\* [^\n]*::Parser::parse\(/' |
    grep '<' | grep -o '([0-9,]*x)' | tr -d '(),x' | awk '{n += $1} END {print n + 0}')
  echo "$total ${calls:-0}"
}
printf '%-34s %14s\n' benchmark instructions/msg
for name in "${names[@]}"; do
  read -r t1 c1 < <(count "$name" 0.02)
  read -r t2 c2 < <(count "$name" 0.2)
  if ((c2 <= c1)); then
    echo "parse_instructions: $name: no parse calls counted" >&2
    exit 1
  fi
  printf '%-34s %14d\n' "$name" $(((t2 - t1) / (c2 - c1)))
done
