#!/usr/bin/env python3
"""The engine's recorder (a venue's record_dir): qf-engine live against qf-venue records the raw
frames, connection opens and REST snapshots it receives into capture files, and `qf-engine replay`
of what it recorded parses every message and syncs every book.

Usage: record_test.py QF_ENGINE QF_VENUE QF_MONITOR
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

import live_test
from live_test import monitor_json, poll, start_venue


class Recording(unittest.TestCase):
    def test_what_the_engine_records_replays_with_live_books(self):
        symbols = ["BTCUSDT", "ETHUSDT"]
        with tempfile.TemporaryDirectory() as tmp:
            instance = f"rectest{os.getpid()}"
            venue, ws, rest = start_venue("--synthetic", "--symbols", ",".join(symbols), "--rate", "300")
            record_dir = os.path.join(tmp, "rec")
            config = os.path.join(tmp, "rec.toml")
            with open(config, "w") as f:
                f.write(f'[engine]\ninstance = "{instance}"\nmode = "sim"\nidle = "backoff"\nlock_memory = false\n\n'
                        f'[[venues]]\nvenue = "binance-spot"\nws_url = "{ws}"\nrest_url = "{rest}"\n'
                        f'record_dir = "{record_dir}"\n\n')
                for s in symbols:
                    f.write(f'[[instruments]]\nvenue = "binance-spot"\nsymbol = "{s}"\n\n')
            engine = subprocess.Popen([live_test.ENGINE, "--config", config], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                poll(lambda: (lambda s: s["status"] == "running" and s.get("messages_in", 0) > 500 and
                              all(i["health"] == "live" for i in s["instruments"]))(monitor_json(instance)),
                     "live books and 500 messages")
                engine.send_signal(signal.SIGTERM)
                self.assertEqual(engine.wait(timeout=30), 0)
                received = monitor_json(instance)["feeds"][0]["messages"]
            finally:
                if engine.poll() is None:
                    engine.kill()
                venue.terminate()
                venue.wait(timeout=10)
                for name in ("state", "control"):
                    if os.path.exists(f"/dev/shm/qf.{instance}.{name}"):
                        os.unlink(f"/dev/shm/qf.{instance}.{name}")
            files = glob.glob(os.path.join(record_dir, "binance-spot-*.capture.gz"))
            self.assertEqual(len(files), 1, files)
            out = subprocess.run([live_test.ENGINE, "replay", "--input", files[0], "--venue", "binance-spot"],
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


if __name__ == "__main__":
    live_test.ENGINE, live_test.VENUE, live_test.MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
