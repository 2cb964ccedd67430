#!/usr/bin/env python3
"""A SIM run of fixed length ends with the kill switch untripped (issue 16, "the default strategy").
Usage: sim_fixed_length_test.py QF_ENGINE QF_VENUE QF_MONITOR
- qf-venue --synthetic (binance) serves the shipped sim config's Binance instruments at RATE
  messages/s, ten times its default 200, so the run covers MESSAGES messages (five minutes of the
  default rate) in about thirty seconds; the strategy's pacing and the rate guard count wall time,
  so a faster market only gives the strategy more updates to over-trade on;
- qf-engine runs config/sim.toml's strategy as shipped ([book], [features], [signal], [risk] with
  its pacing and limits, [paper]), only the venue's address and the instrument list (Binance's) are
  the test's;
- the length is the engine's message counter (qf-monitor --json `messages_in`), polled until it
  reaches MESSAGES, never wall time; then the kill switch must be untripped (no trip ever: `trips`
  0) and orders must have been sent and filled, so a strategy that does not trade cannot pass.
"""
import functools
import os
import sys
import tomllib
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import QUICK_RECONNECT, case_procs, monitor_json, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = None
SIM_TOML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config", "sim.toml")
RATE = 2000        # messages/s over all symbols (qf-venue's default: 200)
MESSAGES = 60_000  # five minutes of the default rate
STRATEGY = ("book", "features", "signal", "risk", "paper")  # the shipped settings under test


class SimFixedLength(unittest.TestCase):
    def test_the_shipped_strategy_ends_a_fixed_length_sim_run_untripped(self):
        with open(SIM_TOML, "rb") as f:
            shipped = tomllib.load(f)
        instance = f"simlen{os.getpid()}"
        procs = case_procs(self, instance=instance)
        instruments = [i for i in shipped["instruments"] if i["venue"] == "binance-spot"]
        venue = start_venue(procs, VENUE, "--venue", "binance", "--synthetic",
                            "--symbols", ",".join(i["symbol"] for i in instruments),
                            "--rate", str(RATE), "--seed", "16")
        binance = next(v for v in shipped["venues"] if v["venue"] == "binance-spot")
        tables = {k: dict(shipped[k]) for k in STRATEGY}
        if tables["signal"].get("model"):  # relative to the shipped config's folder
            tables["signal"]["model"] = os.path.join(os.path.dirname(SIM_TOML), tables["signal"]["model"])
        self.assertTrue(tables["risk"]["enabled"], "the shipped sim config trades")
        config = write_config(
            os.path.join(procs.work, "engine.toml"), engine=sim_engine(instance), **tables,
            venues=[{**binance, "ws_url": venue.ws_url, "rest_url": venue.http_url, **QUICK_RECONNECT}],
            instruments=instruments)
        engine = procs.start([ENGINE, "--config", config], name="engine", read=None)

        def counted():
            self.assertIsNone(engine.poll(), engine.log())
            s = monitor_json(MONITOR, instance)
            if s["status"] == "running":
                self.assertFalse(s["kill_switch"]["tripped"], s["kill_switch"])  # fail at the first trip
            return s if s["status"] == "running" and s["messages_in"] >= MESSAGES else None

        # Generous: four times the run at the venue's rate, plus the start.
        s = qf_testkit.poll(counted, f"{MESSAGES} messages through the engine", timeout=4 * MESSAGES / RATE + 60,
                            interval=0.5)
        ks, pf = s["kill_switch"], s["portfolio"]
        print(f"sim run: {s['messages_in']} messages, {pf['orders']} orders, {pf['fills']} fills, "
              f"equity {pf['equity']:.2f}, kill switch {ks}", file=sys.stderr)
        self.assertEqual((ks["tripped"], ks["mode"], ks["cause"], ks["trips"]), (False, "none", "none", 0), ks)
        self.assertGreater(pf["orders"], 0, pf)
        self.assertGreater(pf["fills"], 0, pf)
        self.assertIsNone(engine.poll(), engine.log())


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR = sys.argv[1:4]
    unittest.main(argv=sys.argv[:1], verbosity=2)
