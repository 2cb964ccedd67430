#!/usr/bin/env python3
"""qf-engine replay --venue bybit-spot|bybit-linear on the real Bybit v5 capture (orderbook.50).

Usage: bybit_replay_test.py QF_ENGINE CAPTURES_DIR
Every expected figure is computed here from the capture's text with Python's json and Decimal
(message count, decimals, the final top and depth of the book), never taken from the engine; the
fault cases edit the capture's real messages (a skipped `u`, a `seq` going back, a snapshot
mid-stream).
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from decimal import Decimal

ENGINE = CAPTURES = None
BYBIT = "bybit/btcusdt_orderbook50_20241108.capture"


def replay(*args):
    p = subprocess.run([ENGINE, "replay", *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"replay failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


def frames(path):
    with open(path) as f:
        return [line for line in f if line.strip() and not line.startswith("#")]


def book_of(lines):
    """The book after these frames (a snapshot resets it), and the decimals seen."""
    book, dec = {"b": {}, "a": {}}, [0, 0]
    for line in lines:
        m = json.loads(line.split(" ", 1)[1])
        if m["type"] == "snapshot":
            book = {"b": {}, "a": {}}
        for side in ("b", "a"):
            for px, sz in m["data"][side]:
                dec[0] = max(dec[0], len(px.partition(".")[2].rstrip("0")))
                dec[1] = max(dec[1], len(sz.partition(".")[2].rstrip("0")))
                if Decimal(sz) == 0:
                    book[side].pop(Decimal(px), None)
                else:
                    book[side][Decimal(px)] = Decimal(sz)
    return book, dec


class BybitReplayTest(unittest.TestCase):
    def path(self):
        p = os.path.join(CAPTURES, BYBIT)
        if not os.path.exists(p):
            self.fail(f"no capture at {p}: ../shared/captures must sit beside the repository")
        return p

    def edited(self, tmp, edit):
        with open(self.path()) as f:
            lines = f.read().splitlines(keepends=True)
        out = os.path.join(tmp, "bybit_edited.capture")
        with open(out, "w") as f:
            f.writelines(edit(lines))
        return out

    def instrument(self, s):
        self.assertEqual(s["parse_errors"], 0)
        self.assertEqual(len(s["instruments"]), 1)
        return s["instruments"][0]

    def check(self, s, venue):
        lines = frames(self.path())
        book, dec = book_of(lines)
        self.assertEqual(s["venue"], venue)
        self.assertEqual(s["messages"], len(lines))
        i = self.instrument(s)
        self.assertEqual((i["venue"], i["symbol"], i["health"]), (venue, "BTCUSDT", "live"))
        self.assertEqual((i["sequence_gaps"], i["gaps"], i["crossed"]), (0, 0, 0))
        self.assertNotIn("checksums_verified", i)  # Bybit sends no checksum
        self.assertEqual(Decimal(i["best_bid"]), max(book["b"]))
        self.assertEqual(Decimal(i["best_ask"]), min(book["a"]))
        self.assertEqual(Decimal(i["best_bid_qty"]), book["b"][max(book["b"])])
        self.assertEqual((i["bid_levels"], i["ask_levels"]), (min(len(book["b"]), 50), min(len(book["a"]), 50)))
        self.assertEqual(len(i["best_bid"].partition(".")[2]), dec[0])  # printed at the inferred decimals
        print(f"bybit replay ({venue}): {len(lines)} messages, 0 errors, 0 sequence gaps", file=sys.stderr)

    def test_should_replay_the_capture_as_bybit_spot_and_detect_it(self):
        self.check(replay("--venue", "bybit-spot", "--input", self.path()), "bybit-spot")
        self.check(replay("--input", self.path()), "bybit-spot")  # from the `# ws` line

    def test_should_replay_the_capture_as_bybit_linear(self):
        self.check(replay("--venue", "bybit-linear", "--input", self.path()), "bybit-linear")

    def test_should_count_a_skipped_u_as_a_gap_and_leave_the_book_not_live(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = self.edited(tmp, lambda ls: [l.replace('"u":2876701', '"u":2876702') for l in ls])
            i = self.instrument(replay("--venue", "bybit-spot", "--input", bad))
        self.assertEqual((i["sequence_gaps"], i["gaps"]), (1, 1))
        self.assertNotEqual(i["health"], "live")  # no fresh snapshot follows in the file

    def test_should_count_a_seq_going_back_as_a_gap(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = self.edited(tmp, lambda ls: [l.replace('"seq":47474967823', '"seq":47474967700') for l in ls])
            i = self.instrument(replay("--venue", "bybit-spot", "--input", bad))
        self.assertEqual(i["sequence_gaps"], 1)

    def test_should_take_a_snapshot_mid_stream_as_the_new_book(self):
        def edit(ls):
            body = [l for l in ls if not l.startswith("#")]
            snap, delta = body
            # The delta, then the snapshot again (a reset), then the delta again: it chains on it.
            return [l for l in ls if l.startswith("#")] + [snap, delta, snap, delta]
        with tempfile.TemporaryDirectory() as tmp:
            path = self.edited(tmp, edit)
            i = self.instrument(replay("--venue", "bybit-spot", "--input", path))
        self.assertEqual((i["sequence_gaps"], i["gaps"], i["health"]), (0, 0, "live"))
        book, _ = book_of(frames(self.path()))
        self.assertEqual(Decimal(i["best_bid"]), max(book["b"]))


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
