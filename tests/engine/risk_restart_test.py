#!/usr/bin/env python3
"""Persistence of the paper portfolio, the kill switch (issue 7 "Persistence") and the risk limits
in force (issue 16) across a restart and a crash.
Usage: risk_restart_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY
- qf-venue --synthetic feeds qf-engine --config (a temp config: [risk] state_file in a temp dir,
  sizing loose enough to open a position within seconds on the synthetic market, automatic trips
  out of the way);
- once a position is open, the kill switch is tripped by command through a qf-gateway started
  with QF_ADMIN_TOKEN (POST /api/risk/kill-switch, mode halt: no more orders, so the position
  stays as it is);
- after the engine has saved the state file again (its inode/mtime change after the
  acknowledgement: the save of the housekeeping pass that executed the command ran before it),
  the engine is killed with SIGKILL and started again on the same config;
- the restarted engine (a new generation) must show the same kill switch (tripped, mode, cause,
  time) and the same positions (quantity, average cost) and cash, through qf-monitor --json and
  the gateway's /api/risk and /api/positions.
- a limit changed through the gateway (POST /api/risk/limits) is in force after a SIGTERM and
  restart, a second one after a SIGKILL once the state file was saved after its acknowledgement;
  a config changed since loses to the persisted value (a warning names it); --discard-risk-state
  starts on the config's values.
Every wait is a bounded poll of a condition, never a sleep standing in for it.
"""
import functools
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import (QUICK_RECONNECT, case_procs, monitor_json, request_json, sim_engine, start_gateway,  # noqa: E402
                        write_config)
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = GATEWAY = None
poll = functools.partial(qf_testkit.poll, timeout=60.0)


class RiskRestart(unittest.TestCase):
    SYMBOLS = ["BTCUSDT", "ETHUSDT"]

    def setUp(self):
        self.instance = f"riskrs{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        self.tmp = self.procs.work
        venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", ",".join(self.SYMBOLS),
                            "--rate", "300", "--seed", "11")
        self.state_file = os.path.join(self.tmp, "state", "risk.bin")
        os.makedirs(os.path.dirname(self.state_file))
        self.audit = os.path.join(self.tmp, "audit.jsonl")
        # Loose sizing: any signal with a volatility estimate gives a position worth an order;
        # drawdown, daily-loss and rate trips out of the way (the trip here is by command).
        risk = {"enabled": True, "target_vol_annual": 50.0, "allocation": 1.0, "vol_floor": 1e-12,
                "rebalance_notional": 1, "price_band_bps": 10000, "max_order_notional": 1000000,
                "max_position_notional": 1000000, "max_gross_notional": 10000000, "daily_loss_limit": 1e12,
                "max_drawdown": 0.99, "orders_per_s_instrument": 1000, "orders_per_min_instrument": 100000,
                "orders_per_s_total": 1000, "orders_per_min_total": 100000, "trip_mode": "halt",
                "state_file": self.state_file}
        self.config = write_config(
            os.path.join(self.tmp, "engine.toml"), engine=sim_engine(self.instance), gateway={"audit_log": self.audit},
            risk=risk, venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                                **QUICK_RECONNECT}],
            instruments=[{"venue": "binance-spot", "symbol": s, "price_decimals": 2, "qty_decimals": 8}
                         for s in self.SYMBOLS])

    def start_engine(self):
        return self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)

    def running(self, generation=None):
        s = monitor_json(MONITOR, self.instance)
        if s["status"] != "running" or (generation is not None and s["generation"] != generation):
            return None
        return s

    def test_kill_switch_and_position_survive_sigkill(self):
        engine = self.start_engine()
        first = poll(self.running, "the engine running")
        token = "rs-" + os.urandom(8).hex()
        _, port = start_gateway(self.procs, GATEWAY, self.config, token=token)

        def open_position():
            s = self.running(first["generation"])
            if s is None:
                self.assertIsNone(engine.poll(), engine.log())
                return None
            return s if any(i["position"]["qty"] != 0 for i in s["instruments"]) else None

        poll(open_position, "a paper position to open")
        # Trip by command through the gateway (no token first: refused, nothing changes).
        body = json.dumps({"enabled": True, "mode": "halt"})
        status, doc = request_json(port, "POST", "/api/risk/kill-switch", body=body)
        self.assertEqual(status, 401, doc)
        status, doc = request_json(port, "POST", "/api/risk/kill-switch", {"X-Admin-Token": token}, body)
        self.assertEqual((status, doc["result"]), (200, "done"), doc)
        self.assertTrue(doc["text"].endswith("kill switch halt"), doc)
        def stamp():  # None before the first save (the engine may be younger than a second)
            try:
                st = os.stat(self.state_file)
                return (st.st_ino, st.st_mtime_ns)
            except FileNotFoundError:
                return None

        acked = stamp()
        poll(lambda: stamp() not in (None, acked), "a save of the state file after the trip")
        before = monitor_json(MONITOR, self.instance)
        ks = before["kill_switch"]
        self.assertEqual((ks["tripped"], ks["mode"]), (True, "halt"), ks)
        self.assertIn(ks["cause"], ("command", "rate_limit", "drawdown", "daily_loss"))
        positions = {i["symbol"]: i["position"] for i in before["instruments"]}
        self.assertTrue(any(p["qty"] != 0 for p in positions.values()), positions)
        with open(self.audit) as f:
            audit = [json.loads(line) for line in f]
        self.assertEqual([(a["action"], a["result"], a["status"]) for a in audit],
                         [("risk kill-switch halt", "unauthorized", 401), ("risk kill-switch halt", "done", 200)])

        # Crash: no shutdown save, no cleanup.
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        engine2 = self.start_engine()
        after = poll(lambda: self.running(first["generation"] + 1), "the restarted engine")
        self.assertIsNone(engine2.poll())
        ks2 = after["kill_switch"]
        self.assertEqual((ks2["tripped"], ks2["mode"], ks2["cause"], ks2["since_ns"]),
                         (True, ks["mode"], ks["cause"], ks["since_ns"]), f"kill switch before {ks}, after {ks2}")
        for i in after["instruments"]:
            p, q = positions[i["symbol"]], i["position"]
            self.assertEqual((q["qty"], q["avg_cost"]), (p["qty"], p["avg_cost"]), f"{i['symbol']}: {p} -> {q}")
        self.assertEqual(after["portfolio"]["cash"], before["portfolio"]["cash"])
        self.assertIn("risk state restored from", engine2.log())
        # The gateway follows the restart and shows the same.
        def gateway_risk():
            status, doc = request_json(port, "GET", "/api/risk")
            return doc if status == 200 and doc["generation"] == after["generation"] else None
        risk = poll(gateway_risk, "the gateway on the new generation")["risk"]["kill_switch"]
        self.assertEqual((risk["tripped"], risk["mode"], risk["cause"], risk["since_unix_ns"]),
                         (True, ks["mode"], ks["cause"], ks["since_ns"]))
        status, doc = request_json(port, "GET", "/api/positions")
        self.assertEqual({x["symbol"]: x["qty"] for x in doc["positions"]}, {s: p["qty"] for s, p in positions.items()})
        # Still halted: the restored switch is not silently reset, so no new fills appear.
        self.assertEqual(monitor_json(MONITOR, self.instance)["portfolio"]["fills"], before["portfolio"]["fills"])
        # A reset by command releases it.
        status, doc = request_json(port, "POST", "/api/risk/reset", {"X-Admin-Token": token})
        self.assertEqual((status, doc["result"]), (200, "done"), doc)
        poll(lambda: not monitor_json(MONITOR, self.instance)["kill_switch"]["tripped"], "the kill switch released")
        self.assertIsNone(engine2.poll())

    def test_a_limit_changed_by_command_survives_sigterm_and_sigkill(self):
        engine = self.start_engine()
        first = poll(self.running, "the engine running")
        token = "rl-" + os.urandom(8).hex()
        _, port = start_gateway(self.procs, GATEWAY, self.config, token=token)
        auth = {"X-Admin-Token": token, "Content-Type": "application/json"}

        def set_limit(limit, value):
            status, doc = request_json(port, "POST", "/api/risk/limits", auth,
                                       json.dumps({"limit": limit, "value": value}).encode())
            self.assertEqual((status, doc["result"]), (200, "done"), doc)

        def limits_on(generation):
            status, doc = request_json(port, "GET", "/api/risk")
            return doc["risk"]["limits"] if status == 200 and doc["generation"] == generation else None

        def stamp():
            try:
                st = os.stat(self.state_file)
                return (st.st_ino, st.st_mtime_ns)
            except FileNotFoundError:
                return None

        def restart(generation, *args):
            e = self.procs.start([ENGINE, "--config", self.config, *args], name="engine", read=None)
            poll(lambda: self.running(generation), f"the engine on generation {generation}")
            return e, poll(lambda: limits_on(generation), f"the gateway on generation {generation}")

        # 1. Changed, then SIGTERM (the shutdown save): the restarted engine keeps it.
        poll(lambda: limits_on(first["generation"]), "the gateway on the engine")
        set_limit("max_order_notional", "1234.5")
        self.assertEqual(self.procs.stop(engine, signal.SIGTERM), 0, engine.log())
        engine, limits = restart(first["generation"] + 1)
        self.assertEqual(limits["max_order_notional"], 1234.5, limits)
        self.assertEqual(limits["price_band_bps"], 10000, limits)  # the config's, never changed

        # 2. Another change, SIGKILL once a save after its acknowledgement wrote the file.
        acked = stamp()
        set_limit("price_band_bps", "77")
        poll(lambda: stamp() not in (None, acked), "a save of the state file after the change")
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        engine, limits = restart(first["generation"] + 2)
        self.assertEqual((limits["max_order_notional"], limits["price_band_bps"]), (1234.5, 77), limits)

        # 3. The config changed since: the persisted value wins, and the log says so.
        self.assertEqual(self.procs.stop(engine, signal.SIGTERM), 0, engine.log())
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("max_order_notional = 1000000", "max_order_notional = 5000"))
        engine, limits = restart(first["generation"] + 3)
        self.assertEqual(limits["max_order_notional"], 1234.5, limits)
        self.assertIn("risk limit max_order_notional = 1234.5 restored from", engine.log())
        self.assertIn("(the config says 5000: the persisted value wins", engine.log())

        # 4. --discard-risk-state: the config's values.
        self.assertEqual(self.procs.stop(engine, signal.SIGTERM), 0, engine.log())
        engine, limits = restart(first["generation"] + 4, "--discard-risk-state")
        self.assertEqual((limits["max_order_notional"], limits["price_band_bps"]), (5000, 10000), limits)
        self.assertIsNone(engine.poll())


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY = sys.argv[1:5]
    unittest.main(argv=sys.argv[:1], verbosity=2)
