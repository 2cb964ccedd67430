#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for a
# bounded time on a corpus seeded from ../shared/captures (generated, never committed).
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh --seconds N      N seconds each
#   scripts/fuzz.sh TARGET...        only these (binance_parser_fuzz coinbase_parser_fuzz capture_reader_fuzz)
# New inputs accumulate in build-fuzz/corpus/<target>/ across runs; a crash leaves its input in
# build-fuzz/artifacts/ and makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --seconds=*) seconds=${1#--seconds=} ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || targets=(binance_parser_fuzz coinbase_parser_fuzz capture_reader_fuzz)

cxx=$(command -v clang++ || command -v clang++-14 || true)
cc=$(command -v clang || command -v clang-14 || true)
if [[ -z "$cxx" || -z "$cc" ]]; then
  echo "fuzz.sh: clang is not installed (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
dir=build-fuzz
cmake -S tests/fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$dir" -j "${QF_FUZZ_JOBS:-$(nproc)}" --target "${targets[@]}"

seeds="$dir/seeds"
if [[ ! -d "$seeds" ]]; then
  python3 tests/fuzz/make_corpus.py ../shared/captures "$seeds"
fi
mkdir -p "$dir/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  echo "fuzz.sh: $t for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$dir/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$t-" "$dir/corpus/$t" "$seeds/$t" 2>"$dir/$t.log"; then
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
