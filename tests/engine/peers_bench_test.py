#!/usr/bin/env python3
"""The peers harness (bench/peers/peers_bench.py): qf-engine replay and the peers (ccxt, tardis-dev
through their own Binance handlers) on the unzipped BTCUSDT capture end on one top of book, and the
harness fails when a peer's book differs (the peers fed a truncated capture).

Usage: peers_bench_test.py QF_ENGINE CAPTURES_DIR
The expected book is the issue's (61685.99 x 1.0087 / 61686.00 x 2.29327, checked by hand against
the capture), never the engine's.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest
from decimal import Decimal

ENGINE = CAPTURES = None
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS = os.path.join(ROOT, "bench", "peers", "peers_bench.py")
BOOK = [Decimal("61685.99"), Decimal("1.0087"), Decimal("61686.00"), Decimal("2.29327")]


class PeersBenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        modules = os.path.join(ROOT, "bench", "peers", "node_modules")
        for peer in ("ccxt", "tardis-dev"):
            if not os.path.isdir(os.path.join(modules, peer)):
                raise AssertionError(f"{peer} is not installed in {modules}: run scripts/bootstrap.sh")
        cls.dir = tempfile.TemporaryDirectory()
        cls.capture = os.path.join(cls.dir.name, "btcusdt.capture")
        with gzip.open(os.path.join(CAPTURES, "binance-spot/btcusdt_20240808.capture.gz"), "rt") as src:
            lines = src.readlines()
        with open(cls.capture, "w") as f:
            f.writelines(lines)
        cls.truncated = os.path.join(cls.dir.name, "truncated.capture")
        with open(cls.truncated, "w") as f:
            f.writelines(lines[:20000])  # well after the snapshot: a live book, another top

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def harness(self, *extra):
        out = os.path.join(self.dir.name, "peers.json")
        if os.path.exists(out):
            os.remove(out)
        p = subprocess.run([sys.executable, HARNESS, ENGINE, self.capture, "--reps", "1", "--loops", "1",
                            "--peer-loops", "1", "--json", out, *extra],
                           capture_output=True, text=True, timeout=600)
        with open(out) as f:
            return p, json.load(f)

    def test_should_end_every_peer_on_our_top_of_book(self):
        p, results = self.harness()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(set(results), {"qf-engine", "ccxt", "tardis"})
        for name, r in results.items():
            self.assertEqual([Decimal(v) for v in r["top"]], BOOK, name)
            self.assertGreater(r["messages_per_s"], 0, name)
            self.assertGreater(r["peak_mib"], 0, name)
        self.assertEqual(results["ccxt"]["version"], "4.5.84")
        self.assertEqual(results["tardis"]["version"], "13.35.3")
        self.assertIn("every peer ends on qf-engine's top of book", p.stdout)

    def test_should_fail_when_a_peers_book_differs(self):
        p, results = self.harness("--peer-capture", self.truncated)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAILED", p.stderr)
        self.assertIn("DIFFERS", p.stdout)
        self.assertEqual([Decimal(v) for v in results["qf-engine"]["top"]], BOOK)
        for name in ("ccxt", "tardis"):
            self.assertNotEqual([Decimal(v) for v in results[name]["top"]], BOOK, name)


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
