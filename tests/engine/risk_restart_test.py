#!/usr/bin/env python3
"""Persistence of the paper portfolio and the kill switch across a crash (issue 7 "Persistence").
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
Every wait is a bounded poll of a condition, never a sleep standing in for it.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

import live_test
from live_test import monitor_json

ENGINE = VENUE = MONITOR = GATEWAY = None
WAIT_S = 60.0


def poll(condition, what, timeout=WAIT_S):
    return live_test.poll(condition, what, timeout)


def call(port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


class RiskRestart(unittest.TestCase):
    SYMBOLS = ["BTCUSDT", "ETHUSDT"]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.instance = f"riskrs{os.getpid()}"
        self.procs = []
        self.logs = []
        self.venue = self.spawn([VENUE, "--venue", "binance", "--port", "0", "--synthetic", "--symbols",
                                 ",".join(self.SYMBOLS), "--rate", "300", "--seed", "11"], pipe=True)
        line = self.venue.stdout.readline()
        m = re.search(r"listening (wss?://127\.0\.0\.1:\d+) (https?://127\.0\.0\.1:\d+)", line)
        self.assertTrue(m, f"qf-venue did not announce its port: {line!r}")
        self.state_file = os.path.join(self.tmp.name, "state", "risk.bin")
        os.makedirs(os.path.dirname(self.state_file))
        self.audit = os.path.join(self.tmp.name, "audit.jsonl")
        self.config = os.path.join(self.tmp.name, "engine.toml")
        with open(self.config, "w") as f:
            f.write(f'[engine]\ninstance = "{self.instance}"\nmode = "sim"\nidle = "backoff"\nlock_memory = false\n\n')
            f.write(f'[gateway]\naudit_log = "{self.audit}"\n\n')
            # Loose sizing: any signal with a volatility estimate gives a position worth an order;
            # drawdown, daily-loss and rate trips out of the way (the trip here is by command).
            f.write('[risk]\nenabled = true\ntarget_vol_annual = 50.0\nallocation = 1.0\nvol_floor = 1e-12\n'
                    'rebalance_notional = 1\nprice_band_bps = 10000\nmax_order_notional = 1000000\n'
                    'max_position_notional = 1000000\nmax_gross_notional = 10000000\ndaily_loss_limit = 1e12\n'
                    'max_drawdown = 0.99\norders_per_s_instrument = 1000\norders_per_min_instrument = 100000\n'
                    'orders_per_s_total = 1000\norders_per_min_total = 100000\ntrip_mode = "halt"\n'
                    f'state_file = "{self.state_file}"\n\n')
            f.write(f'[[venues]]\nvenue = "binance-spot"\nws_url = "{m.group(1)}"\nrest_url = "{m.group(2)}"\n'
                    'stale_after_ms = 2000\nreconnect_min_ms = 50\nreconnect_max_ms = 500\n\n')
            for s in self.SYMBOLS:
                f.write(f'[[instruments]]\nvenue = "binance-spot"\nsymbol = "{s}"\nprice_decimals = 2\n'
                        'qty_decimals = 8\n\n')

    def tearDown(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()
        for log in self.logs:
            log.close()
        for name in ("state", "control"):
            try:
                os.unlink(f"/dev/shm/qf.{self.instance}.{name}")
            except FileNotFoundError:
                pass
        self.tmp.cleanup()

    def spawn(self, args, pipe=False, env=None):
        if pipe:
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        else:
            log = open(os.path.join(self.tmp.name, f"proc{len(self.procs)}.log"), "w")
            self.logs.append(log)
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def engine_log(self, n):
        with open(os.path.join(self.tmp.name, f"proc{n}.log")) as f:
            return f.read()

    def running(self, generation=None):
        s = monitor_json(self.instance)
        if s["status"] != "running" or (generation is not None and s["generation"] != generation):
            return None
        return s

    def test_kill_switch_and_position_survive_sigkill(self):
        engine = self.spawn([ENGINE, "--config", self.config])
        engine_log = len(self.procs) - 1
        first = poll(self.running, "the engine running")
        token = "rs-" + os.urandom(8).hex()
        gw = self.spawn([GATEWAY, "--config", self.config, "--port", "0"], pipe=True,
                        env=dict(os.environ, QF_ADMIN_TOKEN=token))
        line = gw.stdout.readline()
        self.assertTrue(line.startswith("qf-gateway: listening http://127.0.0.1:"), line)
        port = int(line.strip().rsplit(":", 1)[1])

        def open_position():
            s = self.running(first["generation"])
            if s is None:
                self.assertIsNone(engine.poll(), self.engine_log(engine_log))
                return None
            return s if any(i["position"]["qty"] != 0 for i in s["instruments"]) else None

        poll(open_position, "a paper position to open")
        # Trip by command through the gateway (no token first: refused, nothing changes).
        body = json.dumps({"enabled": True, "mode": "halt"})
        status, doc = call(port, "POST", "/api/risk/kill-switch", body=body)
        self.assertEqual(status, 401, doc)
        status, doc = call(port, "POST", "/api/risk/kill-switch", {"X-Admin-Token": token}, body)
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
        before = monitor_json(self.instance)
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
        engine2 = self.spawn([ENGINE, "--config", self.config])
        after = poll(lambda: self.running(first["generation"] + 1), "the restarted engine")
        self.assertIsNone(engine2.poll())
        ks2 = after["kill_switch"]
        self.assertEqual((ks2["tripped"], ks2["mode"], ks2["cause"], ks2["since_ns"]),
                         (True, ks["mode"], ks["cause"], ks["since_ns"]), f"kill switch before {ks}, after {ks2}")
        for i in after["instruments"]:
            p, q = positions[i["symbol"]], i["position"]
            self.assertEqual((q["qty"], q["avg_cost"]), (p["qty"], p["avg_cost"]), f"{i['symbol']}: {p} -> {q}")
        self.assertEqual(after["portfolio"]["cash"], before["portfolio"]["cash"])
        self.assertIn("risk state restored from", self.engine_log(len(self.procs) - 1))
        # The gateway follows the restart and shows the same.
        def gateway_risk():
            status, doc = call(port, "GET", "/api/risk")
            return doc if status == 200 and doc["generation"] == after["generation"] else None
        risk = poll(gateway_risk, "the gateway on the new generation")["risk"]["kill_switch"]
        self.assertEqual((risk["tripped"], risk["mode"], risk["cause"], risk["since_unix_ns"]),
                         (True, ks["mode"], ks["cause"], ks["since_ns"]))
        status, doc = call(port, "GET", "/api/positions")
        self.assertEqual({x["symbol"]: x["qty"] for x in doc["positions"]}, {s: p["qty"] for s, p in positions.items()})
        # Still halted: the restored switch is not silently reset, so no new fills appear.
        self.assertEqual(monitor_json(self.instance)["portfolio"]["fills"], before["portfolio"]["fills"])
        # A reset by command releases it.
        status, doc = call(port, "POST", "/api/risk/reset", {"X-Admin-Token": token})
        self.assertEqual((status, doc["result"]), (200, "done"), doc)
        poll(lambda: not monitor_json(self.instance)["kill_switch"]["tripped"], "the kill switch released")
        self.assertIsNone(engine2.poll())


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY = sys.argv[1:5]
    live_test.MONITOR = MONITOR
    unittest.main(argv=sys.argv[:1], verbosity=2)
