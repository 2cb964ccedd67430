#!/usr/bin/env bash
# Configures and builds QuantFlow with CMake + Ninja.
#   scripts/build.sh                      Release into build/ (executables in build/bin/)
#   scripts/build.sh --debug              Debug into build-debug/
#   scripts/build.sh --sanitize=address,undefined   into build-asan/
#   scripts/build.sh --sanitize=thread    into build-tsan/
#   scripts/build.sh --bench              also build the benchmarks (Release)
#   scripts/build.sh --build-dir DIR      override the folder
# Extra arguments after -- go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

build_type=Release
sanitize=""
bench=OFF
dir=""
extra=()
while (($#)); do
  case "$1" in
    --debug) build_type=Debug ;;
    --sanitize=*) sanitize=${1#--sanitize=} ;;
    --bench) bench=ON ;;
    --build-dir) dir=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

case "$sanitize" in
  "") ;;
  address|undefined|address,undefined|undefined,address) sanitize="address;undefined"; build_type=RelWithDebInfo; dir=${dir:-build-asan} ;;
  thread) build_type=RelWithDebInfo; dir=${dir:-build-tsan} ;;
  *) echo "build.sh: --sanitize takes address,undefined or thread" >&2; exit 2 ;;
esac
if [[ -z "$dir" ]]; then
  [[ $build_type == Debug ]] && dir=build-debug || dir=build
fi

cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DQF_SANITIZE="$sanitize" \
  -DQF_BUILD_BENCH="$bench" \
  -DQF_WERROR=ON \
  "${extra[@]}" >/dev/null
jobs=$(nproc)
cmake --build "$dir" -j "$jobs"
echo "build.sh: built $dir ($build_type${sanitize:+, sanitize=$sanitize})"
