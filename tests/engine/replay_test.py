#!/usr/bin/env python3
"""qf-engine replay on the real captures in ../shared/captures.

Usage: replay_test.py QF_ENGINE CAPTURES_DIR
Expected figures come from the captures' README (and PROTOCOLS.md), never from the engine.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest

ENGINE = CAPTURES = None
BTC = "binance-spot/btcusdt_20240808.capture.gz"


def replay(*args, check=True):
    p = subprocess.run([ENGINE, "replay", *args], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"replay failed ({p.returncode}): {p.stderr}")
    return p


def summary(*args):
    return json.loads(replay(*args).stdout)


class ReplayTest(unittest.TestCase):
    def path(self, rel):
        p = os.path.join(CAPTURES, rel)
        if not os.path.exists(p):
            self.fail(f"no capture at {p}: ../shared/captures must sit beside the repository")
        return p

    def test_should_replay_btcusdt_into_a_live_uncrossed_book_without_allocating_in_the_core_loop(self):
        s = summary("--input", self.path(BTC))
        # README: bookTicker 28,040 + trade 9,757 + depth 3,451 + one inline REST snapshot = 41,249 lines.
        self.assertEqual(s["messages"], 28040 + 9757 + 3451 + 1)
        self.assertEqual(s["parse_errors"], 0)
        (btc,) = s["instruments"]
        self.assertEqual((btc["venue"], btc["symbol"]), ("binance-spot", "BTCUSDT"))
        self.assertEqual(btc["health"], "live")
        self.assertEqual(btc["gaps"], 0)
        self.assertEqual(btc["crossed"], 0)
        self.assertEqual(btc["trades"], 9757)
        self.assertLess(float(btc["best_bid"]), float(btc["best_ask"]))
        self.assertEqual(s["allocations_in_loop"], 0)
        self.assertGreater(s["allocations_counted"], 0, "the allocation counter must be live to mean anything")
        self.assertAlmostEqual(sum(btc["regime"]), 1.0, places=9)
        self.assertLessEqual(abs(btc["signal"]), 1.0)
        for stage in ("parse", "queue", "process", "receive_to_publish"):
            self.assertGreater(s["latency_ns"][stage]["count"], 0, stage)

    def test_should_write_byte_identical_taps_and_books_on_two_replays(self):
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
            sa = summary("--input", self.path(BTC), "--tap", a)
            sb = summary("--input", self.path(BTC), "--tap", b)
            with open(a, "rb") as fa, open(b, "rb") as fb:
                self.assertEqual(fa.read(), fb.read())
            self.assertEqual(sa["instruments"], sb["instruments"])

    def test_should_print_a_backtest_that_agrees_with_its_own_equity_curve(self):
        with tempfile.TemporaryDirectory() as d:
            csv = os.path.join(d, "equity.csv")
            s = summary("--input", self.path(BTC), "--equity-csv", csv)
            b = s["backtest"]
            for key in ("trades", "turnover", "fees", "total_return", "sharpe_per_interval", "sortino_per_interval",
                        "max_drawdown", "win_rate", "profit_factor", "verdict", "interval_s", "sample_period_s",
                        "sharpe_ci95", "max_drawdown_ci95", "round_trips", "expectancy", "exposure_s"):
                self.assertIn(key, b)
            self.assertEqual(b["interval_s"], 1)
            # ~6 minutes < the one-day minimum horizon: per interval, labelled so, never annualized
            self.assertFalse(b["annualized"])
            self.assertNotIn("sharpe", b)
            self.assertEqual(b["sample_period_s"], b["intervals"] * b["interval_s"])
            self.assertLess(abs(b["sharpe_per_interval"]), 10)
            # the default strategy paces itself: the guard never trips on this capture
            self.assertEqual(b["kill_switch"]["cause"], "none")
            self.assertEqual(b["refusals"]["rate_limit"], 0)
            # P&L identity after every fill: realized + unrealized - fees = equity - initial capital
            self.assertLess(b["pnl_identity_max_error"], 1e-6)
            self.assertAlmostEqual(b["realized"] + b["unrealized"] - b["fees"],
                                   b["final_equity"] - b["initial_capital"], places=4)  # 10 printed digits
            self.assertAlmostEqual(b["total_return"], b["final_equity"] / b["initial_capital"] - 1, places=8)
            # 10 bps taker fee on every fill
            self.assertAlmostEqual(b["fees"], b["turnover"] * 0.001, places=5)
            # the verdict follows the documented criteria from the figures printed
            go = b["trades"] >= 10 and b["win_rate"] >= 0.45 and b["max_drawdown"] < 0.20
            self.assertEqual(b["verdict"], "go" if go else "no-go")
            # the kill switch cannot let more orders through than the rate limits allow
            self.assertEqual(b["orders"], b["trades"])
            with open(csv) as f:
                rows = [line.strip().split(",") for line in f][1:]
            self.assertGreater(len(rows), 300)  # ~6 minutes of capture, one row per second
            equity = [float(r[1]) for r in rows]
            peak, mdd = b["initial_capital"], 0.0
            for e in equity:
                peak = max(peak, e)
                mdd = max(mdd, (peak - e) / peak)
            # the curve is sampled once a second; the summary sees every update, so it is never smaller
            self.assertGreaterEqual(b["max_drawdown"] + 1e-9, mdd)  # the CSV equity is printed to 10 digits
            self.assertAlmostEqual(equity[-1], b["final_equity"], delta=abs(b["final_equity"]) * 1e-3)
            again = summary("--input", self.path(BTC))["backtest"]
            self.assertEqual(again, b)  # deterministic

    def test_should_sync_at_the_documented_point_and_match_every_book_ticker(self):
        with tempfile.TemporaryDirectory() as d:
            tap = os.path.join(d, "tap.jsonl")
            summary("--input", self.path(BTC), "--tap", tap)
            with open(tap) as f:
                lines = [json.loads(line) for line in f]
        kinds = [l["kind"] for l in lines]
        first_depth = kinds.index("depth")
        snapshot = kinds.index("snapshot")
        self.assertLess(snapshot, first_depth, "no diff is applied before the snapshot")
        self.assertEqual(lines[snapshot]["u"], 50093239218)
        self.assertEqual(lines[first_depth]["u"], 50093239224)  # the bridging diff U=...208 u=...224
        depths = [l for l in lines if l["kind"] == "depth"]
        self.assertEqual(len(depths), 3449)  # 3,451 diffs, 2 of them older than the snapshot
        self.assertEqual(kinds.count("trade"), 9757)
        self.assertEqual(kinds.count("bbo"), 28040)
        # The two streams share update ids: after each depth update the book's best bid/ask equal the
        # last bookTicker whose u is not greater than the update's u.
        bbos = sorted((l["u"], l) for l in lines if l["kind"] == "bbo")
        ids = [u for u, _ in bbos]
        import bisect
        mismatches = 0
        for d_ in depths:
            i = bisect.bisect_right(ids, d_["u"]) - 1
            if i < 0:
                continue
            t = bbos[i][1]
            if (d_["bid"], d_["bid_qty"], d_["ask"], d_["ask_qty"]) != (t["bid"], t["bid_qty"], t["ask"], t["ask_qty"]):
                mismatches += 1
        self.assertEqual(mismatches, 0)
        self.assertTrue(all(float(d_["bid"]) < float(d_["ask"]) for d_ in depths), "never crossed")

    def test_should_sync_every_symbol_of_the_multi_symbol_captures(self):
        for rel, venue in (("binance-spot/multi_20211012.capture", "binance-spot"),
                           ("binance-usdm/multi_20210722.capture", "binance-usdm")):
            s = summary("--input", self.path(rel))
            self.assertEqual(s["venue"], venue)
            self.assertEqual(s["parse_errors"], 0, rel)
            self.assertEqual(len(s["instruments"]), 4, rel)
            for i in s["instruments"]:
                self.assertEqual((i["symbol"], i["health"], i["gaps"], i["crossed"]), (i["symbol"], "live", 0, 0), rel)

    def split_btc(self, d):
        """The BTCUSDT capture cut at a line boundary well after its snapshot (line 8): the first part
        plain, the second gzip (a day file carries no snapshot: it continues the book)."""
        with gzip.open(self.path(BTC), "rt") as f:
            lines = f.readlines()
        cut = 20000
        self.assertTrue(lines[7].split(" ", 1)[1].startswith('{"lastUpdateId"'), "the snapshot is line 8")
        first, second = os.path.join(d, "day1.capture"), os.path.join(d, "day2.capture.gz")
        with open(first, "w") as f:
            f.writelines(lines[:cut])
        with gzip.open(second, "wt") as f:
            f.writelines(lines[cut:])
        return first, second

    def comparable(self, s):
        return {k: v for k, v in s.items() if k not in ("elapsed_s", "messages_per_s", "latency_ns",
                                                         "allocations_counted")}

    def test_should_replay_day_files_as_one_stream_with_the_whole_captures_tap_and_summary(self):
        with tempfile.TemporaryDirectory() as d:
            first, second = self.split_btc(d)
            whole_tap, split_tap = os.path.join(d, "whole.jsonl"), os.path.join(d, "split.jsonl")
            whole = summary("--input", self.path(BTC), "--tap", whole_tap)
            split = summary("--input", first, "--input", second, "--tap", split_tap)
            with open(whole_tap, "rb") as a, open(split_tap, "rb") as b:
                self.assertEqual(a.read(), b.read())
            self.assertEqual(self.comparable(split), self.comparable(whole))
            (btc,) = split["instruments"]
            self.assertEqual((btc["health"], btc["gaps"]), ("live", 0))  # the book carried across the boundary
            # a directory (its capture files by name) and a glob name the same two files
            for arg in (d, os.path.join(d, "day*.capture*")):
                self.assertEqual(self.comparable(summary("--input", arg)), self.comparable(whole), arg)

    def test_should_leave_a_day_file_without_a_snapshot_syncing(self):
        with tempfile.TemporaryDirectory() as d:
            _, second = self.split_btc(d)
            (btc,) = summary("--input", second)["instruments"]
            self.assertEqual(btc["health"], "syncing")
            self.assertIsNone(btc["best_bid"])

    def test_should_refuse_day_files_out_of_order_naming_both(self):
        with tempfile.TemporaryDirectory() as d:
            first, second = self.split_btc(d)
            p = replay("--input", second, "--input", first, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("out of order", p.stderr)
            self.assertIn(first, p.stderr)
            self.assertIn(second, p.stderr)
            self.assertEqual(p.stdout, "")
            # overlapping: the second file starts inside the first (only its end tells)
            overlap = os.path.join(d, "overlap.capture")
            with open(first) as f:
                lines = f.readlines()
            with open(overlap, "w") as f:
                f.writelines(lines[10000:])
            p = replay("--input", first, "--input", overlap, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("out of order", p.stderr)
            self.assertIn(first, p.stderr)
            self.assertIn(overlap, p.stderr)

    def test_should_name_the_file_or_line_it_cannot_read(self):
        p = replay("--input", "/nonexistent/x.capture", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/x.capture", p.stderr)
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.capture")
            with gzip.open(self.path(BTC), "rt") as src, open(bad, "w") as out:
                for n, line in enumerate(src):
                    out.write(line)
                    if n == 20:
                        out.write("this is not a capture line\n")
                        break
            p = replay("--input", bad, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("bad.capture:22", p.stderr)

    def test_should_refuse_a_venue_without_a_parser_clearly(self):
        p = replay("--input", self.path(BTC), "--venue", "bybit", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not supported yet", p.stderr)

    def test_should_replay_the_coinbase_capture_with_every_book_live(self):
        # Counts from ../shared/captures/README.md: 10 products, 97 match + 10 last_match.
        p = replay("--input", self.path("coinbase-exchange/level2_ticker_matches_20210417.capture"))
        s = json.loads(p.stdout)
        self.assertEqual(s["parse_errors"], 0)
        self.assertEqual(len(s["instruments"]), 10)
        for i in s["instruments"]:
            self.assertEqual(i["venue"], "coinbase")
            self.assertEqual(i["health"], "live", i["symbol"])
            self.assertEqual(i["crossed"], 0, i["symbol"])
            self.assertLess(float(i["best_bid"]), float(i["best_ask"]), i["symbol"])
        self.assertEqual(sum(i["trades"] for i in s["instruments"]), 107)


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
