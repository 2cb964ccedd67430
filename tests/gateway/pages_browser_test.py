#!/usr/bin/env python3
"""The Trades, Backtest and Settings pages in headless Chromium against the real stack (issue 16,
items 4 and 5): qf-venue --synthetic feeds a live qf-engine (strategy off: only the page trades),
qf-gateway serves the dashboard with backtest jobs on the shared captures.
Usage: pages_browser_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY NODE NODE_MODULES CAPTURES
pages_browser.js places a paper order from the page (its id appears in the fills table), sees a
refusal's reason, filters fills and positions, starts a backtest from the page and waits for its
equity curve, sets a risk limit from the Settings page. Checked here against the gateway's own
answers: the order is the engine's fill, the curve has one point per row of the job's equity
curve, the limit is in force in /api/risk, the token was asked once, everything is audited; the overview's
signal model panel shows the shipped model's id and validation, and a drift row."""
import functools
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, monitor_json, request_json, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = GATEWAY = NODE = NODE_MODULES = CAPTURES = None
CAPTURE = "binance-spot/btcusdt_20240808.capture.gz"
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config", "btcusdt_model.json")
poll = functools.partial(qf_testkit.poll, timeout=60.0)


class Pages(unittest.TestCase):
    def test_the_pages_trade_backtest_and_set_limits(self):
        instance = f"pages{os.getpid()}"
        procs = case_procs(self, instance=instance)
        venue = start_venue(procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", "BTCUSDT", "--rate", "100",
                            "--seed", "11")
        audit = os.path.join(procs.work, "audit.jsonl")
        config = write_config(
            os.path.join(procs.work, "engine.toml"), engine=sim_engine(instance),
            gateway={"audit_log": audit, "backtest_data_dir": CAPTURES, "backtest_dir": os.path.join(procs.work, "jobs"),
                     "engine_binary": ENGINE},
            risk={"enabled": False}, signal={"model": MODEL},
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url}],
            instruments=[{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}])
        procs.start([ENGINE, "--config", config], name="engine", read=None)
        poll(lambda: monitor_json(MONITOR, instance)["status"] == "running", "the engine running")
        token = "pg-" + os.urandom(8).hex()
        _, port = start_gateway(procs, GATEWAY, config, token=token)
        poll(lambda: request_json(port, "GET", "/api/book/binance-spot/BTCUSDT")[1]["health"] == "live", "the book live")
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        res = subprocess.run([NODE, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages_browser.js"),
                              f"http://127.0.0.1:{port}/", token, CAPTURE, os.path.join(procs.work, "page-")],
                             env=env, capture_output=True, text=True, timeout=280)
        lines = res.stdout.strip().splitlines()
        self.assertTrue(lines, f"the browser printed nothing: {res.stderr[-2000:]}")
        r = json.loads(lines[-1])
        self.assertTrue(r["ok"] and res.returncode == 0, f"browser: {r} {res.stderr[-1000:]}")

        # The model panel shows the model in force (the shipped file's id) and its validation.
        with open(MODEL) as f:
            model = json.load(f)
        self.assertEqual(r["model_id"], model["id"])
        self.assertEqual(request_json(port, "GET", "/api/health")[1]["model"]["id"], model["id"])
        self.assertTrue(r["model_validation"].startswith(f"{len(model['validation']['folds'])} folds, IC "), r)
        self.assertEqual(r["drift_key"], "binance-spot:BTCUSDT")
        # The order the page placed is the engine's fill.
        _, fills = request_json(port, "GET", "/api/fills")
        mine = [f for f in fills["fills"] if f["order_id"] == r["order_id"]]
        self.assertEqual([(f["side"], f["qty"]) for f in mine], [("buy", 0.002)], fills)
        self.assertEqual(r["refused"], "refused: price_band")
        self.assertEqual(r["position_qty"], "0.002")
        # The curve drawn is the job's: one point per row of its equity curve.
        _, job = request_json(port, "GET", f"/api/backtests/{r['job']}")
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(r["curve_job"], r["job"])
        self.assertEqual(r["points"], len(job["equity"]["rows"]))
        self.assertGreater(r["points"], 10)
        shown = dict(r["metric_rows"])
        self.assertEqual(int(shown["trades"]), job["backtest"]["trades"])
        # The limit set from the page is in force; the invalid one was the engine's refusal.
        _, risk = request_json(port, "GET", "/api/risk")
        self.assertEqual(risk["risk"]["limits"]["max_order_notional"], 4321.5)
        self.assertEqual(r["limit_refused"], "max_drawdown: rejected: refused: must be in [0.000001, 1]")
        self.assertTrue(r["config_shown"])
        self.assertEqual(r["stored"], [True, 0])  # sessionStorage only
        with open(audit) as f:
            actions = [(a["action"], a["result"]) for a in map(json.loads, f)]
        for expected in [("paper order buy market binance-spot:BTCUSDT", "done"),
                         ("paper order sell limit binance-spot:BTCUSDT", "rejected"), ("backtest", "accepted"),
                         ("risk limit max_order_notional", "done"), ("risk limit max_drawdown", "rejected")]:
            self.assertIn(expected, actions)


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY, NODE, NODE_MODULES, CAPTURES = sys.argv[1:8]
    unittest.main(argv=sys.argv[:1], verbosity=2)
