#!/usr/bin/env python3
"""Prints Google Benchmark JSON results as one table of medians, the ratios against the
references measured in the same run, and each target's verdict.

Usage: bench_report.py RESULT.json [RESULT.json ...]
Exit status 0 even when a target is missed: the verdict is printed, the numbers are the point.
"""
import json
import sys


def load(paths):
    rows = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            name = b.get("run_name", b["name"])
            rows[name] = b  # the median when repetitions ran, else the single run
    return rows


def per_item_ns(b):
    if "items_per_second" in b:
        return 1e9 / b["items_per_second"]
    if "round_trip" in b:
        return b["round_trip"] * 1e9
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def fmt_ns(ns):
    return f"{ns:,.1f} ns" if ns < 1e4 else f"{ns / 1e3:,.1f} us"


def main(paths):
    rows = load(paths)
    print(f"{'benchmark (median)':<52} {'per item':>12} {'rate':>14}  extra")
    for name, b in rows.items():
        rate = f"{b['items_per_second'] / 1e6:,.1f} M/s" if "items_per_second" in b else ""
        extra = []
        for key in ("retry_rate", "busy", "torn", "writer_updates"):
            if key in b:
                v = b[key]
                extra.append(f"{key}={v * 100:.3f}%" if key == "retry_rate" else f"{key}={v:,.0f}")
        print(f"{name:<52} {fmt_ns(per_item_ns(b)):>12} {rate:>14}  {' '.join(extra)}")

    def get(name):
        return rows.get(name)

    checks = []

    def ratio(label, ours, ref, better, target):
        a, r = get(ours), get(ref)
        if not a or not r:
            return
        if better == "throughput":
            value = a["items_per_second"] / r["items_per_second"]
            ok = value >= target
            checks.append((label, f"{value:.2f}x", f">= {target}x", ok))
        else:  # lower time is better: value = ref / ours
            value = per_item_ns(r) / per_item_ns(a)
            ok = value >= target
            checks.append((label, f"{value:.2f}x ({fmt_ns(per_item_ns(a))} vs {fmt_ns(per_item_ns(r))})",
                           f">= {target}x", ok))

    ratio("ring throughput, 8 B items, vs boost", "ring/throughput_8B/qf_spsc_ring/manual_time",
          "ring/throughput_8B/boost_spsc_queue/manual_time", "throughput", 1.5)
    ratio("ring throughput, 64 B events, vs boost", "ring/throughput_64B/qf_spsc_ring/manual_time",
          "ring/throughput_64B/boost_spsc_queue/manual_time", "throughput", 1.5)
    ratio("ring drain(), 64 B, vs boost consume_all", "ring/throughput_64B_batch/qf_spsc_ring_drain/manual_time",
          "ring/throughput_64B_batch/boost_consume_all/manual_time", "throughput", 1.5)
    ratio("ring round trip, 64 B, vs boost (speed-up)", "ring/round_trip_64B/qf_spsc_ring/manual_time",
          "ring/round_trip_64B/boost_spsc_queue/manual_time", "latency", 1.0)
    ratio("order book update+best vs std::map", "book/update_and_best/qf_order_book",
          "book/update_and_best/std_map", "latency", 5.0)
    ratio("tsc now() vs clock_gettime (speed-up)", "clock/tsc_now", "clock/clock_gettime_monotonic", "latency", 1.0)
    h = get("histogram/record")
    if h:
        checks.append(("histogram record cost", fmt_ns(per_item_ns(h)), "<= 5 ns", per_item_ns(h) <= 5.0))
    s = get("seqlock/load_with_writer_1M_per_s_128B/min_time:1.000")
    if s:
        checks.append(("seqlock retry rate, writer 1M/s", f"{s['retry_rate'] * 100:.3f}%", "< 1%", s["retry_rate"] < 0.01))
        checks.append(("seqlock torn reads", f"{s['torn']:.0f}", "== 0", s["torn"] == 0))

    if checks:
        print()
        print(f"{'target':<44} {'measured':<36} {'target':<10} verdict")
        for label, value, target, ok in checks:
            print(f"{label:<44} {value:<36} {target:<10} {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1:])
