#!/usr/bin/env python3
"""qf-engine replay --venue kraken on the real Kraken WS v2 BTC/USD book capture.

Usage: kraken_replay_test.py QF_ENGINE CAPTURES_DIR
Expected figures come from captures/README.md (every one of the 510 checksums verifies), and the
number of checksummed messages is counted here from the file's text, not taken from the engine.
"""
import json
import os
import subprocess
import sys
import unittest

ENGINE = CAPTURES = None
KRAKEN = "kraken/btcusd_book10_v2_20230730.capture"


def replay(*args):
    p = subprocess.run([ENGINE, "replay", *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"replay failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


class KrakenReplayTest(unittest.TestCase):
    def path(self):
        p = os.path.join(CAPTURES, KRAKEN)
        if not os.path.exists(p):
            self.fail(f"no capture at {p}: ../shared/captures must sit beside the repository")
        return p

    def checksummed(self):
        with open(self.path()) as f:
            return sum(1 for line in f if not line.startswith("#") and '"checksum"' in line)

    def check(self, s):
        self.assertEqual(s["messages"], 510)
        self.assertEqual(s["parse_errors"], 0)
        (btc,) = s["instruments"]
        self.assertEqual((btc["venue"], btc["symbol"]), ("kraken", "BTC/USD"))
        self.assertEqual(btc["health"], "live")
        self.assertEqual(btc["checksums_verified"], self.checksummed())
        self.assertEqual(btc["checksums_verified"], 510)
        self.assertEqual(btc["checksum_mismatches"], 0)
        self.assertEqual(btc["gaps"], 0)
        self.assertEqual(btc["crossed"], 0)
        self.assertLess(float(btc["best_bid"]), float(btc["best_ask"]))
        # The core's book is the venue's top 10: truncated levels went out as deletes.
        self.assertEqual((btc["bid_levels"], btc["ask_levels"]), (10, 10))

    def test_should_verify_every_checksum_with_venue_kraken(self):
        self.check(replay("--venue", "kraken", "--input", self.path()))

    def test_should_detect_the_kraken_venue_from_the_capture(self):
        self.check(replay("--input", self.path()))


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
