#!/usr/bin/env python3
"""A 50-instrument reconnect storm stays within the REST snapshot budget.

Usage: storm_test.py QF_ENGINE QF_VENUE QF_MONITOR
qf-engine with 50 Binance instruments against qf-venue: every book needs a depth snapshot at start,
and again after the venue drops every connection at once. The venue records the time of every
snapshot request; whatever the storm, the requests per second never exceed what the configured
budget allows (a bucket of ten seconds' weight, refilled at weight_per_minute / 60 per second),
and every book still comes back live.
"""
import os
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import live_test
from live_test import monitor_json, poll, start_venue, venue_stats

SYMBOLS = [f"S{i:02d}USDT" for i in range(50)]
WEIGHT_PER_MINUTE = 600  # 10 weight/s
SNAPSHOT_LIMIT = 100     # Binance weight 5: 2 snapshots/s, a bucket of 100 weight = 20 at once


def allowed(seconds):
    # Most requests any window of `seconds` can hold: the full bucket plus the refill (+1 for
    # a request at each edge of the window).
    return 20 + 2 * seconds + 1


class Storm(unittest.TestCase):
    def test_a_mass_reconnect_stays_within_the_snapshot_budget(self):
        with tempfile.TemporaryDirectory() as tmp:
            instance = f"storm{os.getpid()}"
            venue, ws, rest = start_venue("--synthetic", "--symbols", ",".join(SYMBOLS), "--rate", "500")
            config = os.path.join(tmp, "storm.toml")
            with open(config, "w") as f:
                f.write(f'[engine]\ninstance = "{instance}"\nmode = "sim"\nidle = "backoff"\nlock_memory = false\n\n'
                        f'[rest_budget]\nweight_per_minute = {WEIGHT_PER_MINUTE}\nmax_in_flight = 4\n\n'
                        f'[[venues]]\nvenue = "binance-spot"\nws_url = "{ws}"\nrest_url = "{rest}"\n'
                        f'snapshot_limit = {SNAPSHOT_LIMIT}\nstreams_per_connection = 30\n'
                        'reconnect_min_ms = 10\nreconnect_max_ms = 100\n\n')
                for s in SYMBOLS:
                    f.write(f'[[instruments]]\nvenue = "binance-spot"\nsymbol = "{s}"\n\n')
            engine = subprocess.Popen([live_test.ENGINE, "--config", config], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                all_live = lambda: (lambda s: s["status"] == "running" and len(s["instruments"]) == 50 and
                                    all(i["health"] == "live" for i in s["instruments"]))(monitor_json(instance))
                poll(all_live, "50 books live", timeout=120)
                before = len(venue_stats(rest)["snapshot_request_ns"])
                self.assertEqual(before, 50)
                req = urllib.request.Request(rest + "/venue/fault?kind=drop", method="POST")
                with urllib.request.urlopen(req, timeout=5):
                    pass
                poll(lambda: len(venue_stats(rest)["snapshot_request_ns"]) >= 100 and all_live(),
                     "50 books live again after the drop", timeout=120)
                self.assertGreater(monitor_json(instance)["feeds"][0]["reconnects"], 0)
                times = sorted(venue_stats(rest)["snapshot_request_ns"])
                engine.send_signal(signal.SIGTERM)
                self.assertEqual(engine.wait(timeout=30), 0)
            finally:
                if engine.poll() is None:
                    engine.kill()
                venue.terminate()
                venue.wait(timeout=10)
                for name in ("state", "control"):
                    if os.path.exists(f"/dev/shm/qf.{instance}.{name}"):
                        os.unlink(f"/dev/shm/qf.{instance}.{name}")
            # Every window of 1, 5 and 10 s holds no more requests than the budget allows.
            worst = {}
            for w in (1, 5, 10):
                j = 0
                for i, t in enumerate(times):
                    while times[j] < t - w * 1_000_000_000:
                        j += 1
                    worst[w] = max(worst.get(w, 0), i - j + 1)
                self.assertLessEqual(worst[w], allowed(w), f"{worst[w]} snapshot requests within {w} s")
            print(f"storm: {len(times)} snapshot requests; most in 1 s: {worst[1]}, 5 s: {worst[5]}, "
                  f"10 s: {worst[10]}", file=sys.stderr)


if __name__ == "__main__":
    live_test.ENGINE, live_test.VENUE, live_test.MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
