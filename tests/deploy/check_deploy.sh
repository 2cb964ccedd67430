#!/usr/bin/env bash
# Checks the ops pack: the alert rules (promtool check rules, promtool test rules), every metric name
# the rules and the Grafana dashboard use is one qf-gateway exports (the string literals of
# gateway/src/metrics.cpp), the dashboard is valid JSON, and the systemd units pass
# `systemd-analyze verify` with no message (skipped, saying so, where systemd-analyze cannot run).
# Usage: check_deploy.sh DEPLOY_DIR METRICS_SOURCE [BIN_DIR]   (BIN_DIR replaces /opt/quantflow/bin)
set -u
deploy=$1
source_file=$2
bin=${3:-}
promtool=${PROMTOOL:-promtool}
fail() { echo "FAIL: $*"; exit 1; }

rules=$deploy/prometheus/qf_alerts.yml
"$promtool" check rules "$rules" || fail "promtool check rules $rules"

exported=$(grep -oE '"qf_[a-z0-9_]+"' "$source_file" | tr -d '"' | sort -u)
[[ -n "$exported" ]] || fail "no metric names found in $source_file"
used() {  # metric names in the rules (non-comment lines) and in the dashboard's expr fields
  grep -vE '^\s*#' "$rules" | grep -oE '\bqf_[a-z0-9_]+' || true
  if [[ -f "$deploy/grafana/quantflow.json" ]]; then
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print("\n".join(t["expr"] for p in d["panels"] for t in p.get("targets", [])))' "$deploy/grafana/quantflow.json" |
      grep -oE '\bqf_[a-z0-9_]+' || true
  fi
}
n=0
for m in $(used | sort -u); do
  grep -qxF "$m" <<<"$exported" || fail "metric $m is not exported by qf-gateway ($source_file)"
  n=$((n + 1))
done
echo "metric names: $n used, all exported"

(cd "$deploy/prometheus" && "$promtool" test rules qf_alerts_test.yml) || fail "promtool test rules"

python3 -m json.tool "$deploy/grafana/quantflow.json" >/dev/null || fail "dashboard is not valid JSON"
echo "dashboard: valid JSON"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd units: SKIPPED, no systemd-analyze"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[Service]\nExecStart=/bin/true\n' >"$tmp/probe.service"
if ! systemd-analyze verify --man=no "$tmp/probe.service" >/dev/null 2>&1; then
  echo "systemd units: SKIPPED, systemd-analyze verify does not run here"
  exit 0
fi
rm "$tmp/probe.service"
for u in "$deploy"/systemd/*.service; do
  grep -qvE '^\s*(#|$)' "$u" || { echo "$(basename "$u"): all commented (future), not verified"; continue; }
  if [[ -n "$bin" ]]; then
    sed "s|/opt/quantflow/bin|$bin|g" "$u" >"$tmp/$(basename "$u")"
  else
    cp "$u" "$tmp/"
  fi
done
out=$(cd "$tmp" && systemd-analyze verify --man=no ./*.service 2>&1)
[[ -z "$out" ]] || fail "systemd-analyze verify: $out"
echo "systemd units: verified $(ls "$tmp" | tr '\n' ' ')"
echo "deploy pack ok"
