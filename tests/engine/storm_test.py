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
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import case_procs, monitor_json, poll, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = None
SYMBOLS = [f"S{i:02d}USDT" for i in range(50)]
WEIGHT_PER_MINUTE = 600  # 10 weight/s
SNAPSHOT_LIMIT = 100     # Binance weight 5: 2 snapshots/s, a bucket of 100 weight = 20 at once


def allowed(seconds):
    # Most requests any window of `seconds` can hold: the full bucket plus the refill (+1 for
    # a request at each edge of the window).
    return 20 + 2 * seconds + 1


class Storm(unittest.TestCase):
    def test_a_mass_reconnect_stays_within_the_snapshot_budget(self):
        instance = f"storm{os.getpid()}"
        procs = case_procs(self, instance=instance)
        venue = start_venue(procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", ",".join(SYMBOLS),
                            "--rate", "500")
        config = write_config(os.path.join(procs.work, "storm.toml"), engine=sim_engine(instance),
                              rest_budget={"weight_per_minute": WEIGHT_PER_MINUTE, "max_in_flight": 4},
                              venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                                       "snapshot_limit": SNAPSHOT_LIMIT, "streams_per_connection": 30,
                                       "reconnect_min_ms": 10, "reconnect_max_ms": 100}],
                              instruments=[{"venue": "binance-spot", "symbol": s} for s in SYMBOLS])
        engine = procs.start([ENGINE, "--config", config], name="engine", read=None)
        all_live = lambda: (lambda s: s["status"] == "running" and len(s["instruments"]) == 50 and
                            all(i["health"] == "live" for i in s["instruments"]))(monitor_json(MONITOR, instance))
        poll(all_live, "50 books live", timeout=120)
        before = len(venue.stats()["snapshot_request_ns"])
        self.assertEqual(before, 50)
        venue.fault("kind=drop")
        poll(lambda: len(venue.stats()["snapshot_request_ns"]) >= 100 and all_live(),
             "50 books live again after the drop", timeout=120)
        self.assertGreater(monitor_json(MONITOR, instance)["feeds"][0]["reconnects"], 0)
        times = sorted(venue.stats()["snapshot_request_ns"])
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=30), 0)
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
    ENGINE, VENUE, MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
