#!/usr/bin/env python3
"""The learned model's lifecycle through the real stack (issue 15, item 5) and its drift in the API
(item 4). Usage: model_reload_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY MODEL_JSON
- qf-venue --synthetic feeds a live qf-engine whose [signal] model is a copy of MODEL_JSON (the
  shipped model); a qf-gateway with an admin token in front of it;
- /api/health's "model": the file's id, path, training period and rows, the validation summary
  (fold count and the means this test computes from the file's folds), the feature names;
- /api/drift: the model, the bound and window of the config, one entry per instrument whose
  window fills bar by bar (psi null until judged);
- POST /api/control/model/reload: without the token 401 and nothing changes; after the file is
  replaced by another model (other experts, another id) 200 "loaded <id>" and /api/health shows
  the new id with reloads 1 while the engine keeps processing events; a file whose feature list
  differs from the engine's is refused (409) with a message naming both lists' difference, and the
  previous model stays in force (refusals 1); every attempt is audited;
- an engine without [signal] model refuses a reload with a clear message (409).
Every wait is a bounded poll of a condition.
"""
import functools
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, monitor_json, request_json, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = GATEWAY = MODEL = None
poll = functools.partial(qf_testkit.poll, timeout=60.0)
RELOAD = "/api/control/model/reload"


def iso_prefix(ns):
    import datetime
    return datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class ModelReload(unittest.TestCase):
    def start(self, with_model=True):
        self.instance = f"mreload{os.getpid()}{int(with_model)}"
        self.procs = case_procs(self, instance=self.instance)
        self.venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", "BTCUSDT",
                                 "--rate", "100", "--seed", "3")
        self.model_path = os.path.join(self.procs.work, "model.json")
        shutil.copyfile(MODEL, self.model_path)
        self.audit = os.path.join(self.procs.work, "audit.jsonl")
        signal = {"model": self.model_path, "drift_bound": 0.3, "drift_window": 60} if with_model else {}
        self.config = write_config(
            os.path.join(self.procs.work, "engine.toml"), engine=sim_engine(self.instance),
            gateway={"audit_log": self.audit}, risk={"enabled": False}, signal=signal,
            venues=[{"venue": "binance-spot", "ws_url": self.venue.ws_url, "rest_url": self.venue.http_url,
                     "reconnect_min_ms": 50, "reconnect_max_ms": 500}],
            instruments=[{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}])
        self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        poll(lambda: monitor_json(MONITOR, self.instance)["status"] == "running", "the engine running")
        self.token = "mr-" + os.urandom(8).hex()
        _, self.port = start_gateway(self.procs, GATEWAY, self.config, token=self.token)
        self.auth = {"X-Admin-Token": self.token}

    def get(self, path):
        status, doc = request_json(self.port, "GET", path)
        self.assertEqual(status, 200, doc)
        return doc

    def reload(self, expect, headers=None):
        status, doc = request_json(self.port, "POST", RELOAD, self.auth if headers is None else headers, b"")
        self.assertEqual(status, expect, doc)
        return doc

    def events_processed(self):
        return self.get("/api/feeds")["feeds"]["engine"]["events_processed"]

    def write_model(self, doc):
        tmp = self.model_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.model_path)  # the operator's atomic swap of the file

    def test_health_shows_the_model_a_reload_swaps_it_and_a_mismatched_file_is_refused(self):
        self.start()
        with open(MODEL) as f:
            doc = json.load(f)
        m = self.get("/api/health")["model"]
        self.assertIs(m["loaded"], True, m)
        self.assertTrue(m["loaded_at"], m)
        self.assertEqual(m["id"], doc["id"])
        self.assertEqual(m["path"], self.model_path)
        self.assertEqual(m["features"], doc["features"])
        self.assertEqual(m["training"]["rows"], doc["training"]["rows"])
        self.assertEqual(m["training"]["start_unix_ns"], doc["training"]["start_ns"])
        self.assertEqual(m["training"]["end_unix_ns"], doc["training"]["end_ns"])
        self.assertTrue(m["training"]["start"].startswith(iso_prefix(doc["training"]["start_ns"])), m)
        folds = doc["validation"]["folds"]
        v = m["validation"]
        self.assertEqual(v["folds"], len(folds))
        self.assertAlmostEqual(v["ic_mean"], sum(f["ic"] for f in folds) / len(folds), places=6)
        self.assertAlmostEqual(v["hit_rate_mean"], sum(f["hit_rate"] for f in folds) / len(folds), places=6)
        self.assertAlmostEqual(v["return_bps"], sum(f["model"]["return_bps"] for f in folds), places=4)
        self.assertAlmostEqual(v["buy_and_hold_bps"], sum(f["buy_and_hold"]["return_bps"] for f in folds), places=4)
        self.assertEqual([x["test_rows"] for x in v["per_fold"]], [f["rows"] for f in folds])
        self.assertEqual((m["reloads"], m["refusals"], m["last_refusal"]), (0, 0, None))
        self.assertEqual((m["drift_bound"], m["drift_window"]), (0.3, 60))

        # Drift in the API: the window fills bar by bar, nothing is judged before it is full.
        d = self.get("/api/drift")
        self.assertEqual((d["model"], d["bound"], d["window"], d["features"]), (doc["id"], 0.3, 60, doc["features"]))
        self.assertEqual([i["key"] for i in d["drift"]], ["binance-spot:BTCUSDT"])
        poll(lambda: self.get("/api/drift")["drift"][0]["bars"] >= 2, "two bar closes in the drift window")
        i = self.get("/api/drift")["drift"][0]
        self.assertLess(i["bars"], 60)
        self.assertEqual((i["judged"], i["drifting"], i["fade"], i["window"]), (False, False, 1.0, 60))
        self.assertEqual(set(i["psi"]), set(doc["features"]))
        self.assertTrue(all(p is None for p in i["psi"].values()), i)

        # No token: refused by the gateway, nothing reaches the engine.
        self.reload(401, headers={})
        self.assertEqual(self.get("/api/health")["model"]["id"], doc["id"])

        # Another model in the file: reloaded and in force.
        other = json.loads(json.dumps(doc))
        other["experts"]["linear"]["weights"] = [[-w for w in row] for row in doc["experts"]["linear"]["weights"]]
        other["id"] = "qf-reloadtest1"
        self.write_model(other)
        before = self.events_processed()
        r = self.reload(200)
        self.assertEqual((r["result"], r["text"], r["action"]), ("done", "loaded qf-reloadtest1", "model reload"), r)
        self.assertEqual(r["model"]["id"], "qf-reloadtest1")
        m = self.get("/api/health")["model"]
        self.assertEqual((m["id"], m["reloads"], m["refusals"]), ("qf-reloadtest1", 1, 0))
        self.assertEqual(self.get("/api/drift")["model"], "qf-reloadtest1")
        poll(lambda: self.events_processed() > before, "the engine still applying events")
        poll(lambda: self.get("/api/signals")["signals"][0]["health"] == "live", "the book live under the new model")

        # A file naming other features: refused, the difference named, the previous model kept.
        bad = json.loads(json.dumps(doc))
        bad["features"] = ["imbalance", "trade_flow", "ret_fast", "spread_bps", "bollinger_z"]
        bad["id"] = "qf-reloadtest2"
        self.write_model(bad)
        r = self.reload(409)
        self.assertEqual(r["result"], "rejected", r)
        self.assertTrue(r["text"].startswith("refused: features"), r)
        why = r["model"]["last_refusal"]
        self.assertIn("spread_bps", why)
        self.assertIn("ret_slow", why)
        m = self.get("/api/health")["model"]
        self.assertEqual((m["id"], m["reloads"], m["refusals"], m["last_refusal"]), ("qf-reloadtest1", 1, 1, why))

        # An unreadable file: refused the same way.
        with open(self.model_path, "w") as f:
            f.write("{not json")
        r = self.reload(409)
        self.assertIn("not valid JSON", r["model"]["last_refusal"])
        self.assertEqual(self.get("/api/health")["model"]["id"], "qf-reloadtest1")

        with open(self.audit) as f:
            audit = [json.loads(line) for line in f if "model reload" in line]
        self.assertEqual([a["result"] for a in audit], ["unauthorized", "done", "rejected", "rejected"], audit)

    def test_an_engine_without_a_model_refuses_a_reload(self):
        self.start(with_model=False)
        m = self.get("/api/health")["model"]
        self.assertEqual((m["loaded"], m["id"], m["validation"]), (False, None, None))
        self.assertEqual(self.get("/api/drift")["model"], None)
        r = self.reload(409)
        self.assertIn("no [signal] model configured", r["model"]["last_refusal"])
        self.assertFalse(self.get("/api/health")["model"]["loaded"])


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY, MODEL = sys.argv[1:6]
    unittest.main(argv=sys.argv[:1])
