#!/usr/bin/env python3
"""qf-engine replay --store URL against a real PostgreSQL cluster created by the test (initdb in its
work folder): the BTCUSDT capture replayed once with --store and --equity-csv. The run's stored rows
must equal the replay's own independent outputs of the same run: as many fills as the summary's
backtest trades, the equity rows of --equity-csv (same values at the CSV's printed precision), the
summary itself as the metrics. qf-gateway's /api/history/runs and /runs/{id} serve that run; a
database that is down gives a clear error on stderr, a non-zero exit and the same summary on stdout.

Usage: runs_test.py --build-dir BUILD --capture FILE --work DIR
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
from qf_testkit import case_procs, fresh_dir, http_json, sim_engine, start_gateway, write_config  # noqa: E402
from pgcluster import case_cluster  # noqa: E402

ARGS = None
SYMBOL = "BTCUSDT"


class RunsTest(unittest.TestCase):
    def setUp(self):
        self.instance = f"runs{os.getpid()}{self._testMethodName[-6:]}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        os.chmod(self.work, 0o755)
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)
        self.db = case_cluster(self, self.work)
        self.config = write_config(os.path.join(self.work, "runs.toml"), engine=sim_engine(self.instance),
                                   instruments=[{"venue": "binance-spot", "symbol": SYMBOL, "price_decimals": 2,
                                                 "qty_decimals": 8}])

    def replay(self, url, equity_csv):
        r = subprocess.run([os.path.join(self.bin, "qf-engine"), "replay", "--input", ARGS.capture, "--config",
                            self.config, "--equity-csv", equity_csv, "--store", url],
                           capture_output=True, text=True, timeout=300)
        return r.returncode, json.loads(r.stdout), r.stderr

    def test_replay_stores_its_run_and_the_api_serves_it(self):
        csv_path = os.path.join(self.work, "equity.csv")
        rc, summary, err = self.replay(self.db.url, csv_path)
        self.assertEqual(rc, 0, err)
        self.assertIn("stored", err)
        with open(csv_path) as f:
            csv_rows = list(csv.DictReader(f))
        trades = summary["backtest"]["trades"]
        self.assertGreater(trades, 0, "the capture trades: the fills comparison means something")
        self.assertGreater(len(csv_rows), 0)

        runs = self.db.query("SELECT run_id, venue, array_to_json(captures), config IS NOT NULL FROM runs")
        self.assertEqual(len(runs), 1, "one run row")
        run_id, venue, captures, has_config = runs[0]
        self.assertIn(run_id, err, "the run id is named on stderr")
        self.assertEqual(venue, summary["venue"])
        self.assertEqual(json.loads(captures), [ARGS.capture])
        self.assertEqual(has_config, "t")
        self.assertEqual(json.loads(self.db.scalar("SELECT metrics::text FROM runs")), summary)
        stored_config = json.loads(self.db.scalar("SELECT config::text FROM runs"))
        self.assertEqual(stored_config["instruments"][0]["symbol"], SYMBOL)

        self.assertEqual(int(self.db.scalar("SELECT count(*) FROM run_fills")), trades,
                         "as many fills as the summary's backtest trades")
        self.assertEqual([r[0] for r in self.db.query("SELECT seq FROM run_fills ORDER BY seq")],
                         [str(i) for i in range(trades)])
        stored_eq = self.db.query("SELECT unix_ns, equity, drawdown, realized, unrealized, fees FROM run_equity "
                                  "ORDER BY unix_ns")
        # The CSV prints 6 decimals (drawdown 8): the stored doubles printed the same way equal it.
        as_csv = [{"unix_ns": r[0], "equity": f"{float(r[1]):.6f}", "drawdown": f"{float(r[2]):.8f}",
                   "realized": f"{float(r[3]):.6f}", "unrealized": f"{float(r[4]):.6f}",
                   "fees": f"{float(r[5]):.6f}"} for r in stored_eq]
        self.assertEqual(as_csv, csv_rows, "the stored equity series is the --equity-csv of the same run")

        _, port = start_gateway(self.procs, os.path.join(self.bin, "qf-gateway"), self.config,
                                extra=("--store-url", self.db.url))
        base = f"http://127.0.0.1:{port}/api/history/runs"
        status, body = http_json(base)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["runs"]), 1)
        listed = body["runs"][0]
        self.assertEqual(listed["id"], run_id)
        self.assertEqual(listed["captures"], [ARGS.capture])
        self.assertEqual(listed["trades"], trades)
        self.assertEqual(listed["final_equity"], summary["backtest"]["final_equity"])
        self.assertEqual(listed["verdict"], summary["backtest"]["verdict"])
        status, body = http_json(f"{base}/{run_id}")
        self.assertEqual(status, 200, body)
        run = body["run"]
        self.assertEqual(run["metrics"], summary)
        self.assertEqual(run["config"], stored_config)
        self.assertEqual(len(run["fills"]), trades)
        self.assertEqual([e["unix_ns"] for e in run["equity"]], [int(r["unix_ns"]) for r in csv_rows])
        self.assertEqual([f"{e['equity']:.6f}" for e in run["equity"]], [r["equity"] for r in csv_rows])
        self.assertEqual(http_json(f"{base}/{uuid.uuid4()}")[0], 404)
        status, body = http_json(f"{base}/not-a-uuid")
        self.assertEqual(status, 400)
        self.assertEqual(body.get("parameter"), "id")
        self.assertEqual(http_json(f"{base}?limit=0")[0], 400)

    def test_a_database_down_is_a_clear_error_and_the_output_stays(self):
        self.db.stop()
        rc, summary, err = self.replay(self.db.url, os.path.join(self.work, "equity.csv"))
        self.assertNotEqual(rc, 0)
        self.assertIn("qf-engine: --store: run not stored: cannot connect", err)
        self.assertEqual(len(err.strip().splitlines()), 1, "one line on stderr")
        self.assertGreater(summary["backtest"]["trades"], 0, "the summary is printed whole")
        self.db.start()
        self.assertEqual(self.db.scalar("SELECT to_regclass('runs') IS NULL"), "t", "nothing was written")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--build-dir", "--capture", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
