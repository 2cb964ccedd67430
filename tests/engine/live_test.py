#!/usr/bin/env python3
"""qf-engine live against qf-venue on 127.0.0.1, seen from separate reader processes.

Usage: live_test.py QF_ENGINE QF_VENUE QF_MONITOR
- the engine syncs every synthetic book (health live, uncrossed) and keeps them live;
- a reader (qf-monitor --json, a separate process mapping the state read-only) sees the
  heartbeat moving, counters growing, and consistent records;
- SIGTERM stops the engine cleanly (exit 0, segment stopped, feeds closed at the venue);
- a restarted engine is seen by the same reader instance as a new generation;
- a bad config is refused with a message naming the key and line.
Every wait is a bounded poll of a condition, never a sleep standing in for it.
"""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import QUICK_RECONNECT, case_procs, monitor_json, poll, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = None
WAIT_S = 30.0


def venue_table(name, venue):
    return {"venue": name, "ws_url": venue.ws_url, "rest_url": venue.http_url, **QUICK_RECONNECT}


def instruments(venue, symbols):
    return [{"venue": venue, "symbol": s, "price_decimals": 2, "qty_decimals": 8} for s in symbols]


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            names.append(f.read().strip())
    return names


class LiveEngine(unittest.TestCase):
    SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    def setUp(self):
        self.instance = f"livetest{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        self.tmp = self.procs.work
        self.venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols",
                                 ",".join(self.SYMBOLS), "--rate", "300", "--seed", "7")
        self.config = write_config(os.path.join(self.tmp, f"{self.instance}.toml"), engine=sim_engine(self.instance),
                                   venues=[venue_table("binance-spot", self.venue)],
                                   instruments=instruments("binance-spot", self.SYMBOLS))

    def start_engine(self):
        return self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)

    def all_live(self):
        s = monitor_json(MONITOR, self.instance)
        if s["status"] != "running":
            return None
        inst = s["instruments"]
        ok = len(inst) == len(self.SYMBOLS) and all(i["health"] == "live" for i in inst)
        return s if ok else None

    def test_books_go_live_and_a_reader_sees_the_engine_work(self):
        engine = self.start_engine()
        first = poll(self.all_live, "every book live")
        self.assertEqual(first["mode"], "SIM")
        self.assertEqual(sorted(i["symbol"] for i in first["instruments"]), sorted(self.SYMBOLS))
        for i in first["instruments"]:
            self.assertEqual(i["venue"], "binance-spot")
            self.assertEqual(i["crossed"], 0)
            self.assertLess(float(i["bid"]), float(i["ask"]), i)
        feed = first["feeds"][0]
        self.assertEqual(feed["name"], "binance-spot")
        # The engine threads mode in force: inline has no feed thread, split has one.
        names = thread_names(engine.pid)
        self.assertIn("qf-hot", names)
        self.assertEqual("qf-feed-0" in names, os.environ.get("QF_TEST_ENGINE_THREADS") == "split", names)
        # The profile in force, as readers see it: the default is untuned (no pinning, the normal scheduler).
        split = os.environ.get("QF_TEST_ENGINE_THREADS") == "split"
        self.assertEqual(first["profile"], {"name": "untuned", "hot_cpu": -1, "sched_policy": "SCHED_OTHER",
                                            "sched_priority": 0, "threads": "split" if split else "inline"})
        # Heartbeat and counters move while the reader watches.
        later = poll(lambda: (lambda s: s if s["events_processed"] >
                              first["events_processed"] + 100 else None)(monitor_json(MONITOR, self.instance)),
                     "events processed to grow")
        self.assertLess(later["heartbeat_age_ns"], 2_000_000_000)
        self.assertGreater(later["feeds"][0]["messages"], feed["messages"])
        self.assertEqual(later["feeds"][0]["parse_errors"], 0)
        self.assertTrue(all(i["health"] == "live" for i in later["instruments"]))
        # A clean stop: exit 0, segment stopped, the venue sees the connections close.
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)
        stopped = monitor_json(MONITOR, self.instance)
        self.assertEqual(stopped["status"], "stopped")
        poll(lambda: self.venue.stats().get("connections_open", 1) == 0, "the venue to see the feed closed")

    @unittest.skipUnless(os.geteuid() == 0 and len(os.sched_getaffinity(0)) >= 2 and 1 in os.sched_getaffinity(0),
                         "the tuned profile needs root and CPU 1")
    def test_tuned_publishes_its_profile(self):
        engine = self.procs.start([ENGINE, "--config", self.config, "--tuned"], name="engine", read=None)
        first = poll(self.all_live, "every book live")
        split = os.environ.get("QF_TEST_ENGINE_THREADS") == "split"
        self.assertEqual(first["profile"], {"name": "tuned", "hot_cpu": 1, "sched_policy": "SCHED_FIFO",
                                            "sched_priority": 50, "threads": "split" if split else "inline"})
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)

    def test_a_restarted_engine_is_a_new_generation(self):
        engine = self.start_engine()
        first = poll(self.all_live, "every book live")
        engine.send_signal(signal.SIGINT)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)
        self.assertEqual(monitor_json(MONITOR, self.instance)["status"], "stopped")
        self.start_engine()
        second = poll(lambda: (lambda s: s if s.get("generation") == first["generation"] + 1 and
                               s["status"] == "running" else None)(monitor_json(MONITOR, self.instance)),
                      "the restarted engine's generation")
        self.assertNotEqual(second["pid"], first["pid"])
        poll(self.all_live, "every book live after the restart")

    def test_reconnects_and_resyncs_are_notable_events(self):
        self.start_engine()
        poll(self.all_live, "every book live")

        def kinds():
            return [e["kind"] for e in monitor_json(MONITOR, self.instance)["events"]]
        self.assertNotIn("reconnect", kinds())
        self.venue.fault("kind=drop")
        poll(lambda: kinds().count("reconnect") == len(self.SYMBOLS), "one reconnect event per instrument")
        poll(self.all_live, "every book live after the drop")
        # The rebuilt books came from new snapshots: each instrument's resync is an event too.
        self.assertGreaterEqual(kinds().count("resync"), len(self.SYMBOLS), kinds())
        self.venue.fault("kind=gap")
        poll(lambda: kinds().count("gap") >= 1, "the gap event")
        poll(self.all_live, "every book live after the gap")

    def test_a_bad_config_names_the_key_and_line(self):
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('[engine]\nidle = "hurry"\n')
        r = subprocess.run([ENGINE, "--config", bad], capture_output=True, text=True, timeout=WAIT_S)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bad.toml:2:", r.stderr)
        self.assertIn("engine.idle", r.stderr)


class LiveEngineTwoVenues(unittest.TestCase):
    """Binance spot and Coinbase in one engine, each against its own qf-venue."""
    BINANCE = ["BTCUSDT", "ETHUSDT"]
    COINBASE = ["BTC-USD", "ETH-USD", "SOL-USD"]

    def setUp(self):
        self.instance = f"livetest2v{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        self.tmp = self.procs.work
        bn = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", ",".join(self.BINANCE),
                         "--rate", "300", "--seed", "7")
        cb = start_venue(self.procs, VENUE, "--venue", "coinbase", "--synthetic", "--symbols", ",".join(self.COINBASE),
                         "--rate", "300", "--seed", "7")
        self.config = write_config(os.path.join(self.tmp, f"{self.instance}.toml"), engine=sim_engine(self.instance),
                                   venues=[venue_table("binance-spot", bn), venue_table("coinbase", cb)],
                                   instruments=instruments("binance-spot", self.BINANCE) +
                                   instruments("coinbase", self.COINBASE))

    def test_every_book_of_both_venues_goes_live(self):
        engine = self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        want = len(self.BINANCE) + len(self.COINBASE)

        def all_live():
            s = monitor_json(MONITOR, self.instance)
            inst = s["instruments"] if s["status"] == "running" else []
            return s if len(inst) == want and all(i["health"] == "live" for i in inst) else None

        s = poll(all_live, "every book of both venues live")
        venues = {(i["venue"], i["symbol"]) for i in s["instruments"]}
        self.assertEqual(venues, {("binance-spot", x) for x in self.BINANCE} | {("coinbase", x) for x in self.COINBASE})
        for i in s["instruments"]:
            self.assertEqual(i["crossed"], 0, i)
            self.assertLess(float(i["bid"]), float(i["ask"]), i)
        self.assertEqual(sorted(f["name"] for f in s["feeds"]), ["binance-spot", "coinbase"])
        # Both feeds keep counting messages without errors while every book stays live.
        first = {f["name"]: f["messages"] for f in s["feeds"]}
        later = poll(lambda: (lambda x: x if x["status"] == "running" and all(
            f["messages"] > first[f["name"]] for f in x["feeds"]) else None)(monitor_json(MONITOR, self.instance)),
            "both feeds' message counts to grow")
        for f in later["feeds"]:
            self.assertEqual(f["parse_errors"], 0, f)
            self.assertEqual(f["reconnects"], 0, f)
        self.assertTrue(all(i["health"] == "live" for i in later["instruments"]))
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
