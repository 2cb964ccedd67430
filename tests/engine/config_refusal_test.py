#!/usr/bin/env python3
"""Start-up refusals of qf-engine and qf-gateway (issue 17, point 6): errors that only a parser or a
check after the loader used to find now come from the loader, as FILE:LINE:COL: key: problem, and a
refused engine leaves no segment behind.

Usage: config_refusal_test.py QF_ENGINE QF_GATEWAY
- a case-variant duplicate symbol (BTCUSDT and btcusdt on binance-spot, one instrument for
  Binance's parser): exit status 1, the message names the file, the line and column of the second
  symbol and the key instruments[1].symbol, from both qf-engine and qf-gateway; no
  /dev/shm/qf.<instance>.* exists afterwards;
- an empty config file and a missing one: exit status 1, the message starts with the file's name;
- a risk state file that is garbage (found after the loader, by the engine): exit status 1, the
  file named, and no segment left (the risk state is read before the segments are created).
To see it fail: drop the case folding of the duplicate check in config/src/config.cpp (the engine
then fails in binance::Parser with no file or line, after creating its segments), or move the
segment creation in core/app/live.cpp back above the risk state load.
"""
import glob
import os
import re
import subprocess
import tempfile
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import remove_segments, sim_engine, write_config  # noqa: E402

ENGINE = GATEWAY = None


class ConfigRefusal(unittest.TestCase):
    def setUp(self):
        self.instance = f"cfgref{os.getpid()}"
        self.addCleanup(remove_segments, self.instance)
        self.work = self.enterContext(tempfile.TemporaryDirectory())

    def run_engine(self, config):
        return subprocess.run([ENGINE, "--config", config], capture_output=True, text=True, timeout=60)

    def segments(self):
        return glob.glob(f"/dev/shm/qf.{self.instance}.*")

    def config(self, instruments, **extra):
        return write_config(
            os.path.join(self.work, "engine.toml"), engine=sim_engine(self.instance),
            venues=[{"venue": "binance-spot", "ws_url": "ws://127.0.0.1:1", "rest_url": "http://127.0.0.1:1"}],
            instruments=instruments, **extra)

    def test_case_variant_duplicate_symbol_is_refused_with_its_line_and_no_segment(self):
        path = self.config([{"venue": "binance-spot", "symbol": s, "price_decimals": 2, "qty_decimals": 8}
                            for s in ("BTCUSDT", "btcusdt")])
        with open(path) as f:
            line = next(n for n, text in enumerate(f, 1) if text == 'symbol = "btcusdt"\n')
        expected = re.compile(re.escape(path) + f":{line}:10: instruments\\[1\\]\\.symbol: duplicate instrument "
                              "binance-spot:btcusdt")
        r = self.run_engine(path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, expected)
        self.assertEqual(self.segments(), [], r.stderr)
        g = subprocess.run([GATEWAY, "--config", path, "--port", "0"], capture_output=True, text=True, timeout=60,
                           cwd=self.work)
        self.assertEqual(g.returncode, 1, g.stdout + g.stderr)
        self.assertRegex(g.stderr, expected)

    def test_empty_and_missing_config_files_are_named(self):
        empty = os.path.join(self.work, "empty.toml")
        open(empty, "w").close()
        missing = os.path.join(self.work, "missing.toml")
        for path in (empty, missing):
            r = self.run_engine(path)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertTrue(r.stderr.startswith(f"qf-engine: {path}:"), r.stderr)
        self.assertIn("cannot read the config file", self.run_engine(missing).stderr)
        self.assertIn("no instrument", self.run_engine(empty).stderr)

    def test_a_refused_risk_state_file_leaves_no_segment(self):
        state = os.path.join(self.work, "risk.state")
        with open(state, "wb") as f:
            f.write(b"not a risk state" * 64)
        path = self.config([{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}],
                           risk={"state_file": state})
        r = self.run_engine(path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{state}: not a risk state", r.stderr)
        self.assertEqual(self.segments(), [], r.stderr)


if __name__ == "__main__":
    ENGINE, GATEWAY = sys.argv[1:3]
    unittest.main(argv=[sys.argv[0], "-v"])
