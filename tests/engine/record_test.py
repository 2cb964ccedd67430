#!/usr/bin/env python3
"""The engine's recorder (a venue's record_dir): qf-engine live against qf-venue records the raw
frames, connection opens and REST snapshots it receives into capture files, and `qf-engine replay`
of what it recorded parses every message and syncs every book (Binance; Coinbase Advanced Trade,
detected and its decimals inferred, as no capture of it exists).

Usage: record_test.py QF_ENGINE QF_VENUE QF_MONITOR
"""
import glob
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import case_procs, monitor_json, poll, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = None


class Recording(unittest.TestCase):
    def test_what_the_engine_records_replays_with_live_books(self):
        symbols = ["BTCUSDT", "ETHUSDT"]
        instance = f"rectest{os.getpid()}"
        procs = case_procs(self, instance=instance)
        tmp = procs.work
        venue = start_venue(procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", ",".join(symbols),
                            "--rate", "300")
        record_dir = os.path.join(tmp, "rec")
        config = write_config(os.path.join(tmp, "rec.toml"), engine=sim_engine(instance),
                              venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                                       "record_dir": record_dir}],
                              instruments=[{"venue": "binance-spot", "symbol": s} for s in symbols])
        engine = procs.start([ENGINE, "--config", config], name="engine", read=None)
        poll(lambda: (lambda s: s["status"] == "running" and s.get("messages_in", 0) > 500 and
                      all(i["health"] == "live" for i in s["instruments"]))(monitor_json(MONITOR, instance)),
             "live books and 500 messages")
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=30), 0)
        received = monitor_json(MONITOR, instance)["feeds"][0]["messages"]
        files = glob.glob(os.path.join(record_dir, "binance-spot-*.capture.gz"))
        self.assertEqual(len(files), 1, files)
        out = subprocess.run([ENGINE, "replay", "--input", files[0], "--venue", "binance-spot"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        summary = json.loads(out.stdout)
        self.assertEqual(summary["parse_errors"], 0)
        # Every websocket frame the feed counted, plus one REST snapshot per symbol.
        self.assertEqual(summary["messages"], received + len(symbols))
        self.assertEqual(sorted(i["symbol"] for i in summary["instruments"]), symbols)
        for i in summary["instruments"]:
            self.assertEqual(i["health"], "live", i)
            self.assertEqual(i["gaps"], 0, i)
            self.assertLess(float(i["best_bid"]), float(i["best_ask"]), i)

    def test_a_coinbase_advanced_recording_replays_detected_with_inferred_decimals(self):
        # No capture of Coinbase Advanced Trade exists: the engine records one from qf-venue and
        # `replay` without --venue or config detects the venue (sequence_num frames) and infers
        # the decimals (BTC at 0.1, ETH at 0.01 in the synthetic market).
        products = ["BTC-USD", "ETH-USD"]
        instance = f"recadv{os.getpid()}"
        procs = case_procs(self, instance=instance)
        venue = start_venue(procs, VENUE, "--venue", "coinbase-advanced", "--synthetic", "--symbols",
                            ",".join(products), "--rate", "300")
        record_dir = os.path.join(procs.work, "rec")
        config = write_config(os.path.join(procs.work, "rec.toml"), engine=sim_engine(instance),
                              venues=[{"venue": "coinbase-advanced", "ws_url": venue.ws_url,
                                       "rest_url": venue.http_url, "record_dir": record_dir}],
                              instruments=[{"venue": "coinbase-advanced", "symbol": "BTC-USD", "price_decimals": 1},
                                           {"venue": "coinbase-advanced", "symbol": "ETH-USD", "price_decimals": 2}])
        engine = procs.start([ENGINE, "--config", config], name="engine", read=None)
        poll(lambda: (lambda s: s["status"] == "running" and s.get("messages_in", 0) > 500 and
                      all(i["health"] == "live" for i in s["instruments"]))(monitor_json(MONITOR, instance)),
             "live books and 500 messages")
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=30), 0)
        snap = monitor_json(MONITOR, instance)
        self.assertEqual(snap["feeds"][0]["gaps"], 0)
        files = glob.glob(os.path.join(record_dir, "coinbase-advanced-*.capture.gz"))
        self.assertEqual(len(files), 1, files)
        out = subprocess.run([ENGINE, "replay", "--input", files[0]], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        summary = json.loads(out.stdout)
        self.assertEqual(summary["parse_errors"], 0)
        self.assertEqual(summary["messages"], snap["feeds"][0]["messages"])
        self.assertEqual(sorted(i["symbol"] for i in summary["instruments"]), products)
        for i in summary["instruments"]:
            self.assertEqual(i["venue"], "coinbase-advanced", i)
            self.assertEqual(i["health"], "live", i)
            self.assertEqual((i["gaps"], i["sequence_gaps"]), (0, 0), i)
            self.assertLess(float(i["best_bid"]), float(i["best_ask"]), i)
        btc = next(i for i in summary["instruments"] if i["symbol"] == "BTC-USD")
        self.assertEqual(len(btc["best_bid"].split(".")[1]), 1, "BTC's decimals inferred from the data: 1")
        # With only BTC-USD configured, ETH-USD's messages are not ours but still numbered on the
        # connection's sequence_num chain: skipping them must not read as gaps.
        only_btc = write_config(os.path.join(procs.work, "btc.toml"),
                                instruments=[{"venue": "coinbase-advanced", "symbol": "BTC-USD", "price_decimals": 1,
                                              "qty_decimals": 8}])
        out = subprocess.run([ENGINE, "replay", "--venue", "coinbase-advanced", "--input", files[0], "--config",
                              only_btc], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        (btc,) = json.loads(out.stdout)["instruments"]
        self.assertEqual((btc["symbol"], btc["health"], btc["gaps"], btc["sequence_gaps"]), ("BTC-USD", "live", 0, 0),
                         btc)


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
