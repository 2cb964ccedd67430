#!/usr/bin/env python3
"""Replay benchmark (issue 4): `qf-engine replay` of the BTCUSDT capture looped past one million
messages, through the real parser, book synchronisation and core, single-threaded.

Reports, as the median of --reps runs: messages per second including reading and parsing
(--target: issue 20 asks 2.5 M/s from a plain capture, 1.5 M/s from gzip, on one core), the core's processing latency per event from the engine's own histogram (ring pop
to records published: target p50 < 300 ns, p99 < 2 us), p99.9, and allocations in the loop
(must be 0). Absolute figures drift on a shared machine; each run's spread is printed too.

Usage: replay_bench.py QF_ENGINE CAPTURE [--loops N] [--reps N] [--target MSG_PER_S] [--json FILE]
"""
import argparse
import json
import statistics
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("capture")
    ap.add_argument("--loops", type=int, default=25)  # 41,248 lines x 25 = 1.03 M messages
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--target", type=float, default=2.5e6)
    ap.add_argument("--json")
    a = ap.parse_args()

    runs = []
    for i in range(a.reps):
        out = subprocess.run([a.engine, "replay", "--input", a.capture, "--loops", str(a.loops)],
                             check=True, capture_output=True, text=True)
        s = json.loads(out.stdout)
        runs.append(s)
        print(f"replay_bench: run {i + 1}/{a.reps}: {s['messages']} messages, "
              f"{s['messages_per_s'] / 1e6:.2f} M msg/s, process p50 {s['latency_ns']['process']['p50']} ns",
              file=sys.stderr)

    def med(f):
        return statistics.median(f(r) for r in runs)

    rate = [r["messages_per_s"] for r in runs]
    proc = lambda k: med(lambda r: r["latency_ns"]["process"][k])
    result = {
        "messages": runs[0]["messages"],
        "messages_per_s_median": med(lambda r: r["messages_per_s"]),
        "messages_per_s_min": min(rate),
        "messages_per_s_max": max(rate),
        "process_ns": {k: proc(k) for k in ("p50", "p90", "p99", "p999", "max")},
        "parse_ns_p50": med(lambda r: r["latency_ns"]["parse"]["p50"]),
        "allocations_in_loop": max(r["allocations_in_loop"] for r in runs),
        "reps": a.reps,
    }
    verdict = lambda ok: "met" if ok else "MISSED"
    p = result["process_ns"]
    print(f"replay of {a.capture.split('/')[-1]} x{a.loops}: {result['messages']:,} messages, median of {a.reps}")
    print(f"  throughput incl. parsing : {result['messages_per_s_median'] / 1e6:.2f} M msg/s "
          f"(runs {min(rate) / 1e6:.2f}..{max(rate) / 1e6:.2f})   target >= {a.target / 1e6:.2f} M/s: "
          f"{verdict(result['messages_per_s_median'] >= a.target)}")
    print(f"  core process per event   : p50 {p['p50']} ns, p90 {p['p90']} ns, p99 {p['p99']} ns, "
          f"p99.9 {p['p999']} ns, max {p['max']} ns")
    print(f"                             target p50 < 300 ns: {verdict(p['p50'] < 300)}, "
          f"p99 < 2000 ns: {verdict(p['p99'] < 2000)}")
    print(f"  allocations in the loop  : {result['allocations_in_loop']} (must be 0: "
          f"{verdict(result['allocations_in_loop'] == 0)})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
