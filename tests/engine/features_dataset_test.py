#!/usr/bin/env python3
"""qf-engine features on the BTCUSDT capture: no row can see its own future.

Usage: features_dataset_test.py QF_ENGINE CAPTURES_DIR
The capture is rewritten after a cut time T (cut off, or its later trade prices and depth
quantities changed) and replayed again: every row at or before T keeps its features, every row
whose label window (t, label_end] closes before the data ends keeps its labels too, while rows
after T (features) and rows whose window spans T (labels) do change, so the check can fail.
"""
import csv
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

ENGINE = CAPTURES = None
BTC = "binance-spot/btcusdt_20240808.capture.gz"
LABELS = ["label_end_ns", "fwd_ret_1_bps", "fwd_ret_h_bps", "tb_label", "tb_ret_bps", "tb_t_ns"]


def features(out, *inputs):
    p = subprocess.run([ENGINE, "features", "--input", *inputs, "--out", out], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"features failed ({p.returncode}): {p.stderr}")
    with open(out) as f:
        return json.loads(p.stdout), list(csv.DictReader(f))


def shift_price(m):
    return f'"p":"{float(m.group(1)) + 50.0:.8f}"'


def triple_qty(m):
    return f'["{m.group(1)}","{float(m.group(2)) * 3.0:.8f}"]'


class FeaturesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        src = os.path.join(CAPTURES, BTC)
        if not os.path.exists(src):
            raise AssertionError(f"no capture at {src}: ../shared/captures must sit beside the repository")
        cls.tmp = tempfile.TemporaryDirectory()
        with gzip.open(src, "rt") as f:
            cls.lines = f.read().splitlines(keepends=True)
        cls.summary, cls.rows = features(os.path.join(cls.tmp.name, "all.csv"), src)
        times = [int(l.split(" ", 1)[0]) for l in cls.lines if l[:1].isdigit()]
        cls.cut = times[int(len(times) * 0.6)]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def rewrite(self, name, change):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            for line in self.lines:
                late = line[:1].isdigit() and int(line.split(" ", 1)[0]) > self.cut
                if not late:
                    f.write(line)
                elif change is not None:
                    f.write(change(line))
        return path

    def feature_columns(self, row):
        return {k: v for k, v in row.items() if k not in LABELS}

    def test_should_write_rows_of_both_bar_intervals_with_labels(self):
        s, rows = self.summary, self.rows
        self.assertGreater(s["rows_1s"], 300)  # about 6 minutes of trades
        self.assertGreater(s["rows_1m"], 3)
        self.assertEqual(len(rows), s["rows_1s"] + s["rows_1m"])
        self.assertEqual({r["bar"] for r in rows}, {"1s", "1m"})
        self.assertEqual({r["symbol"] for r in rows}, {"BTCUSDT"})
        labelled = [r for r in rows if r["tb_label"] != ""]
        self.assertEqual(len(labelled), s["labelled"])
        self.assertEqual({r["tb_label"] for r in labelled} - {"-1", "0", "1"}, set())
        self.assertGreater(len({r["tb_label"] for r in labelled}), 1)
        for r in labelled:
            self.assertEqual(int(r["label_end_ns"]) - int(r["t_ns"]),
                             10 * (60 if r["bar"] == "1m" else 1) * 1_000_000_000)
            self.assertGreater(int(r["tb_t_ns"]), int(r["t_ns"]))
            self.assertLessEqual(int(r["tb_t_ns"]), int(r["label_end_ns"]))
        # Rows are the live state: the book was live at most bar closes.
        self.assertGreater(sum(r["health"] == "live" for r in rows), len(rows) * 0.9)

    def check_future_blind(self, rows, changed_labels_expected):
        base = {(r["bar"], r["t_ns"]): r for r in self.rows}
        mine = {(r["bar"], r["t_ns"]): r for r in rows}
        last_t = max(int(r["t_ns"]) for r in rows)
        early = [k for k in base if int(k[1]) <= self.cut]
        self.assertGreater(len(early), 150)
        for k in early:
            self.assertIn(k, mine)
            self.assertEqual(self.feature_columns(mine[k]), self.feature_columns(base[k]), k)
        closed = [k for k in early if base[k]["tb_label"] != "" and int(base[k]["label_end_ns"]) <= self.cut]
        self.assertGreater(len(closed), 100)
        for k in closed:
            self.assertEqual({c: mine[k][c] for c in LABELS}, {c: base[k][c] for c in LABELS}, k)
        spanning = [k for k in early if int(base[k]["label_end_ns"]) > self.cut]
        self.assertGreater(len(spanning), 5)
        if changed_labels_expected:
            self.assertTrue(any(mine[k]["fwd_ret_h_bps"] != base[k]["fwd_ret_h_bps"] for k in spanning))
        return last_t

    def test_cutting_off_the_future_should_change_no_earlier_feature_and_no_closed_label(self):
        _, rows = features(os.path.join(self.tmp.name, "cut.csv"), self.rewrite("cut.capture", None))
        self.check_future_blind(rows, changed_labels_expected=True)
        self.assertLess(len(rows), len(self.rows))

    def test_changing_the_future_should_change_no_earlier_feature_and_no_closed_label(self):
        def change(line):
            line = re.sub(r'"p":"([0-9.]+)"', shift_price, line)
            if "depthUpdate" in line:
                line = re.sub(r'\["([0-9.]+)","([0-9.]+)"\]', triple_qty, line)
            return line

        _, rows = features(os.path.join(self.tmp.name, "changed.csv"), self.rewrite("changed.capture", change))
        self.check_future_blind(rows, changed_labels_expected=False)
        base = {(r["bar"], r["t_ns"]): r for r in self.rows}
        late = [r for r in rows if int(r["t_ns"]) > self.cut and (r["bar"], r["t_ns"]) in base]
        self.assertGreater(len(late), 50)
        # The change is real: later rows see it.
        self.assertTrue(any(r["close"] != base[(r["bar"], r["t_ns"])]["close"] for r in late))
        self.assertTrue(any(r["imbalance"] != base[(r["bar"], r["t_ns"])]["imbalance"] for r in late))

    def test_each_input_should_be_its_own_session(self):
        src = os.path.join(CAPTURES, BTC)
        s, rows = features(os.path.join(self.tmp.name, "two.csv"), src, src)
        self.assertEqual(len(rows), 2 * len(self.rows))
        self.assertEqual([r["session"] for r in rows], ["0"] * len(self.rows) + ["1"] * len(self.rows))
        strip = lambda r: {k: v for k, v in r.items() if k != "session"}  # noqa: E731
        self.assertEqual([strip(r) for r in rows[len(self.rows):]], [strip(r) for r in self.rows])

    def test_should_refuse_bad_arguments_with_a_message(self):
        p = subprocess.run([ENGINE, "features", "--out", "/tmp/x.csv"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--input", p.stderr)
        p = subprocess.run([ENGINE, "features", "--input", "/nonexistent.capture", "--out",
                            os.path.join(self.tmp.name, "n.csv")], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent.capture", p.stderr)


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1])
