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
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ENGINE = VENUE = MONITOR = None
WAIT_S = 30.0


def poll(condition, what, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def start_venue(*args, venue="binance"):
    proc = subprocess.Popen([VENUE, "--venue", venue, "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening (wss?://127\.0\.0\.1:(\d+)) (https?://127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"qf-venue did not announce its port: {line!r}")
    return proc, m.group(1), m.group(3)


def write_config(directory, instance, ws_url, rest_url, symbols):
    path = os.path.join(directory, f"{instance}.toml")
    with open(path, "w") as f:
        f.write(f'[engine]\ninstance = "{instance}"\nmode = "sim"\nidle = "backoff"\nlock_memory = false\n\n')
        f.write(f'[[venues]]\nvenue = "binance-spot"\nws_url = "{ws_url}"\nrest_url = "{rest_url}"\n'
                'stale_after_ms = 2000\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n\n')
        for s in symbols:
            f.write(f'[[instruments]]\nvenue = "binance-spot"\nsymbol = "{s}"\nprice_decimals = 2\n'
                    'qty_decimals = 8\n\n')
    return path


def monitor_json(instance):
    out = subprocess.run([MONITOR, "--instance", instance, "--json"], check=True, capture_output=True, text=True,
                         timeout=WAIT_S)
    return json.loads(out.stdout)


def venue_stats(rest_url):
    with urllib.request.urlopen(rest_url + "/venue/stats", timeout=5) as r:
        return json.loads(r.read())


class LiveEngine(unittest.TestCase):
    SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.instance = f"livetest{os.getpid()}"
        self.venue, self.ws, self.rest = start_venue("--synthetic", "--symbols", ",".join(self.SYMBOLS),
                                                     "--rate", "300", "--seed", "7")
        self.config = write_config(self.tmp.name, self.instance, self.ws, self.rest, self.SYMBOLS)
        self.engines = []
        self.logs = []

    def tearDown(self):
        for e in self.engines:
            if e.poll() is None:
                e.kill()
                e.wait()
        for log in self.logs:
            log.close()
        self.venue.terminate()
        self.venue.wait(timeout=10)
        for name in ("state", "control"):
            try:
                os.unlink(f"/dev/shm/qf.{self.instance}.{name}")
            except FileNotFoundError:
                pass
        self.tmp.cleanup()

    def start_engine(self):
        log = open(os.path.join(self.tmp.name, f"engine{len(self.engines)}.log"), "w")
        self.logs.append(log)
        e = subprocess.Popen([ENGINE, "--config", self.config], stdout=log, stderr=subprocess.STDOUT)
        self.engines.append(e)
        return e

    def all_live(self):
        s = monitor_json(self.instance)
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
        # Heartbeat and counters move while the reader watches.
        later = poll(lambda: (lambda s: s if s["events_processed"] >
                              first["events_processed"] + 100 else None)(monitor_json(self.instance)),
                     "events processed to grow")
        self.assertLess(later["heartbeat_age_ns"], 2_000_000_000)
        self.assertGreater(later["feeds"][0]["messages"], feed["messages"])
        self.assertEqual(later["feeds"][0]["parse_errors"], 0)
        self.assertTrue(all(i["health"] == "live" for i in later["instruments"]))
        # A clean stop: exit 0, segment stopped, the venue sees the connections close.
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)
        stopped = monitor_json(self.instance)
        self.assertEqual(stopped["status"], "stopped")
        poll(lambda: venue_stats(self.rest).get("connections_open", 1) == 0, "the venue to see the feed closed")

    def test_a_restarted_engine_is_a_new_generation(self):
        engine = self.start_engine()
        first = poll(self.all_live, "every book live")
        engine.send_signal(signal.SIGINT)
        self.assertEqual(engine.wait(timeout=WAIT_S), 0)
        self.assertEqual(monitor_json(self.instance)["status"], "stopped")
        self.start_engine()
        second = poll(lambda: (lambda s: s if s.get("generation") == first["generation"] + 1 and
                               s["status"] == "running" else None)(monitor_json(self.instance)),
                      "the restarted engine's generation")
        self.assertNotEqual(second["pid"], first["pid"])
        poll(self.all_live, "every book live after the restart")

    def test_a_bad_config_names_the_key_and_line(self):
        bad = os.path.join(self.tmp.name, "bad.toml")
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
        self.tmp = tempfile.TemporaryDirectory()
        self.instance = f"livetest2v{os.getpid()}"
        self.procs = []
        self.log = None
        bn, bn_ws, bn_rest = start_venue("--synthetic", "--symbols", ",".join(self.BINANCE), "--rate", "300",
                                         "--seed", "7")
        self.procs.append(bn)
        cb, cb_ws, cb_rest = start_venue("--synthetic", "--symbols", ",".join(self.COINBASE), "--rate", "300",
                                         "--seed", "7", venue="coinbase")
        self.procs.append(cb)
        self.config = write_config(self.tmp.name, self.instance, bn_ws, bn_rest, self.BINANCE)
        with open(self.config, "a") as f:
            f.write(f'[[venues]]\nvenue = "coinbase"\nws_url = "{cb_ws}"\nrest_url = "{cb_rest}"\n'
                    'stale_after_ms = 2000\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n\n')
            for s in self.COINBASE:
                f.write(f'[[instruments]]\nvenue = "coinbase"\nsymbol = "{s}"\nprice_decimals = 2\n'
                        'qty_decimals = 8\n\n')

    def tearDown(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
            if p.stdout:
                p.stdout.close()
        if self.log:
            self.log.close()
        for name in ("state", "control"):
            try:
                os.unlink(f"/dev/shm/qf.{self.instance}.{name}")
            except FileNotFoundError:
                pass
        self.tmp.cleanup()

    def test_every_book_of_both_venues_goes_live(self):
        self.log = open(os.path.join(self.tmp.name, "engine.log"), "w")
        engine = subprocess.Popen([ENGINE, "--config", self.config], stdout=self.log, stderr=subprocess.STDOUT)
        self.procs.append(engine)
        want = len(self.BINANCE) + len(self.COINBASE)

        def all_live():
            s = monitor_json(self.instance)
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
            f["messages"] > first[f["name"]] for f in x["feeds"]) else None)(monitor_json(self.instance)),
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
