#!/usr/bin/env python3
"""A real capture through the whole stack over TLS: qf-venue replays the BTCUSDT capture
(--tls, self-signed certificate, verified by the engine through ca_file) at --speed max into
qf-engine, and qf-gateway serves the result. When the venue has sent the last frame, the book the
gateway serves must equal the final book `qf-engine replay` computes from the same file:
the same last update id, best bid/ask and their quantities (from the replay's tap) and the
same best prices in the replay's summary.

Usage: replay_tls_test.py --build-dir BUILD --capture FILE --work DIR
"""
import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, fresh_dir, http_json, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ARGS = None
SYMBOL = "BTCUSDT"
poll = functools.partial(qf_testkit.poll, timeout=60.0, interval=0.1, retry=qf_testkit.NOT_UP)


class ReplayOverTls(unittest.TestCase):
    def setUp(self):
        self.instance = f"e2erep{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)

    def expected(self, config):
        """Final book of `qf-engine replay` on the same file: the summary and the last tap line."""
        tap = os.path.join(self.work, "tap.jsonl")
        r = subprocess.run([os.path.join(self.bin, "qf-engine"), "replay", "--input", ARGS.capture,
                            "--config", config, "--tap", tap], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout)
        book = [i for i in summary["instruments"] if i["symbol"] == SYMBOL]
        self.assertEqual(len(book), 1, summary)
        last = None
        with open(tap) as f:
            for line in f:
                t = json.loads(line)
                if t["symbol"] == SYMBOL and t["kind"] in ("depth", "snapshot"):
                    last = t
        self.assertIsNotNone(last, "the tap has book lines")
        self.assertEqual((last["bid"], last["ask"]), (book[0]["best_bid"], book[0]["best_ask"]))
        return book[0], last

    def test_the_gateway_serves_the_final_book_of_the_replay(self):
        venue = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "binance", "--tls",
                            "--cert-dir", self.work, "--replay", ARGS.capture, "--speed", "max")
        config = write_config(
            os.path.join(self.work, "replay.toml"), engine=sim_engine(self.instance),
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                     "ca_file": venue.ca_file, "depth_stream": "depth@100ms"}],
            instruments=[{"venue": "binance-spot", "symbol": SYMBOL, "price_decimals": 2, "qty_decimals": 8}])
        summary_book, last_tap = self.expected(config)

        engine = self.procs.start([os.path.join(self.bin, "qf-engine"), "--config", config], name="engine", read=None)
        gateway, port = start_gateway(self.procs, os.path.join(self.bin, "qf-gateway"), config)
        base = f"http://127.0.0.1:{port}"
        poll(lambda: http_json(base + "/api/health")[0] == 200, "the engine to run")

        stats = poll(lambda: (lambda s: s if s["replay_done"] else None)(venue.stats()),
                     "the venue to finish the replay", timeout=240)
        self.assertGreater(stats["replay_sent"], 0)
        self.assertIsNone(engine.poll(), "the engine still runs")

        book_url = f"{base}/api/book/binance-spot/{SYMBOL}?depth=10"
        want_id = int(last_tap["u"])
        # The last frames may still be in flight in the engine when the venue reports done.
        book = poll(lambda: (lambda b: b if b["update_id"] >= want_id else None)(http_json(book_url)[1]),
                    f"the served book to reach update id {want_id}", timeout=60)
        self.assertEqual(book["update_id"], want_id)
        self.assertEqual(book["health"], "live")
        self.assertTrue(book["bids"] and book["asks"], book)
        got = {"bid": Decimal(book["bids"][0][0]), "bid_qty": Decimal(book["bids"][0][1]),
               "ask": Decimal(book["asks"][0][0]), "ask_qty": Decimal(book["asks"][0][1])}
        want = {k: Decimal(last_tap[k]) for k in got}
        self.assertEqual(got, want)
        self.assertEqual((got["bid"], got["ask"]),
                         (Decimal(summary_book["best_bid"]), Decimal(summary_book["best_ask"])))
        self.assertEqual(len(book["bids"]), min(10, summary_book["bid_levels"]))
        self.assertEqual(len(book["asks"]), min(10, summary_book["ask_levels"]))
        _, feeds = http_json(base + "/api/feeds")
        print(f"replay_tls_test: update_id {want_id} bid {got['bid']} x {got['bid_qty']} ask {got['ask']} x "
              f"{got['ask_qty']}; feeds {json.dumps(feeds.get('feeds'))}", file=sys.stderr)

        for p in (gateway, engine):  # a clean stop, both exit 0
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--build-dir", "--capture", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
