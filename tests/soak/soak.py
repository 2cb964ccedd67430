#!/usr/bin/env python3
"""Soak: the SIM stack under load for a long time, with a fault every minute (not in CI).

qf-venue --synthetic (Binance spot, 3 symbols) at --rate messages/s -> qf-engine (live, real sockets
on 127.0.0.1) -> qf-gateway with --clients WebSocket clients (bench/e2e/ws_load.js in --client-procs node
processes, every channel of
every instrument) and qf-monitor full screen in a private tmux server. Every --fault-every-s seconds
one venue fault, in turn: gap, malformed, drop, stall (3 s), shutdown.
Every --sample-s seconds: RSS (VmRSS) and open fds of every process (venue, engine, gateway,
monitor, clients), plus the engine's feed counters.

Fails (exit 1) when
  - a process's RSS grows by more than --rss-growth-mib, or its fds by more than --fd-growth, from
    its baseline (the highest sample of the second minute, once buffers and books have warmed up)
    to the median of its last three samples;
  - any message is lost inside the stack: engine ring drops, recorder drops, WebSocket clients that
    errored or were closed, venue sessions cut as slow consumers;
  - a process exits, or a book is not live again after the last fault.
Gaps, resyncs and reconnects are the faults' own effect: they are reported, with the faults injected.

  scripts/soak.sh [--minutes 30] [--rate 100000] [--clients 200] [--sample-s 10]
                  [--fault-every-s 60] [--build-dir build] [--out bench/results/soak.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from qf_testkit import Procs, Failure, monitor_json, poll, request, start_gateway, write_config, sim_engine  # noqa: E402
from venue_client import start_venue  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FAULTS = ["gap", "malformed", "drop", "stall&seconds=3", "shutdown"]


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def rss_and_fds(pid):
    """(RSS in KiB, open fds) of a live pid, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return None


def growth(samples, baseline_from, baseline_to):
    """Per key: (baseline, final, growth) over samples [(t, value)]: the baseline is the highest value
    in [baseline_from, baseline_to) seconds (the whole run's first sample when the run is shorter),
    the final value the median of the last three."""
    early = [v for t, v in samples if baseline_from <= t < baseline_to] or [samples[0][1]]
    base = max(early)
    final = statistics.median(v for _, v in samples[-3:])
    return base, final, final - base


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", default="100000")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--client-procs", type=int, default=4, help="node processes sharing the clients")
    ap.add_argument("--sample-s", type=float, default=10)
    ap.add_argument("--fault-every-s", type=float, default=60)
    ap.add_argument("--rss-growth-mib", type=float, default=32)
    ap.add_argument("--fd-growth", type=int, default=8)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--node", default="node")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "soak.json"))
    a = ap.parse_args()
    bin_dir = os.path.join(a.build_dir, "bin")
    instance = f"qfsoak{os.getpid()}"
    tmux = f"qfsoak{os.getpid()}"
    work = tempfile.mkdtemp(prefix=f"{instance}-")
    log(f"work dir {work}, {a.minutes} min at {a.rate} msg/s, {a.clients} clients")
    with Procs(work=work, instance=instance, grace=20) as procs:
        venue = start_venue(procs, os.path.join(bin_dir, "qf-venue"), "--venue", "binance", "--synthetic",
                            "--symbols", ",".join(SYMBOLS), "--rate", a.rate, "--seed", "7")
        config = write_config(
            os.path.join(work, "soak.toml"), engine=sim_engine(instance), gateway={"port": 0},
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                     "depth_stream": "depth@100ms", "stale_after_ms": 2000, "reconnect_min_ms": 50,
                     "reconnect_max_ms": 500}],
            instruments=[{"venue": "binance-spot", "symbol": s, "price_decimals": 2, "qty_decimals": 8}
                         for s in SYMBOLS])
        engine = procs.start([os.path.join(bin_dir, "qf-engine"), "--config", config], name="qf-engine",
                             read="stderr")
        monitor = os.path.join(bin_dir, "qf-monitor")

        def books_live():
            if engine.poll() is not None:
                raise Failure(f"qf-engine exited {engine.returncode}")
            s = monitor_json(monitor, instance)
            return s if s["status"] == "running" and len(s["instruments"]) == len(SYMBOLS) and \
                all(i["health"] == "live" for i in s["instruments"]) else None
        poll(books_live, "every book live", timeout=120, retry=(subprocess.CalledProcessError, ValueError))
        gateway, port = start_gateway(procs, os.path.join(bin_dir, "qf-gateway"), config)
        # Several node processes, as many real clients would be: one event loop for all of them
        # would measure node, not the gateway.
        share = [a.clients // a.client_procs + (1 if i < a.clients % a.client_procs else 0)
                 for i in range(a.client_procs)]
        clients = [procs.start([a.node, os.path.join(ROOT, "bench", "e2e", "ws_load.js"),
                                f"ws://127.0.0.1:{port}/ws", str(n)], name=f"ws_load{i}", stdin=subprocess.PIPE)
                   for i, n in enumerate(share) if n]
        for c in clients:
            c.wait_line(r'"ready"', "every WebSocket client subscribed", timeout=120)
        subprocess.run(["tmux", "-L", tmux, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50",
                        f"{monitor} --instance {instance} --interval 100"], check=True)
        try:
            monitor_pid = int(subprocess.run(["tmux", "-L", tmux, "list-panes", "-F", "#{pane_pid}"],
                                             capture_output=True, text=True, check=True).stdout.split()[0])
            pids = {"venue": venue.proc.pid, "engine": engine.pid, "gateway": gateway.pid,
                    "monitor": monitor_pid, **{f"clients{i}": c.pid for i, c in enumerate(clients)}}
            samples = {name: {"rss_kib": [], "fds": []} for name in pids}
            counters = []
            faults = []
            t0 = time.monotonic()
            end = t0 + a.minutes * 60
            next_sample, next_fault = t0, t0 + a.fault_every_s
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    for name, pid in pids.items():
                        got = rss_and_fds(pid)
                        if got is None:
                            raise Failure(f"{name} (pid {pid}) exited during the soak")
                        samples[name]["rss_kib"].append((now - t0, got[0]))
                        samples[name]["fds"].append((now - t0, got[1]))
                    feed = monitor_json(monitor, instance)["feeds"][0]
                    counters.append({"t": round(now - t0, 1), **{k: feed[k] for k in (
                        "messages", "drops", "gaps", "resyncs", "reconnects", "parse_errors")}})
                    log(f"t={now - t0:6.0f}s engine rss {samples['engine']['rss_kib'][-1][1]} KiB, "
                        f"gateway rss {samples['gateway']['rss_kib'][-1][1]} KiB, messages {feed['messages']}")
                    next_sample += a.sample_s
                if now >= next_fault:
                    kind = FAULTS[len(faults) % len(FAULTS)]
                    venue.fault(f"kind={kind}")
                    faults.append({"t": round(now - t0, 1), "kind": kind})
                    log(f"fault {kind}")
                    next_fault += a.fault_every_s
                time.sleep(max(0.0, min(next_sample, next_fault, end) - time.monotonic()))  # the schedule itself
            venue.fault("kind=clear")
            poll(books_live, "every book live after the last fault", timeout=60,
                 retry=(subprocess.CalledProcessError, ValueError))
            final = monitor_json(monitor, instance)
            vstats = venue.stats()
            gw_metrics = gateway_metrics(port)
            for c in clients:
                c.stdin.close()
            per_proc = [json.loads(_last_json(c, "clients")) for c in clients]
            ws = {k: sum(r[k] for r in per_proc) for k in ("clients", "subscribed", "updates", "bytes", "errors",
                                                           "closed")}
            ws["updates_per_client_per_s"] = ws["updates"] / ws["clients"] / max(r["seconds"] for r in per_proc)
        finally:
            subprocess.run(["tmux", "-L", tmux, "kill-server"], capture_output=True)

    problems = []
    report = {"minutes": a.minutes, "rate": a.rate, "clients": a.clients, "faults": faults, "growth": {}}
    for name, s in samples.items():
        rb, rf, rg = growth(s["rss_kib"], 60, 120)
        fb, ff, fg = growth(s["fds"], 60, 120)
        report["growth"][name] = {"rss_kib_baseline": rb, "rss_kib_final": rf, "fds_baseline": fb, "fds_final": ff}
        if rg > a.rss_growth_mib * 1024:
            problems.append(f"{name}: RSS grew {rg / 1024:.1f} MiB ({rb} -> {rf} KiB)")
        if fg > a.fd_growth:
            problems.append(f"{name}: open fds grew by {fg} ({fb} -> {ff})")
    feed = final["feeds"][0]
    report.update({"engine_feed": {k: feed[k] for k in ("messages", "drops", "record_dropped", "record_write_errors", "gaps", "resyncs",
                                                           "reconnects", "parse_errors") if k in feed},
                   "venue": {k: vstats.get(k) for k in ("messages_sent", "slow_consumers", "client_errors")},
                   "ws": ws, "gateway": gw_metrics, "counters": counters})
    lost = {"gateway: WebSocket clients cut off as slow readers": gw_metrics["qf_gateway_ws_slow_disconnects_total"],
            "engine ring drops": feed["drops"], "recorder drops": feed["record_dropped"] + feed["record_write_errors"],
            "venue slow consumers": vstats.get("slow_consumers", 0),
            "WebSocket client errors": ws["errors"], "WebSocket clients closed": ws["closed"]}
    problems += [f"{what}: {n}" for what, n in lost.items() if n]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps({k: report[k] for k in ("minutes", "rate", "clients", "growth", "engine_feed", "venue", "ws",
                                             "gateway")},
                     indent=1))
    print(f"soak: {len(faults)} faults; report in {a.out}")
    if problems:
        print("soak: FAILED\n  " + "\n  ".join(problems))
        return 1
    print("soak: passed")
    return 0


def gateway_metrics(port):
    """The gateway's own counters (qf_gateway_*) from /metrics."""
    status, _, body = request(port, "GET", "/metrics")
    if status != 200:
        raise Failure(f"/metrics answered {status}")
    return {k: float(v) for k, v in (line.rsplit(" ", 1) for line in body.decode().splitlines()
                                     if line.startswith("qf_gateway_"))}


def _last_json(proc, key):
    """The last line of proc's announcing stream that is a JSON object with `key`, once it has exited."""
    proc.wait(timeout=60)
    proc.lines.join()
    for line in reversed(proc.lines.snapshot()):
        if f'"{key}"' in line:
            return line
    raise Failure(f"no {key} line from {proc.args[0]}")


if __name__ == "__main__":
    sys.exit(main())
