#!/usr/bin/env python3
"""The composite book in a live two-venue run, seen on NATS: qf-engine against two qf-venue
synthetic markets (binance BTCUSDT, coinbase BTC-USD) with `[[composite]] asset = "BTC"` over both,
qf-bridge publishing to a real nats-server. The subject is qf.<instance>.composite.BTC; both venues
are included once their books are live; a stalled venue (qf-venue's stall fault, no frames for 3 s,
longer than the composite's stale_after_ms) is excluded as stale by the engine's housekeeping
alone, and included again once its frames resume. The merge itself is proved against a brute-force
reference in tests/core/composite_test.cpp.

Usage: bridge_composite_test.py --build-dir BUILD --work DIR
"""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
from qf_testkit import case_procs, fresh_dir, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402
from nats_client import Nats, start_nats_server  # noqa: E402

ARGS = None
MEMBERS = [("binance-spot", "BTCUSDT"), ("coinbase", "BTC-USD")]


class BridgeComposite(unittest.TestCase):
    def setUp(self):
        self.instance = f"brcmp{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)

    def next_composite(self, client, want, what, timeout=60):
        """Reads composite messages until one satisfies `want` (returns it) or the timeout passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            m = client.next_msg(timeout=1.0)
            if m is None or m == "PONG":
                continue
            self.assertEqual(m.subject, f"qf.{self.instance}.composite.BTC")
            last = m.json()
            self.check_shape(last)
            if want(last):
                return last
        self.fail(f"{what}: not seen within {timeout} s; last {last}")

    def check_shape(self, c):
        self.assertEqual(c["asset"], "BTC")
        self.assertEqual([(m["venue"], m["symbol"]) for m in c["members"]], MEMBERS)
        self.assertEqual(c["included"], sum(m["excluded"] is None for m in c["members"]))
        for side, better in (("bids", lambda a, b: a > b), ("asks", lambda a, b: a < b)):
            prices = [float(p) for p, _ in c[side]]
            self.assertTrue(all(better(a, b) for a, b in zip(prices, prices[1:])), f"{side} not best first: {c[side]}")
            self.assertLessEqual(len(prices), 10)
        for side, best in (("bids", "best_bid"), ("asks", "best_ask")):
            if c[side]:
                self.assertEqual([c[best]["price"], c[best]["qty"]], c[side][0])
                self.assertIn((c[best]["venue"], c[best]["symbol"]), MEMBERS)
            else:
                self.assertIsNone(c[best])

    def test_a_stalled_venue_is_excluded_from_the_composite_and_comes_back(self):
        nats, port = start_nats_server(self.procs, os.path.join(self.work, "nats"))
        bn = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "binance", "--synthetic",
                         "--symbols", "BTCUSDT", "--rate", "200", "--seed", "3")
        cb = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "coinbase", "--synthetic",
                         "--symbols", "BTC-USD", "--rate", "200", "--seed", "4")
        config = write_config(
            os.path.join(self.work, "live.toml"), engine=sim_engine(self.instance),
            venues=[{"venue": "binance-spot", "ws_url": bn.ws_url, "rest_url": bn.http_url},
                    {"venue": "coinbase", "ws_url": cb.ws_url, "rest_url": cb.http_url,
                     "depth_stream": "level2_batch"}],
            instruments=[{"venue": v, "symbol": s, "price_decimals": 2, "qty_decimals": 8} for v, s in MEMBERS],
            composite=[{"asset": "BTC", "members": [f"{v}:{s}" for v, s in MEMBERS], "stale_after_ms": 1000}],
            bridge={"enabled": True, "nats_url": f"nats://127.0.0.1:{port}", "conflate_hz": 20})
        client = Nats(port)
        client.subscribe(f"qf.{self.instance}.composite.>")
        client.sync()
        self.procs.start([os.path.join(self.bin, "qf-engine"), "--config", config], name="engine", read=None)
        bridge = self.procs.start([os.path.join(self.bin, "qf-bridge"), "--config", config], name="bridge",
                                  read="stderr")
        bridge.wait_line(r"JetStream streams ready", "the bridge's streams", timeout=60)

        both = self.next_composite(client, lambda c: c["included"] == 2 and c["bids"] and c["asks"],
                                   "both venues in the composite")
        self.assertEqual([m["health"] for m in both["members"]], ["live", "live"])

        cb.fault("kind=stall&seconds=3")
        stalled = self.next_composite(client, lambda c: c["members"][1]["excluded"] == "stale",
                                      "coinbase excluded as stale")
        self.assertIsNone(stalled["members"][0]["excluded"])
        self.assertEqual(stalled["included"], 1)
        self.assertEqual(stalled["members"][1]["health"], "live")  # its book is live, only quiet
        self.assertTrue(all(m["venue"] == "binance-spot" for m in (stalled["best_bid"], stalled["best_ask"]) if m))

        back = self.next_composite(client, lambda c: c["included"] == 2, "coinbase back in the composite")
        self.assertGreater(back["updates"], stalled["updates"])
        client.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--work", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
