#!/usr/bin/env python3
"""A state segment that changes size under a running engine (issue 17, defect 1): a real qf-engine
fed by qf-venue, with qf-gateway and qf-monitor attached, while the test truncates or extends the
segment file in /dev/shm.

Usage: segment_resize_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY
- truncated to one page: the engine's next write past the end raises SIGBUS, which it turns into
  exit status 3 and the line "segment ... was truncated under the engine"; the gateway stays up
  and answers /api/health 503 "segment damaged", the monitor says damaged;
- extended by a page (no fault: nothing is written past the old end): the engine's once-a-second
  fstat check finds it and exits 3 with "changed size under the engine: N bytes, M mapped"; the
  readers say damaged the same way.
To see it fail: drop guard_segment (truncation: the engine dies of SIGBUS, status -7, no line) or
the segment_size_check calls (extension: the engine keeps running) in core/app/live.cpp.
"""
import json
import os
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import QUICK_RECONNECT, case_procs, monitor_json, poll, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = GATEWAY = None
SYMBOLS = ["BTCUSDT", "ETHUSDT"]


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class SegmentResize(unittest.TestCase):
    def setUp(self):
        self.instance = f"segrs{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        self.venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols",
                                 ",".join(SYMBOLS), "--rate", "500", "--seed", "5")
        self.config = write_config(
            os.path.join(self.procs.work, f"{self.instance}.toml"), engine=sim_engine(self.instance),
            gateway={"audit_log": os.path.join(self.procs.work, "audit.jsonl")},
            venues=[{"venue": "binance-spot", "ws_url": self.venue.ws_url, "rest_url": self.venue.http_url,
                     **QUICK_RECONNECT}],
            instruments=[{"venue": "binance-spot", "symbol": s, "price_decimals": 2, "qty_decimals": 8}
                         for s in SYMBOLS])
        self.path = f"/dev/shm/qf.{self.instance}.state"

    def start_stack(self):
        engine = self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        poll(lambda: monitor_json(MONITOR, self.instance).get("status") == "running", "the engine running")
        gw, port = start_gateway(self.procs, GATEWAY, self.config)
        poll(lambda: health(port)[1].get("status") == "running", "the gateway sees the engine")
        return engine, gw, port

    def expect_fatal_and_damaged(self, engine, gw, port, line):
        engine.wait(timeout=30)
        self.assertEqual(engine.returncode, 3, f"engine exit status {engine.returncode}: {engine.log()[-2000:]}")
        self.assertIn(line, engine.log())
        self.assertIn(f"/dev/shm/qf.{self.instance}.state", engine.log())
        s, h = poll(lambda: (lambda r: r if r[0] == 503 and r[1]["status"] == "damaged" else None)(health(port)),
                    "the gateway reports the segment damaged")
        self.assertTrue(h["message"].startswith("segment damaged:"), h)
        m = monitor_json(MONITOR, self.instance)
        self.assertEqual(m["status"], "damaged", m)
        self.assertTrue(m["message"].startswith("segment damaged:"), m)
        self.assertIsNone(gw.poll(), "the gateway is still running")

    def test_truncated_segment_is_fatal_for_the_engine_and_damaged_for_readers(self):
        engine, gw, port = self.start_stack()
        os.truncate(self.path, 4096)
        self.expect_fatal_and_damaged(engine, gw, port, "was truncated under the engine")

    def test_extended_segment_is_fatal_for_the_engine_and_damaged_for_readers(self):
        engine, gw, port = self.start_stack()
        os.truncate(self.path, os.stat(self.path).st_size + 4096)
        self.expect_fatal_and_damaged(engine, gw, port, "changed size under the engine")
        self.assertRegex(engine.log(), r"changed size under the engine: \d+ bytes, \d+ mapped")


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY = sys.argv[1:5]
    unittest.main(argv=[sys.argv[0], "-v"])
