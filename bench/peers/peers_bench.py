#!/usr/bin/env python3
"""Peers benchmark (issue 20 item 4): the same Binance spot capture through `qf-engine replay` and
through each peer's own Binance handlers in-process (bench/peers/replay_peer.js: ccxt.pro's
handleMessage with its snapshot path, tardis-dev's normalizers and OrderBook). Fails (exit 1)
unless every peer ends on the same top of book as ours, price and quantity.

Prints, for each system: in-process msg/s (median of --reps runs of --loops / --peer-loops
passes), one pass as a whole process (wall time, median) and its peak memory (max RSS, median),
with our ratios. Every process is pinned to --cpu (taskset) so the figures compare one core each.

Usage: peers_bench.py QF_ENGINE CAPTURE [--peer-capture FILE] [--loops N] [--peer-loops N]
                      [--reps N] [--cpu N] [--json FILE]
--peer-capture feeds the peers another file (the harness test proves the check fails that way).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ("ccxt", "tardis")


def run_measured(cmd):
    """Runs cmd; returns (stdout, wall seconds, the child's own max RSS in MiB); exits on failure."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"peers_bench: {' '.join(cmd)} failed ({p.returncode}): {err.strip()}")
    return out, wall, ru.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("capture")
    ap.add_argument("--peer-capture")
    ap.add_argument("--loops", type=int, default=20)
    ap.add_argument("--peer-loops", type=int, default=3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    pin = ["taskset", "-c", str(a.cpu)]
    peer_capture = a.peer_capture or a.capture

    def ours(loops):
        return pin + [a.engine, "replay", "--input", a.capture, "--loops", str(loops)]

    def peer(name, loops):
        return pin + ["node", os.path.join(HERE, "replay_peer.js"), name, peer_capture, str(loops)]

    systems = {"qf-engine": ours}
    systems.update({p: (lambda loops, p=p: peer(p, loops)) for p in PEERS})
    results = {}
    for name, cmd in systems.items():
        loops = a.loops if name == "qf-engine" else a.peer_loops
        rates, walls, rss = [], [], []
        final = None
        for i in range(a.reps):
            out, _, _ = run_measured(cmd(loops))
            s = json.loads(out)
            rates.append(s["messages_per_s"])
            out, wall, maxrss = run_measured(cmd(1))
            walls.append(wall)
            rss.append(maxrss)
            s = json.loads(out)
            if name == "qf-engine":
                (inst,) = s["instruments"]
                top = (inst["best_bid"], inst["best_bid_qty"], inst["best_ask"], inst["best_ask_qty"])
            else:
                top = (s["best_bid"], s["best_bid_qty"], s["best_ask"], s["best_ask_qty"])
                version = s["version"]
            final = tuple(None if v is None else Decimal(str(v)) for v in top)
            print(f"peers_bench: {name} run {i + 1}/{a.reps}: {rates[-1] / 1e3:.0f}k msg/s, one pass {wall:.3f} s, "
                  f"{maxrss:.1f} MiB", file=sys.stderr)
        results[name] = {"messages_per_s": statistics.median(rates), "rates": rates,
                         "one_pass_s": statistics.median(walls), "peak_mib": statistics.median(rss),
                         "loops": loops, "top": final}
        if name != "qf-engine":
            results[name]["version"] = version

    q = results["qf-engine"]
    num = lambda d: "none" if d is None else format(d.normalize(), "f")
    fmt_top = lambda t: f"{num(t[0])} x {num(t[1])} / {num(t[2])} x {num(t[3])}"
    print(f"peers on {os.path.basename(a.capture)} (one core each, taskset -c {a.cpu}; medians of {a.reps})")
    print(f"  {'system':<22} {'in-process msg/s':>17} {'ours / it':>10} {'one pass (s)':>13} {'it / ours':>10} "
          f"{'peak MiB':>9} {'it / ours':>10}   final top of book")
    mismatches = []
    for name, r in results.items():
        label = name if name == "qf-engine" else f"{name} {r['version']}"
        ratios = ("", "", "") if name == "qf-engine" else (
            f"{q['messages_per_s'] / r['messages_per_s']:.1f}x", f"{r['one_pass_s'] / q['one_pass_s']:.1f}x",
            f"{r['peak_mib'] / q['peak_mib']:.1f}x")
        same = r["top"] == q["top"]
        if not same:
            mismatches.append(name)
        print(f"  {label:<22} {r['messages_per_s']:>17,.0f} {ratios[0]:>10} {r['one_pass_s']:>13.3f} {ratios[1]:>10} "
              f"{r['peak_mib']:>9.1f} {ratios[2]:>10}   {fmt_top(r['top'])}{'' if same else '  <- DIFFERS'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    if mismatches:
        print(f"peers_bench: FAILED: the final book of {', '.join(mismatches)} differs from qf-engine's "
              f"({fmt_top(q['top'])})", file=sys.stderr)
        sys.exit(1)
    print("  every peer ends on qf-engine's top of book")


if __name__ == "__main__":
    main()
