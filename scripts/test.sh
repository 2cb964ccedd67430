#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#   scripts/test.sh                 bootstrap + Release build + all tests + sanitizer pass
#   scripts/test.sh --fast          skip the sanitizer pass (inner loop)
#   scripts/test.sh --sanitize-only only the sanitizer pass
#   scripts/test.sh -L unit         pass ctest label filters through (main pass only)
# Sanitizer pass: ASan+UBSan over every unit test; TSan over the tests labelled `tsan`
# (ring, seqlock and shared-memory tests). Exits non-zero on any failure.
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

./scripts/bootstrap.sh
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

status=0
if ((!sanitize_only)); then
  ./scripts/build.sh
  echo "== tests (Release) =="
  run_ctest build "${ctest_args[@]}" || status=1
fi
if ((!fast)); then
  ./scripts/build.sh --sanitize=address,undefined
  echo "== tests under ASan+UBSan (label unit) =="
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build-asan -L unit || status=1
  ./scripts/build.sh --sanitize=thread
  echo "== tests under TSan (label tsan) =="
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest build-tsan -L tsan || status=1
fi

echo
echo "test.sh: $passed passed, $failed failed"
exit $status
