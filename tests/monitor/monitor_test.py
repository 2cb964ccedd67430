#!/usr/bin/env python3
"""qf-monitor against a live state segment written by the core Engine (state_publisher).

Usage: monitor_test.py QF_MONITOR STATE_PUBLISHER
Covers --json and --once, waiting for an absent engine, an engine restart (stopped, then a
new generation), and the interactive screen under tmux (keys, resize, q exits with 0).
Every wait is a bounded poll of a condition, never a sleep standing in for it.
"""
import functools
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, remove_segments  # noqa: E402

MONITOR = STATE_PUBLISHER = None
WAIT_S = 20.0
poll = functools.partial(qf_testkit.poll, timeout=WAIT_S, interval=0.02)


def monitor_json(instance):
    return qf_testkit.monitor_json(MONITOR, instance, timeout=WAIT_S)


class Publisher:
    def __init__(self, procs, instance):
        self.proc = procs.start([STATE_PUBLISHER, instance], name="state_publisher")
        line = self.proc.first_line("the publisher's first line", timeout=WAIT_S)
        assert line.strip() == "ready", f"publisher said {line!r}"

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=WAIT_S) == 0


class MonitorTest(unittest.TestCase):
    def setUp(self):
        self.instance = f"mon-{os.getpid()}-{self._testMethodName[-20:]}"
        remove_segments(self.instance)
        self.procs = case_procs(self, instance=self.instance)

    def test_should_report_awaiting_when_no_engine_runs(self):
        doc = monitor_json(self.instance)
        self.assertEqual(doc["status"], "awaiting")
        self.assertIn("no such segment", doc["message"])

    def test_should_show_the_published_instruments_counters_and_percentiles(self):
        pub = Publisher(self.procs, self.instance)
        try:
            doc = monitor_json(self.instance)
            self.assertEqual(doc["status"], "running")
            self.assertEqual(doc["mode"], "SIM")
            self.assertEqual(doc["pid"], pub.proc.pid)
            by_symbol = {i["symbol"]: i for i in doc["instruments"]}
            self.assertEqual(sorted(by_symbol), ["BTC-USD", "BTCUSDT", "ETH-USD"])
            btc = by_symbol["BTCUSDT"]
            self.assertEqual((btc["venue"], btc["bid"], btc["ask"]), ("binance-spot", "61837.63", "61837.64"))
            self.assertEqual(btc["health"], "live")
            self.assertEqual(btc["trades"], 1000)
            self.assertIn(btc["last_price"], ("61837.63", "61837.64"))
            self.assertEqual(by_symbol["ETH-USD"]["health"], "gap")
            self.assertEqual(by_symbol["ETH-USD"]["gaps"], 1)
            self.assertAlmostEqual(sum(btc["regime"]), 1.0, places=9)
            # Every event the publisher applied carried TSC stamps: 1000 trades + snapshot + status.
            lat = doc["latency_ns"]
            self.assertGreaterEqual(lat["receive_to_publish"]["count"], 1000)
            self.assertLessEqual(lat["receive_to_publish"]["p50"], lat["receive_to_publish"]["p99"])
            self.assertLessEqual(lat["receive_to_publish"]["p99"], lat["receive_to_publish"]["max"])
            self.assertEqual(lat["exchange_to_receive"]["count"], 1000)  # trades carried exchange time
            self.assertTrue(any(e["kind"] == "gap" for e in doc["events"]))
            # Portfolio and kill switch (the publisher trips it with a kill_on command).
            pf = doc["portfolio"]
            self.assertEqual(pf["initial_capital"], 100000)
            self.assertEqual(doc["equity"], pf["equity"])
            self.assertAlmostEqual(pf["realized"] + pf["unrealized"] - pf["fees"], pf["equity"] - pf["initial_capital"],
                                   places=6)
            self.assertGreaterEqual(pf["peak_equity"], pf["equity"])
            self.assertAlmostEqual(doc["drawdown"], (pf["peak_equity"] - pf["equity"]) / pf["peak_equity"], places=12)
            ks = doc["kill_switch"]
            self.assertEqual((ks["tripped"], ks["mode"], ks["cause"], ks["trips"]), (True, "halt", "command", 1))
            self.assertGreater(ks["since_ns"], 0)
            self.assertTrue(any(e["kind"] in ("risk", "control") and "kill switch halt" in e["text"] for e in doc["events"]),
                            doc["events"])
            for i in doc["instruments"]:
                self.assertEqual(sorted(i["position"]), ["avg_cost", "fees", "fills", "mark", "qty", "realized", "target",
                                                         "unrealized"])

            # The composite "BTC" (state_publisher.cpp's header).
            [c] = doc["composites"]
            self.assertEqual(c["asset"], "BTC")
            self.assertEqual(c["best_bid"], {"price": "61837.63", "qty": "1.00000000", "member": "binance-spot:BTCUSDT"})
            self.assertEqual(c["best_ask"], {"price": "61837.64", "qty": "3.00000000", "member": "coinbase:BTC-USD"})
            self.assertEqual((c["crossed"], c["included"]), (False, 2))
            self.assertEqual(c["bids"][:3], [["61837.63", "1.00000000"], ["61837.62", "1.00000000"], ["61837.61", "1.00000000"]])
            self.assertEqual(c["bids"][3], ["61837.60", "1.50000000"])  # both venues at this price
            self.assertEqual(len(c["bids"]), 10)
            self.assertEqual(c["members"], [
                {"member": "binance-spot:BTCUSDT", "health": "live", "excluded": None},
                {"member": "coinbase:BTC-USD", "health": "live", "excluded": None},
                {"member": "coinbase:ETH-USD", "health": "gap", "excluded": "not_live"}])

            text = subprocess.run([MONITOR, "--instance", self.instance, "--once"], check=True, capture_output=True,
                                  text=True, timeout=WAIT_S).stdout
            self.assertIn("BTC  bid 61837.63 x 1.00000000 @ binance-spot:BTCUSDT  ask 61837.64 x 3.00000000 @ "
                          "coinbase:BTC-USD  spread 0.01  venues 2/3\n  excluded: coinbase:ETH-USD (not_live)\n", text)
            self.assertIn("mode: SIM", text)
            self.assertIn("61837.63", text)
            self.assertIn("receive_to_publish", text)
            self.assertIn("gap", text)
            risk = next(line for line in text.splitlines() if line.startswith("equity "))
            self.assertIn(f"equity {pf['equity']:.2f}", risk)
            self.assertIn(f"drawdown {doc['drawdown'] * 100:.2f}%", risk)
            self.assertTrue(risk.endswith("kill switch HALT (command)"), risk)
            self.assertIn("positions", text)
        finally:
            pub.stop()

    def test_should_show_stopped_then_the_new_generation_when_the_engine_restarts(self):
        pub = Publisher(self.procs, self.instance)
        first = monitor_json(self.instance)
        pub.stop()
        self.assertEqual(monitor_json(self.instance)["status"], "stopped")
        pub = Publisher(self.procs, self.instance)
        try:
            second = monitor_json(self.instance)
            self.assertEqual(second["status"], "running")
            self.assertEqual(second["generation"], first["generation"] + 1)
        finally:
            pub.stop()

    def test_should_draw_quotes_and_histograms_redraw_on_resize_and_quit_on_q(self):
        server = f"qf-mon-{os.getpid()}"
        tmux = ["tmux", "-L", server]
        pub = Publisher(self.procs, self.instance)
        try:
            status_file = os.path.join(self.procs.work, "status")
            # The pane records the monitor's exit status itself: nothing depends on tmux keeping a
            # dead pane around.
            subprocess.run(tmux + ["new-session", "-d", "-x", "150", "-y", "50", "-s", "m",
                                   f"{MONITOR} --instance {self.instance} --interval 100; echo $? > {status_file}; sleep 30"],
                           check=True)

            def screen():
                return subprocess.run(tmux + ["capture-pane", "-p", "-t", "m"], capture_output=True, text=True).stdout

            first = poll(lambda: (s := screen()) and "BTCUSDT" in s and "histogram" in s and s, "the quotes table")
            self.assertIn("SIM", first)
            self.assertIn("61837.63", first)
            self.assertIn("COMPOSITE BOOKS", first)
            self.assertIn("excluded: coinbase:ETH-USD (not_live)", first)
            self.assertIn("receive_to_publish", first)
            header = first.splitlines()[:4]
            self.assertTrue(any(line.startswith("equity ") and "drawdown " in line and "kill switch HALT (command)" in line
                                for line in header), header)
            # The publisher is idle after its burst, so bars show in the cumulative view.
            subprocess.run(tmux + ["send-keys", "-t", "m", "s"], check=True)
            poll(lambda: (s := screen()) and "since start" in s and "#" in s, "cumulative histogram bars")
            subprocess.run(tmux + ["send-keys", "-t", "m", "?"], check=True)
            poll(lambda: "qf-monitor keys" in screen(), "the help overlay")
            subprocess.run(tmux + ["send-keys", "-t", "m", "?"], check=True)
            subprocess.run(tmux + ["resize-window", "-t", "m", "-x", "90", "-y", "30"], check=True)
            resized = poll(lambda: (s := screen()) and len(s.splitlines()) <= 30 and "QuantFlow monitor" in s
                           and max(len(line) for line in s.splitlines()) <= 90 and s, "a redraw at 90x30")
            self.assertIn("BTCUSDT", resized)
            subprocess.run(tmux + ["send-keys", "-t", "m", "q"], check=True)
            def exit_status():
                try:
                    with open(status_file) as f:
                        return f.read().strip() or None
                except FileNotFoundError:
                    return None

            self.assertEqual(poll(exit_status, "the monitor to exit"), "0")
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
            pub.stop()


if __name__ == "__main__":
    MONITOR, STATE_PUBLISHER = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
