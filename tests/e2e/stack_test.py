#!/usr/bin/env python3
"""`scripts/run.sh --sim` end to end, over real sockets on 127.0.0.1.

Usage: stack_test.py --run-sh scripts/run.sh --build-dir BUILD --config config/sim.toml
                     --node NODE --node-modules DIR --work DIR
The stack is started by run.sh itself (QF_BUILD_DIR=BUILD, so nothing is rebuilt) with a copy of
the SIM config whose venue ports are free ports, a unique instance and gateway port 0, so it never
clashes with a stack someone is running. Checks:
- run.sh says ready; /api/health is 200, running, mode SIM; every instrument's book is live;
- /api/quotes changes; sim.toml's BTC composite includes all four venues; a WebSocket subscriber receives every instrument's quote;
- qf-monitor --json --instance shows the same instruments, live;
- SIGINT to run.sh: it exits 0, every process it started is gone (by pid), the segment says stopped.
"""
import argparse
import functools
import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, free_port, fresh_dir, http_json, monitor_json, pid_alive  # noqa: E402

ARGS = None
poll = functools.partial(qf_testkit.poll, timeout=60.0, interval=0.1, retry=qf_testkit.NOT_UP)


def sim_config_copy(src, dst, instance):
    """The SIM config with every loopback port replaced by a free one (same port -> same port)."""
    with open(src) as f:
        text = f.read()
    mapping = {}

    def repl(m):
        old = m.group(2)
        mapping.setdefault(old, str(free_port()))
        return m.group(1) + mapping[old]

    text = re.sub(r"(://(?:127\.0\.0\.1|localhost):)(\d+)", repl, text)
    text = re.sub(r'(?m)^instance\s*=.*$', f'instance = "{instance}"', text)
    # A relative model path is taken from the config's folder: keep it pointing at the original's.
    text = re.sub(r'(?m)^model\s*=\s*"([^/"][^"]*)"',
                  lambda m: f'model = "{os.path.join(os.path.dirname(os.path.abspath(src)), m.group(1))}"', text)
    with open(dst, "w") as f:
        f.write(text)
    return mapping


class RunShSim(unittest.TestCase):
    def setUp(self):
        self.instance = f"e2e{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        self.config = os.path.join(self.work, "sim.toml")
        self.ports = sim_config_copy(ARGS.config, self.config, self.instance)
        self.procs = case_procs(self, self.work, grace=30.0, instance=self.instance)
        env = dict(os.environ, QF_BUILD_DIR=ARGS.build_dir, QF_RUN_DIR=os.path.join(self.work, "run"))
        self.proc = self.procs.start([ARGS.run_sh, "--sim", "--config", self.config, "--instance", self.instance,
                                      "--port", "0"], name="run.sh", read="stderr", env=env, stdin=subprocess.DEVNULL,
                                     stop_signal=signal.SIGINT)
        self.out = self.proc.lines
        self.addCleanup(self.stop_stack)

    def stop_stack(self):
        self.procs.stop(self.proc)  # a failed test: stop the stack the way a user would (SIGINT, up to 30 s)
        for pid in self.started_pids():  # never leave anything behind, even on failure
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def started_pids(self):
        return [int(m.group(2)) for line in self.out.snapshot()
                for m in [re.match(r"run\.sh: started (\S+) pid (\d+)", line)] if m]

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"run.sh exited with {self.proc.returncode}:\n{self.out.text()}")
        text = self.out.text()
        m = re.search(r"dashboard:\s+(http://127\.0\.0\.1:\d+)/", text)
        return m.group(1) if "run.sh: ready" in text and m else None

    def test_run_sh_sim_brings_the_stack_up_and_takes_it_down(self):
        base = poll(self.ready, "run.sh to say ready", timeout=120)
        text = self.out.text()
        self.assertIn("SIM MODE", text)
        self.assertIn(f"qf-monitor --instance {self.instance}", text)
        names = [re.match(r"run\.sh: started (\S+)", line).group(1) for line in self.out.snapshot()
                 if line.startswith("run.sh: started ")]
        self.assertEqual(names[-2:], ["engine", "gateway"])
        self.assertEqual(len([n for n in names if n.startswith("venue-")]), len([p for p in self.ports if p != "4222"]),  # NATS has no venue
                         "one qf-venue per loopback venue of the config")

        status, health = http_json(base + "/api/health")
        self.assertEqual(status, 200, health)
        self.assertEqual((health["status"], health["mode"]), ("running", "SIM"))

        _, instruments = http_json(base + "/api/instruments")
        keys = sorted(f'{i["venue"]}:{i["symbol"]}' for i in instruments["instruments"])
        self.assertGreaterEqual(len(keys), 3)

        def all_live():
            _, h = http_json(base + "/api/health")
            states = [i["health"] for i in h["instruments"]]
            return h if len(states) == len(keys) and all(s == "live" for s in states) else None
        poll(all_live, "every instrument's book to be live")

        def quote_view():
            _, q = http_json(base + "/api/quotes")
            return {x["key"]: (x["update_id"], x["bid"], x["ask"]) for x in q["quotes"]}
        first = quote_view()
        self.assertEqual(sorted(first), keys)
        for key, (_, bid, ask) in first.items():
            self.assertIsNotNone(bid, key)
            self.assertLess(float(bid), float(ask), key)
        poll(lambda: quote_view() != first, "/api/quotes to change")

        # sim.toml's composite BTC over four venues: every member in once the books are live.
        def composite_full():
            status, c = http_json(base + "/api/composite/BTC")
            return c if status == 200 and c["included"] == 4 else None
        c = poll(composite_full, "the BTC composite over all four venues")
        self.assertEqual([m["key"] for m in c["members"]],
                         ["binance-spot:BTCUSDT", "coinbase:BTC-USD", "kraken:BTC/USD", "okx:BTC-USDT"])
        self.assertIn(c["best_bid"]["key"], [m["key"] for m in c["members"]])
        self.assertEqual(c["bids"][0]["price"], c["best_bid"]["price"])

        ws_url = base.replace("http://", "ws://") + "/ws"
        r = subprocess.run([ARGS.node, os.path.join(os.path.dirname(__file__), "ws_quotes.js"), ws_url, str(len(keys))],
                           capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, NODE_PATH=ARGS.node_modules))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual((got["ok"], got["mode"], got["engine"], got["keys"]), (True, "SIM", "running", keys))

        monitor = os.path.join(ARGS.build_dir, "bin", "qf-monitor")
        snap = monitor_json(monitor, self.instance)
        self.assertEqual((snap["status"], snap["mode"]), ("running", "SIM"))
        self.assertEqual(sorted(f'{i["venue"]}:{i["symbol"]}' for i in snap["instruments"]), keys)
        self.assertTrue(all(i["health"] == "live" for i in snap["instruments"]), snap["instruments"])
        # The default strategy trades under its own runaway guard (issue 16 item 2): nothing tripped.
        status, risk = http_json(base + "/api/risk")
        self.assertEqual(status, 200)
        self.assertEqual(risk["risk"]["kill_switch"]["trips"], 0, risk["risk"])

        # [bridge] enabled in the SIM config: run.sh started nats-server and qf-bridge, and a NATS
        # subscriber sees live ticks of every instrument.
        self.assertIn("nats-server", names)
        self.assertIn("bridge", names)
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bridge"))
        from nats_client import Msg, Nats
        nats = Nats(int(self.ports["4222"]))
        nats.subscribe(f"qf.{self.instance}.bbo.>")
        seen = set()

        def ticks_of_every_instrument():
            m = nats.next_msg(timeout=1.0)
            if isinstance(m, Msg):
                t = m.json()
                seen.add(f'{t["venue"]}:{t["symbol"]}')
            return sorted(seen) == keys
        poll(ticks_of_every_instrument, "live bbo ticks of every instrument on NATS")
        nats.close()

        pids = self.started_pids()
        self.assertEqual(len(pids), len(names))
        self.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.out.text())
        self.out.join()
        left = [p for p in pids if pid_alive(p)]
        self.assertEqual(left, [], f"processes left behind: {left}")
        stopped = monitor_json(monitor, self.instance)
        self.assertEqual(stopped["status"], "stopped")
        self.assertEqual(stopped["pid"], snap["pid"])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--run-sh", "--build-dir", "--config", "--node", "--node-modules", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
