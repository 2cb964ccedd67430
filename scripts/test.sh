#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#   scripts/test.sh                 bootstrap + Release build + all tests + sanitizer pass + fuzz pass
#   scripts/test.sh --fast          skip the sanitizer and fuzz passes (inner loop)
#   scripts/test.sh --sanitize-only only the sanitizer and fuzz passes
#   scripts/test.sh -L unit         pass ctest label filters through (main pass only)
# Sanitizer pass: ASan+UBSan over every unit test; TSan over the tests labelled `tsan`
# (ring, seqlock and shared-memory tests). Each sanitizer tree builds only the executables its
# label runs (ctest lists them after configure). Fuzz pass: scripts/fuzz.sh builds the libFuzzer
# targets (build-fuzz, through ccache) and runs them for QF_FUZZ_TOTAL seconds in all (120 by
# default, shared evenly); a crash fails the run. Ends with how long each phase took.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
sanitize_only=0
ctest_args=()
while (($#)); do
  case "$1" in
    --fast) fast=1 ;;
    --sanitize-only) sanitize_only=1 ;;
    *) ctest_args+=("$1") ;;
  esac
  shift
done

phases=()
phase_start=$SECONDS
# phase_done NAME: records how long the phase that just ended took.
phase_done() {
  phases+=("$(printf '%-34s %4d s' "$1" $((SECONDS - phase_start)))")
  phase_start=$SECONDS
}

./scripts/bootstrap.sh
phase_done "bootstrap"
jobs=$(nproc)
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_ctest DIR [ctest args...]: runs ctest, prints its summary, adds up the counts.
run_ctest() {
  local dir=$1; shift
  local rc=0
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$log" || rc=$?
  local line total bad
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [[ -n "$line" ]]; then
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    bad=$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  elif ((rc != 0)); then
    failed=$((failed + 1))
  fi
  return $rc
}

# label_targets DIR LABEL: the executables that the tests with LABEL run, as CMake targets of the
# configured (not yet built) tree DIR: a test's command when ctest can resolve it, else its name
# (qf_test names a test after its executable), kept only when DIR has a target of that name.
label_targets() {
  local known
  known=$(ninja -C "$1" -t targets all | sed -E 's/:.*//')
  (cd "$1" && ctest --show-only=json-v1 -L "$2") | python3 -c '
import json, os, sys
known = set(sys.argv[1].split())
names = set()
for test in json.load(sys.stdin)["tests"]:
    for candidate in [os.path.basename(a) for a in test.get("command") or []] + [test["name"]]:
        if candidate in known:
            names.add(candidate)
            break
print(" ".join(sorted(names)))' "$known"
}

# sanitizer_pass SANITIZE DIR LABEL NAME=VALUE...: builds only LABEL's executables under SANITIZE and runs
# LABEL's tests with those variables set.
sanitizer_pass() {
  local sanitize=$1 dir=$2 label=$3; shift 3
  local targets
  ./scripts/build.sh --sanitize="$sanitize" --configure-only
  read -r -a targets <<<"$(label_targets "$dir" "$label")"
  ./scripts/build.sh --sanitize="$sanitize" --targets "${targets[*]}"
  phase_done "build $dir (${#targets[@]} targets)"
  echo "== tests under $sanitize (label $label) =="
  local v
  for v in "$@"; do export "${v?}"; done
  run_ctest "$dir" -L "$label" || status=1
  for v in "$@"; do unset "${v%%=*}"; done
  phase_done "tests $dir (label $label)"
}

status=0
if ((!sanitize_only)); then
  ./scripts/build.sh
  phase_done "build build (Release, everything)"
  echo "== tests (Release) =="
  run_ctest build "${ctest_args[@]}" || status=1
  phase_done "tests build (Release, every label)"
fi
if ((!fast)); then
  sanitizer_pass address,undefined build-asan unit \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  sanitizer_pass thread build-tsan tsan TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  echo "== fuzz =="
  if ./scripts/fuzz.sh --build-only; then
    phase_done "build build-fuzz (fuzz targets)"
    ./scripts/fuzz.sh --total "${QF_FUZZ_TOTAL:-120}" || status=1
    phase_done "fuzz (${QF_FUZZ_TOTAL:-120} s across the targets)"
  else
    status=1
    phase_done "build build-fuzz (FAILED)"
  fi
fi

echo
echo "test.sh: time per phase"
printf '  %s\n' "${phases[@]}"
echo "test.sh: $passed passed, $failed failed"
exit $status
