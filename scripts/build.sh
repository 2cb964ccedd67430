#!/usr/bin/env bash
# Configures and builds QuantFlow with CMake + Ninja.
#   scripts/build.sh                      Release into build/ (executables in build/bin/)
#   scripts/build.sh --debug              Debug into build-debug/
#   scripts/build.sh --sanitize=address,undefined   into build-asan/
#   scripts/build.sh --sanitize=thread    into build-tsan/
#   scripts/build.sh --bench              also build the benchmarks (Release)
#   scripts/build.sh --build-dir DIR      override the folder
#   scripts/build.sh --configure-only     configure, build nothing
#   scripts/build.sh --targets "A B"      build only these targets (and what they depend on)
# ccache is used when it is installed (QF_CCACHE=0 turns it off).
# Extra arguments after -- go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

build_type=Release
sanitize=""
bench=OFF
dir=""
configure_only=0
targets=()
extra=()
while (($#)); do
  case "$1" in
    --debug) build_type=Debug ;;
    --sanitize=*) sanitize=${1#--sanitize=} ;;
    --bench) bench=ON ;;
    --build-dir) dir=$2; shift ;;
    --configure-only) configure_only=1 ;;
    --targets) read -r -a targets <<<"$2"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
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

launcher=()
if [[ ${QF_CCACHE:-1} != 0 ]] && command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
else
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER= -DCMAKE_C_COMPILER_LAUNCHER=)
fi
cmake -S . -B "$dir" -G Ninja "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DQF_SANITIZE="$sanitize" \
  -DQF_BUILD_BENCH="$bench" \
  -DQF_WERROR=ON \
  "${extra[@]}" >/dev/null
((configure_only)) && exit 0
jobs=$(nproc)
if ((${#targets[@]})); then
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
else
  cmake --build "$dir" -j "$jobs"
fi
echo "build.sh: built $dir ($build_type${sanitize:+, sanitize=$sanitize}${targets[*]:+, ${#targets[@]} targets})"
