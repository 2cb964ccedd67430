#!/usr/bin/env python3
"""Controls with one outcome (issue 17, defect 2): a 504 from the gateway means "not executed".
Usage: control_deadline_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY
- qf-venue --synthetic feeds a real qf-engine; a qf-gateway with a token and a 300 ms control timeout;
- the kill switch is tripped by command (200 done);
- the engine is stopped (SIGSTOP); POST /api/control/resume answers 504;
- SIGCONT: the engine takes the command after its deadline and acknowledges it `expired` (the
  gateway audits that late outcome); the kill switch stays tripped, seen through the monitor and
  /api/risk; a later kill says "unchanged" (the resume never ran).
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


class ControlDeadline(unittest.TestCase):
    def setUp(self):
        self.instance = f"ctldl{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", "BTCUSDT",
                            "--rate", "100", "--seed", "5")
        self.audit = os.path.join(self.procs.work, "audit.jsonl")
        self.config = write_config(
            os.path.join(self.procs.work, "engine.toml"), engine=sim_engine(self.instance),
            gateway={"audit_log": self.audit}, risk={"enabled": True},
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url, **QUICK_RECONNECT}],
            instruments=[{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}])

    def audit_lines(self):
        with open(self.audit) as f:
            return [json.loads(line) for line in f]

    def test_a_timed_out_control_is_never_executed(self):
        engine = self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        poll(lambda: monitor_json(MONITOR, self.instance)["status"] == "running", "the engine running")
        token = "dl-" + os.urandom(8).hex()
        _, port = start_gateway(self.procs, GATEWAY, self.config, token=token, extra=("--control-timeout-ms", "300"))
        auth = {"X-Admin-Token": token}
        poll(lambda: request_json(port, "GET", "/api/health")[1]["status"] == "running", "the gateway sees it")
        status, doc = request_json(port, "POST", "/api/control/kill", auth)
        self.assertEqual((status, doc["result"]), (200, "done"), doc)
        self.assertTrue(monitor_json(MONITOR, self.instance)["kill_switch"]["tripped"])

        os.kill(engine.pid, signal.SIGSTOP)
        try:
            status, doc = request_json(port, "POST", "/api/control/resume", auth)
            self.assertEqual(status, 504, doc)
        finally:
            os.kill(engine.pid, signal.SIGCONT)
        # The engine's final word on the resume, audited by the gateway after its 504.
        late = poll(lambda: [a for a in self.audit_lines() if a["result"].startswith("late ")], "the late acknowledgement")
        self.assertEqual((late[0]["action"], late[0]["result"], late[0]["status"]), ("resume", "late expired", 504), late)
        self.assertTrue(monitor_json(MONITOR, self.instance)["kill_switch"]["tripped"], "the resume must not run")
        status, doc = request_json(port, "GET", "/api/risk")
        self.assertTrue(doc["risk"]["kill_switch"]["tripped"], doc)
        status, doc = request_json(port, "POST", "/api/control/kill", auth)
        self.assertEqual((status, doc["result"]), (200, "done"), doc)
        self.assertTrue(doc["text"].startswith("unchanged"), doc)
        self.assertIsNone(engine.poll())


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY = sys.argv[1:5]
    unittest.main(argv=sys.argv[:1], verbosity=2)
