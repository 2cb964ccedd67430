#!/usr/bin/env bash
# Installs every Debian package QuantFlow needs to build, test and run.
# Idempotent: when everything is present it only runs dpkg-query and exits;
# `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git ca-certificates
  clang libclang-rt-14-dev   # libFuzzer targets and sanitizer runtimes
  # libraries chosen in DESIGN.md
  libboost-dev               # Boost.Interprocess, Boost.Lockfree (header-only parts)
  libeigen3-dev libsimdjson-dev libwebsockets-dev libspdlog-dev libfmt-dev
  libjemalloc-dev libnuma-dev libtomlplusplus-dev libncurses-dev libssl-dev zlib1g-dev libdeflate-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  rapidjson-dev nlohmann-json3-dev   # parse benchmark references; the model file (core)
  libxgboost-dev                     # the tree evaluator's reference (trees_test, trees_bench)
  python3-numpy python3-sklearn python3-scipy python3-pandas python3-xgboost   # train/qf-train
  chromium prometheus wrk            # dashboard browser test, promtool (check metrics; deploy rules), HTTP load
  # tools used by scripts and tests
  python3 procps util-linux tmux   # tmux drives the monitor's interactive test
  nats-server libnats-dev          # qf-bridge (libnats) and its tests, run.sh with [bridge] enabled
  strace                     # the hot-thread syscall test traces the core thread
  ccache                     # build.sh uses it when present: rebuilds of the three trees are cheap
)

# Node.js for the dashboard's npm packages (uPlot) and the JS test clients (ws, playwright-core).
# A node that is already installed (Debian's or another) is used as it is.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

root="$(cd "$(dirname "$0")/.." && pwd)"
npm_install() {
  # The committed lockfiles pin every JS package; reinstall only when one changed. bench/peers:
  # the peers of the benchmarks (ccxt, tardis-dev), which the peers harness test runs.
  local dir
  for dir in "$root" "$root/bench/peers"; do
    if [[ ! -f "$dir/node_modules/.package-lock.json" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
      echo "bootstrap: npm ci (${dir#"$root"/}package-lock.json)"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
}

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all ${#packages[@]} packages present"
  npm_install
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: run as root (or: sudo $0)" >&2
  exit 1
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_install
echo "bootstrap: done"
