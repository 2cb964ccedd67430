#!/usr/bin/env bash
# Installs, builds and runs the whole QuantFlow stack: qf-engine, qf-gateway, and in SIM mode one
# qf-venue per venue of the configuration; with `[store] enabled` also qf-store, and when the
# config names no `[store] url` a private PostgreSQL cluster (Unix socket only, no TCP listener)
# whose data survives between runs. Ctrl-C (or SIGTERM) stops everything it started.
#
#   scripts/run.sh                 LIVE with config/default.toml when the exchanges answer within
#                                  a few seconds, otherwise SIM with config/sim.toml (said loudly)
#   scripts/run.sh --sim           SIM: qf-venue's synthetic market on 127.0.0.1
#   scripts/run.sh --live          LIVE without probing first
#   scripts/run.sh --config FILE   another configuration (its [engine] mode decides unless forced)
#   scripts/run.sh --instance NAME segment instance (default: the config's [engine] instance)
#   scripts/run.sh --port N        gateway port (default: the config's [gateway] port; 0 = any free)
#   scripts/run.sh --tuned         (with any of the above) the tuned profile of a two-core host: the
#                                  engine's hot thread on CPU 1 with SCHED_FIFO (qf-engine --tuned),
#                                  every other process and thread (venues, gateway, the engine's
#                                  helper threads; run the monitor with `taskset -c 0`) on CPU 0
#   With [bridge] enabled = true (config/sim.toml): also a local nats-server with JetStream on the
#   nats_url's 127.0.0.1 port (when start_nats; store [bridge] nats_store_dir under the repository,
#   or under QF_RUN_DIR when that is set) and qf-bridge, stopped with the rest.
# Environment:
#   QF_BUILD_DIR=DIR     use the executables in DIR/bin as they are (no bootstrap, no build)
#   QF_RUN_DIR=DIR       where the logs go (default: run/<instance>-<date>-<time>/)
#   QF_LIVE_PROBE=H:P    the endpoint probed for LIVE (default: the config's first venue host)
#   QF_PROBE_TIMEOUT=S   seconds allowed for the probe (default 3)
#   QF_READY_TIMEOUT=S   seconds allowed for the stack to answer /api/health (default 60)
#   QF_PG_BIN=DIR        PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
#   QF_PG_DATA=DIR       the private cluster's data (default: QF_RUN_DIR/pgdata when QF_RUN_DIR is
#                        set, else run/pgdata-<instance>/, kept between runs)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { echo "run.sh: $*" >&2; }
die() { say "$*"; exit 1; }

mode=""          # live | sim | "" (decide by probing)
config=""
instance=""
port=""
tuned=0
while (($#)); do
  case "$1" in
    --live) mode=live ;;
    --sim) mode=sim ;;
    --config) [[ $# -ge 2 ]] || die "--config needs a file"; config=$(realpath "$2"); shift ;;
    --instance) [[ $# -ge 2 ]] || die "--instance needs a name"; instance=$2; shift ;;
    --port) [[ $# -ge 2 ]] || die "--port needs a number"; port=$2; shift ;;
    --tuned) tuned=1 ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

# --- build ------------------------------------------------------------------------------------
if [[ -n "${QF_BUILD_DIR:-}" ]]; then
  bin="$(realpath "$QF_BUILD_DIR")/bin"
else
  ./scripts/bootstrap.sh >&2
  ./scripts/build.sh >&2
  bin="$root/build/bin"
fi
for exe in qf-engine qf-gateway qf-venue qf-monitor qf-store; do
  [[ -x "$bin/$exe" ]] || die "$bin/$exe is missing (build it, or unset QF_BUILD_DIR)"
done

# --- configuration ----------------------------------------------------------------------------
# Prints shell-safe lines describing a config: "engine <instance> <mode>", "gateway <host> <port>",
# "bridge <enabled 0|1> <start_nats 0|1> <nats host> <nats port> <store dir>", then per venue "venue <name> <scheme> <host> <port> <symbols,comma,separated> <ca_file|->".
describe_config() {
  python3 - "$1" <<'PY'
import sys, tomllib, urllib.parse
with open(sys.argv[1], "rb") as f:
    c = tomllib.load(f)
e, g, st = c.get("engine", {}), c.get("gateway", {}), c.get("store", {})
print("engine", e.get("instance", "default"), e.get("mode", "live"))
print("store", 1 if st.get("enabled", False) else 0, st.get("url") or "-")
print("gateway", g.get("host", "127.0.0.1"), g.get("port", 8080))
# ---- [bridge] ----
b = c.get("bridge", {})
nu = urllib.parse.urlsplit(b.get("nats_url", "nats://127.0.0.1:4222"))
print("bridge", int(b.get("enabled", False)), int(b.get("start_nats", True)), nu.hostname or "127.0.0.1",
      nu.port or 4222, b.get("nats_store_dir", "run/nats"))
# ---- end [bridge] ----
for v in c.get("venues", []):
    u = urllib.parse.urlsplit(v["ws_url"])
    port = u.port or (443 if u.scheme == "wss" else 80)
    syms = [i["symbol"] for i in c.get("instruments", []) if i["venue"] == v["venue"]]
    print("venue", v["venue"], u.scheme, u.hostname, port, ",".join(syms) or "-", v.get("ca_file") or "-")
PY
}

config_mode() { describe_config "$1" | awk '$1 == "engine" { print $3 }'; }

# A TLS handshake with the live exchange, bounded by a hard timeout (DNS included). Nothing but
# the handshake is sent.
probe_live() {
  local target=$1 t=${QF_PROBE_TIMEOUT:-3}
  timeout --kill-after=1 "$((t + 1))" python3 - "$target" "$t" <<'PY' >/dev/null 2>&1
import socket, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context()
with socket.create_connection((host, int(port)), timeout=float(sys.argv[2])) as s:
    with ctx.wrap_socket(s, server_hostname=host):
        pass
PY
}

if [[ "$mode" == "" && -n "$config" && "$(config_mode "$config")" == "sim" ]]; then
  mode=sim
fi
if [[ "$mode" == "" ]]; then
  live_config=${config:-$root/config/default.toml}
  target=${QF_LIVE_PROBE:-$(describe_config "$live_config" | awk '$1 == "venue" && $3 == "wss" { print $4 ":" $5; exit }')}
  [[ -n "$target" ]] || target="stream.binance.com:9443"
  say "probing $target (TLS, ${QF_PROBE_TIMEOUT:-3} s) to choose LIVE or SIM"
  if probe_live "$target"; then
    mode=live
    config=$live_config
  else
    mode=sim
    config=$root/config/sim.toml
    sim_reason="the live exchanges did not answer ($target unreachable)"
  fi
fi
if [[ -z "$config" ]]; then
  [[ $mode == live ]] && config=$root/config/default.toml || config=$root/config/sim.toml
fi
[[ -f "$config" ]] || die "no such config: $config"
if [[ $mode == sim && "$(config_mode "$config")" != "sim" ]]; then
  die "$config has [engine] mode = \"$(config_mode "$config")\"; SIM needs a config with mode = \"sim\""
fi

read -r _ cfg_instance _ < <(describe_config "$config" | awk '$1 == "engine"')
read -r _ gw_host cfg_port < <(describe_config "$config" | awk '$1 == "gateway"')
instance=${instance:-$cfg_instance}
port=${port:-$cfg_port}

run_dir=${QF_RUN_DIR:-$root/run/$instance-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$run_dir"
run_dir=$(realpath "$run_dir")

if [[ $mode == sim ]]; then
  red=""; bold=""; reset=""
  if [[ -t 2 ]]; then red=$'\e[41;97m'; bold=$'\e[1m'; reset=$'\e[0m'; fi
  {
    echo
    echo "${red}${bold}  ############################################################  ${reset}"
    echo "${red}${bold}  ##  SIM MODE: simulated market from qf-venue on 127.0.0.1  ##  ${reset}"
    echo "${red}${bold}  ##  NOT LIVE EXCHANGE DATA                                 ##  ${reset}"
    echo "${red}${bold}  ############################################################  ${reset}"
    [[ -n "${sim_reason:-}" ]] && echo "  reason: ${sim_reason}"
    echo "  the dashboard, qf-monitor and /api/health all show SIM"
    echo
  } >&2
else
  say "LIVE mode: public market data from the exchanges in $config"
fi

# --- processes --------------------------------------------------------------------------------
pids=()          # every process started, in start order
names=()
stopping=0

cpu0=()           # --tuned: everything but the hot thread runs on CPU 0
engine_tuned=()
if ((tuned)); then
  command -v taskset >/dev/null || die "--tuned needs taskset (util-linux)"
  cpu0=(taskset -c 0)
  engine_tuned=(--tuned)
fi

start() {  # start NAME LOG ARGS... -> runs in the background, records its pid
  local name=$1 log=$2
  shift 2
  "${cpu0[@]}" "$@" >"$log" 2>&1 &
  pids+=("$!")
  names+=("$name")
  say "started $name pid $! (log $log)"
}

alive() { kill -0 "$1" 2>/dev/null; }

# Bounded wait for a pid to exit; returns 1 if it is still there after $2 seconds.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
}

cluster_started=0  # the private PostgreSQL cluster (pg_ctl daemonizes it: stopped by pg_ctl, last)
pg_data=""
as_pg=()           # PostgreSQL refuses to run as root: its commands run as the postgres user
if ((EUID == 0)); then as_pg=(runuser -u postgres --); fi

stop_cluster() {
  ((cluster_started)) || return 0
  cluster_started=0
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    say "pg_ctl stop failed; see $pg_data/server.log"
  say "stopped the PostgreSQL cluster in $pg_data"
}

cleanup() {
  ((stopping)) && return
  stopping=1
  # Newest first: gateway, engine (SIGTERM, so the segments are marked stopped), bridge, nats-server, then venues.
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    alive "$pid" || { wait "$pid" 2>/dev/null || true; continue; }
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 15; then
      say "${names[i]} (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || true
    fi
    say "stopped ${names[i]} (pid $pid)"
  done
  stop_cluster
}

on_signal() {
  say "$1 received, stopping the stack"
  cleanup
  say "stopped; logs in $run_dir"
  trap - EXIT
  exit 0
}
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM
trap cleanup EXIT

# Bounded poll: wait_until SECONDS WHAT COMMAND...; fails if a started process died meanwhile.
wait_until() {
  local secs=$1 what=$2 deadline i
  shift 2
  deadline=$((SECONDS + secs))
  until "$@"; do
    for i in "${!pids[@]}"; do
      if ! alive "${pids[i]}"; then
        say "${names[i]} (pid ${pids[i]}) exited while waiting for $what; its log:"
        tail -n 20 "$run_dir/${names[i]}.log" >&2 || true
        exit 1
      fi
    done
    ((SECONDS < deadline)) || die "timed out after ${secs} s waiting for $what (logs in $run_dir)"
    sleep 0.1
  done
}

log_has() { grep -q "$2" "$1" 2>/dev/null; }

health_ok() {  # /api/health answers 200 (the engine is running)
  python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

if [[ $mode == sim ]]; then
  while read -r _ venue scheme host vport symbols ca_file; do
    case "$host" in
      127.0.0.1|localhost) ;;
      *) say "venue $venue: $scheme://$host:$vport is not loopback; no local venue started for it"; continue ;;
    esac
    args=(--venue "$venue" --port "$vport" --synthetic)
    [[ "$symbols" != "-" ]] && args+=(--symbols "$symbols")
    if [[ $scheme == wss ]]; then
      [[ "$ca_file" != "-" ]] || die "venue $venue: wss:// on loopback needs ca_file in the config"
      args+=(--tls --cert-dir "$(dirname "$ca_file")")
    fi
    start "venue-$venue" "$run_dir/venue-$venue.log" "$bin/qf-venue" "${args[@]}"
    wait_until 15 "qf-venue $venue to listen on port $vport" \
      log_has "$run_dir/venue-$venue.log" "^qf-venue: listening"
  done < <(describe_config "$config" | awk '$1 == "venue"')
fi

# ---- [bridge]: nats-server and qf-bridge (before the engine: the bridge waits for its segment) ----
read -r _ bridge_on start_nats nats_host nats_port nats_store < <(describe_config "$config" | awk '$1 == "bridge"')
nats_up() {  # the server answers its INFO line
  python3 - "$nats_host" "$nats_port" <<'PY' >/dev/null 2>&1
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1) as s:
    sys.exit(0 if s.recv(5) == b"INFO " else 1)
PY
}
if [[ $bridge_on == 1 ]]; then
  [[ -x "$bin/qf-bridge" ]] || die "$bin/qf-bridge is missing (build it, or unset QF_BUILD_DIR)"
  if [[ $start_nats == 1 ]]; then
    case "$nats_host" in
      127.0.0.1|localhost) ;;
      *) die "[bridge] nats_url host $nats_host is not loopback; set start_nats = false to use a remote server" ;;
    esac
    command -v nats-server >/dev/null || die "nats-server is missing (scripts/bootstrap.sh installs it)"
    if [[ -n "${QF_RUN_DIR:-}" ]]; then
      nats_dir="$run_dir/nats"
    elif [[ "$nats_store" == /* ]]; then
      nats_dir=$nats_store
    else
      nats_dir="$root/$nats_store"
    fi
    mkdir -p "$nats_dir"
    start nats-server "$run_dir/nats-server.log" nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$nats_dir"
    wait_until 15 "nats-server to accept clients on port $nats_port" nats_up
  fi
  start bridge "$run_dir/bridge.log" "$bin/qf-bridge" --config "$config" --instance "$instance"
  nats_line="  nats:       nats://$nats_host:$nats_port (subjects <prefix>.$instance.>, see bridge/README.md)
"
fi
# ---- end [bridge] ----
# --- history store ----------------------------------------------------------------------------
read -r _ store_enabled store_url < <(describe_config "$config" | awk '$1 == "store"')
if ((store_enabled)); then
  if [[ "$store_url" == "-" ]]; then
    pg_bin=${QF_PG_BIN:-/usr/lib/postgresql/15/bin}
    [[ -x "$pg_bin/initdb" ]] || die "$pg_bin/initdb is missing (Debian package postgresql; or set [store] url)"
    if [[ -n "${QF_PG_DATA:-}" ]]; then pg_data=$QF_PG_DATA
    elif [[ -n "${QF_RUN_DIR:-}" ]]; then pg_data=$run_dir/pgdata
    else pg_data=$root/run/pgdata-$instance; fi
    mkdir -p "$pg_data"
    pg_data=$(realpath "$pg_data")
    ((EUID == 0)) && chown postgres: "$pg_data" && chmod 0700 "$pg_data"
    if [[ ! -f "$pg_data/PG_VERSION" ]]; then
      say "creating a private PostgreSQL cluster in $pg_data"
      "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_data" -U qf --auth=trust -E UTF8 --no-locale >"$run_dir/initdb.log" 2>&1 ||
        { tail -n 20 "$run_dir/initdb.log" >&2; die "initdb failed (log $run_dir/initdb.log)"; }
    fi
    # No TCP listener; the socket lives in the data directory (0700, its owner only).
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$pg_data' -c unix_socket_permissions=0700" start \
      >/dev/null || { tail -n 20 "$pg_data/server.log" >&2; die "the PostgreSQL cluster did not start (log $pg_data/server.log)"; }
    cluster_started=1
    say "PostgreSQL cluster up in $pg_data (Unix socket only; log $pg_data/server.log)"
    if [[ -z "$("${as_pg[@]}" "$pg_bin/psql" -h "$pg_data" -U qf -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'quantflow'")" ]]; then
      "${as_pg[@]}" "$pg_bin/createdb" -h "$pg_data" -U qf quantflow || die "createdb quantflow failed"
    fi
    store_url="host='$pg_data' user=qf dbname=quantflow"
  fi
  "$bin/qf-store" --config "$config" --url "$store_url" --migrate-only >"$run_dir/migrate.log" 2>&1 ||
    { cat "$run_dir/migrate.log" >&2; die "the store's migrations failed"; }
  start store "$run_dir/store.log" "$bin/qf-store" --config "$config" --instance "$instance" --url "$store_url" \
    --status-file "$run_dir/store-status.json"
fi

if ((tuned)); then
  say "TUNED profile: the engine's hot thread on CPU 1 with SCHED_FIFO, every other process on CPU 0"
  "$bin/qf-engine" check-host --tuned | sed -n 's/^/run.sh: check-host: /p' >&2 || true
fi
start engine "$run_dir/engine.log" "$bin/qf-engine" --config "$config" --instance "$instance" "${engine_tuned[@]}"
gateway_store=()
((store_enabled)) && gateway_store=(--store-url "$store_url")
start gateway "$run_dir/gateway.log" "$bin/qf-gateway" --config "$config" --instance "$instance" --port "$port" \
  "${gateway_store[@]}"
wait_until 15 "qf-gateway to listen" log_has "$run_dir/gateway.log" "^qf-gateway: listening"
url=$(sed -n 's/^qf-gateway: listening \(http:[^ ]*\).*/\1/p' "$run_dir/gateway.log" | head -n 1)
url=${url%/}
wait_until "${QF_READY_TIMEOUT:-60}" "$url/api/health to report the engine running" health_ok "$url/api/health"

cat >&2 <<EOF

run.sh: ready ($(tr '[:lower:]' '[:upper:]' <<<"$mode"), instance $instance, config $config)
  dashboard:  $url/
  health:     $url/api/health
  monitor:    $bin/qf-monitor --instance $instance
${nats_line:-}$( ((store_enabled)) && echo "  store:      $run_dir/store-status.json (counters), database: $store_url")
  logs:       $run_dir
  Ctrl-C stops everything.
EOF

# Sleep until a child exits (a failure) or a signal arrives (the traps above).
set +e
wait -n "${pids[@]}"
status=$?
set -e
for i in "${!pids[@]}"; do
  alive "${pids[i]}" || say "${names[i]} (pid ${pids[i]}) exited unexpectedly; see $run_dir/${names[i]}.log"
done
exit $((status == 0 ? 1 : status))
