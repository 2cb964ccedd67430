#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ (through ccache when it
# is installed) and runs each for a bounded time on its seeds: the parser and capture targets on
# a corpus generated from ../shared/captures (never committed), every target also on its
# committed seeds in tests/fuzz/corpus/<target>/ (regression inputs included).
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh --seconds N      N seconds each
#   scripts/fuzz.sh --total N        N seconds shared by the targets (scripts/test.sh: 120)
#   scripts/fuzz.sh --build-only     configure and build the targets, run nothing
#   scripts/fuzz.sh TARGET...        only these (see all_targets below)
# New inputs accumulate in build-fuzz/corpus/<target>/ across runs; a crash leaves its input in
# build-fuzz/artifacts/ and makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
total=0
build_only=0
all_targets=(binance_parser_fuzz coinbase_parser_fuzz kraken_parser_fuzz okx_parser_fuzz bybit_parser_fuzz coinbase_advanced_parser_fuzz capture_reader_fuzz gateway_router_fuzz ws_subscribe_fuzz
             config_loader_fuzz state_reader_fuzz)
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --seconds=*) seconds=${1#--seconds=} ;;
    --total) total=$2; shift ;;
    --total=*) total=${1#--total=} ;;
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || targets=("${all_targets[@]}")
if ((total > 0)); then
  seconds=$((total / ${#targets[@]}))
  ((seconds > 0)) || seconds=1
fi

cxx=$(command -v clang++ || command -v clang++-14 || true)
cc=$(command -v clang || command -v clang-14 || true)
if [[ -z "$cxx" || -z "$cc" ]]; then
  echo "fuzz.sh: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
dir=build-fuzz
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S tests/fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" "${launcher[@]}" >/dev/null
cmake --build "$dir" -j "${QF_FUZZ_JOBS:-$(nproc)}" --target "${targets[@]}"
((!build_only)) || exit 0

seeds="$dir/seeds"
if [[ ! -d "$seeds/bybit_parser_fuzz" ]]; then # absent, or written before the newest parser target
  python3 tests/fuzz/make_corpus.py ../shared/captures "$seeds"
fi
mkdir -p "$dir/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  dirs=("$dir/corpus/$t")
  [[ -d "$seeds/$t" ]] && dirs+=("$seeds/$t")
  [[ -d "tests/fuzz/corpus/$t" ]] && dirs+=("tests/fuzz/corpus/$t")
  echo "fuzz.sh: $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$dir/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$t-" "${dirs[@]}" 2>"$dir/$t.log"; then
    echo "fuzz.sh: $t FAILED (log $dir/$t.log, inputs in $dir/artifacts/)" >&2
    tail -40 "$dir/$t.log" >&2
    status=1
  else
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$dir/$t.log" | tr '\n' ' '
    echo
  fi
done
echo "fuzz.sh: $([[ $status == 0 ]] && echo "no crash" || echo "FAILURES") in ${#targets[@]} target(s), ${seconds}s each"
exit $status
