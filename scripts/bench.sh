#!/usr/bin/env bash
# Builds the benchmarks and runs them, printing a table of medians, ratios against the
# references measured in the same run, and target verdicts. JSON lands in bench/results/.
#   scripts/bench.sh            every suite that exists (today: ipc, core, feeds, e2e, peers)
#   scripts/bench.sh ipc        the ipc micro-benchmarks
#   scripts/bench.sh core       the order book vs std::map, and the replay benchmark on one CPU
#                               (taskset -c 1), from the gzip and the plain capture (throughput
#                               incl. reading and parsing, core latency per event from the
#                               engine's histogram)
#   scripts/bench.sh feeds      message parsing: our parsers vs RapidJSON and nlohmann::json, then
#                               instructions per message under callgrind (repeatable when noisy)
#   scripts/bench.sh e2e        the whole stack: qf-venue --synthetic at 10k, 100k msg/s and max
#                               into qf-engine, untuned and tuned, inline and split, latency per
#                               stage from the engine's histograms, with and without gateway (200
#                               WebSocket clients) and monitor attached, and the ccxt peer on the
#                               same stream (bench/e2e/e2e_bench.py; about 5 minutes; the peer
#                               needs `npm ci --prefix bench/peers` once). Extra arguments go to
#                               the harness (--seconds, --rates, --profiles, --threads,
#                               --conditions, --peer-rates '', --rounds, --idle spin ...)
#   scripts/bench.sh peers      the unzipped BTCUSDT capture through qf-engine replay and, in-process,
#                               through ccxt's and tardis-dev's own Binance handlers (pinned in
#                               bench/peers, installed there by npm ci): msg/s, one pass as a whole
#                               process, peak memory, our ratios; fails unless every peer ends on
#                               our top of book (bench/peers/peers_bench.py; extra arguments go to it)
#   QF_BUILD_DIR=DIR            e2e only: use DIR/bin as it is instead of building build/
#   QF_BENCH_REPETITIONS=N      repetitions per benchmark (default 9, randomly interleaved
#                               across benchmarks so a noisy spell hits all of them; medians)
# Absolute times drift on a shared machine; the ratios are the figures to trust.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-all}
reps=${QF_BENCH_REPETITIONS:-9}

if [[ $suite != e2e || -z "${QF_BUILD_DIR:-}" ]]; then
  ./scripts/bootstrap.sh >/dev/null
  ./scripts/build.sh --bench >/dev/null
fi
mkdir -p bench/results

run_suite_ipc() {
  local files=()
  for b in ring_bench seqlock_bench histogram_bench tsc_bench; do
    echo "bench.sh: running $b ($reps repetitions)" >&2
    ./build/bin/$b --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
      --benchmark_enable_random_interleaving=true \
      --benchmark_out="bench/results/$b.json" --benchmark_out_format=json >/dev/null
    files+=("bench/results/$b.json")
  done
  python3 perf/bench_report.py "${files[@]}" | tee bench/results/ipc.txt
}

run_suite_core() {
  echo "bench.sh: running order_book_bench ($reps repetitions)" >&2
  ./build/bin/order_book_bench --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="bench/results/order_book_bench.json" --benchmark_out_format=json >/dev/null
  python3 perf/bench_report.py bench/results/order_book_bench.json | tee bench/results/core.txt
  echo "bench.sh: running the replay benchmark (BTCUSDT capture looped past 1 M messages, gzip and plain)" >&2
  local gz=../shared/captures/binance-spot/btcusdt_20240808.capture.gz
  plain=$(mktemp --suffix=.capture)
  trap 'rm -f "$plain"' EXIT
  gzip -dc "$gz" >"$plain"
  taskset -c 1 python3 bench/core/replay_bench.py ./build/bin/qf-engine "$gz" --target 1.5e6 \
    --json bench/results/replay_bench_gz.json | tee -a bench/results/core.txt
  taskset -c 1 python3 bench/core/replay_bench.py ./build/bin/qf-engine "$plain" --target 2.5e6 \
    --json bench/results/replay_bench.json | tee -a bench/results/core.txt
}

run_suite_feeds() {
  # parse_bench prints its own summary (ns/message, ratios, allocations per message) at the end.
  echo "bench.sh: running parse_bench ($reps repetitions)" >&2
  ./build/bin/parse_bench --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="bench/results/parse_bench.json" --benchmark_out_format=json |
    sed -n '/^parse_bench summary/,$p' | tee bench/results/feeds.txt
  echo "bench.sh: counting instructions per message under callgrind (bench/feeds/parse_instructions.sh)" >&2
  bench/feeds/parse_instructions.sh ./build/bin/parse_bench | tee -a bench/results/feeds.txt
}

# The pinned peers (bench/peers/package-lock.json) into bench/peers/node_modules (git-ignored).
install_peers() {
  if [[ ! -f bench/peers/node_modules/.package-lock.json ||
        bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]]; then
    echo "bench.sh: installing the peers (npm ci --prefix bench/peers)" >&2
    npm ci --prefix bench/peers --no-audit --no-fund >/dev/null
  fi
}

run_suite_e2e() {
  echo "bench.sh: running bench/e2e/e2e_bench.py" >&2
  install_peers
  python3 bench/e2e/e2e_bench.py --build-dir "${QF_BUILD_DIR:-build}" "$@" | tee bench/results/e2e.txt
}

run_suite_peers() {
  install_peers
  plain=$(mktemp --suffix=.capture) # the issue's figures are on the unzipped capture
  trap 'rm -f "$plain"' EXIT
  gzip -dc ../shared/captures/binance-spot/btcusdt_20240808.capture.gz >"$plain"
  echo "bench.sh: running bench/peers/peers_bench.py (about a minute)" >&2
  python3 bench/peers/peers_bench.py ./build/bin/qf-engine "$plain" --json bench/results/peers.json "$@" |
    tee bench/results/peers.txt
}

case "$suite" in
  ipc) run_suite_ipc ;;
  core) run_suite_core ;;
  feeds) run_suite_feeds ;;
  e2e) shift; run_suite_e2e "$@" ;;
  peers) shift; run_suite_peers "$@" ;;
  all) run_suite_ipc; echo; run_suite_core; echo; run_suite_feeds; echo; run_suite_e2e; echo; run_suite_peers ;;
  *) echo "bench.sh: unknown suite '$suite' (available: ipc, core, feeds, e2e, peers)" >&2; exit 2 ;;
esac
