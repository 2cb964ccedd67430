#!/usr/bin/env python3
"""`scripts/run.sh --sim` end to end, over real sockets on 127.0.0.1.

Usage: stack_test.py --run-sh scripts/run.sh --build-dir BUILD --config config/sim.toml
                     --node NODE --node-modules DIR --work DIR
The stack is started by run.sh itself (QF_BUILD_DIR=BUILD, so nothing is rebuilt) with a copy of
the SIM config whose venue ports are free ports, a unique instance and gateway port 0, so it never
clashes with a stack someone is running. Checks:
- run.sh says ready; /api/health is 200, running, mode SIM; every instrument's book is live;
- /api/quotes changes; a WebSocket subscriber receives every instrument's quote;
- qf-monitor --json --instance shows the same instruments, live;
- SIGINT to run.sh: it exits 0, every process it started is gone (by pid), the segment says stopped.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import LineReader, free_port, http_json, pid_alive, poll, remove_segments  # noqa: E402

ARGS = None


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
    with open(dst, "w") as f:
        f.write(text)
    return mapping


class RunShSim(unittest.TestCase):
    def setUp(self):
        self.instance = f"e2e{os.getpid()}"
        self.work = os.path.join(ARGS.work, self.instance)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.config = os.path.join(self.work, "sim.toml")
        self.ports = sim_config_copy(ARGS.config, self.config, self.instance)
        env = dict(os.environ, QF_BUILD_DIR=ARGS.build_dir, QF_RUN_DIR=os.path.join(self.work, "run"))
        self.proc = subprocess.Popen(
            [ARGS.run_sh, "--sim", "--config", self.config, "--instance", self.instance, "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.out = LineReader(self.proc.stderr)

    def tearDown(self):
        if self.proc.poll() is None:  # a failed test: stop the stack the way a user would
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.started_pids():  # never leave anything behind, even on failure
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        remove_segments(self.instance)
        self.out.thread.join(timeout=10)
        self.proc.stderr.close()

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
        self.assertEqual(len([n for n in names if n.startswith("venue-")]), len(self.ports),
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

        ws_url = base.replace("http://", "ws://") + "/ws"
        r = subprocess.run([ARGS.node, os.path.join(os.path.dirname(__file__), "ws_quotes.js"), ws_url, str(len(keys))],
                           capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, NODE_PATH=ARGS.node_modules))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual((got["ok"], got["mode"], got["engine"], got["keys"]), (True, "SIM", "running", keys))

        monitor = os.path.join(ARGS.build_dir, "bin", "qf-monitor")
        snap = json.loads(subprocess.run([monitor, "--json", "--instance", self.instance], check=True,
                                         capture_output=True, text=True, timeout=30).stdout)
        self.assertEqual((snap["status"], snap["mode"]), ("running", "SIM"))
        self.assertEqual(sorted(f'{i["venue"]}:{i["symbol"]}' for i in snap["instruments"]), keys)
        self.assertTrue(all(i["health"] == "live" for i in snap["instruments"]), snap["instruments"])

        pids = self.started_pids()
        self.assertEqual(len(pids), len(names))
        self.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.proc.wait(timeout=60), 0, self.out.text())
        self.out.thread.join(timeout=10)
        left = [p for p in pids if pid_alive(p)]
        self.assertEqual(left, [], f"processes left behind: {left}")
        stopped = json.loads(subprocess.run([monitor, "--json", "--instance", self.instance], check=True,
                                            capture_output=True, text=True, timeout=30).stdout)
        self.assertEqual(stopped["status"], "stopped")
        self.assertEqual(stopped["pid"], snap["pid"])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--run-sh", "--build-dir", "--config", "--node", "--node-modules", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
