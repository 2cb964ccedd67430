#!/usr/bin/env python3
"""qf-store against a real PostgreSQL cluster created by the test (initdb in its work folder),
with a live qf-engine fed by qf-venue replaying the BTCUSDT capture (--speed 10).

The reference bars are computed here from the capture itself (every trade's event time, price and
quantity, the BarBuilder rules of core/include/qf/core/bars.hpp: 1 s / 1 m buckets of event time,
flat bars for silent intervals), never by the code under test; the reference fill count is the
engine's own portfolio record as qf-monitor --json reads it.
- the cluster stopped mid-run and started again: every stored bar equals its reference, stored +
  counted misses = the reference, nothing dropped within the queue bound, every fill stored once;
- SIGKILL qf-store mid-run and start it again: no duplicate rows, the re-sent rows are counted as
  duplicates, every fill stored once;
- a tiny queue with the cluster away: the loss beyond the bound is counted;
- qf-gateway's history endpoints serve the stored rows (bars equal the capture's, fills paged
  once each, 400 naming a bad parameter);
- the dashboard's history panel (equity chart, candles, fills table) in headless Chromium;
- a failing migration stops qf-store with exit status 1 naming the file.

Usage: store_test.py --build-dir BUILD --capture FILE --work DIR --node NODE --node-modules DIR
"""
import argparse
import functools
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import unittest
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, fresh_dir, http_json, monitor_json, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402
from pgcluster import case_cluster  # noqa: E402

ARGS = None
SYMBOL = "BTCUSDT"
SPEED = "10"
poll = functools.partial(qf_testkit.poll, timeout=120.0, interval=0.1, retry=qf_testkit.NOT_UP)


def reference_bars(capture):
    """{(interval_s, start_ns): (open, high, low, close, volume, trades)} of every bar the engine's
    BarBuilder closes for the capture's BTCUSDT trades (the last, still open, bar excluded)."""
    trades = []
    with gzip.open(capture, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            payload = line.split(" ", 1)[1]
            if '"e":"trade"' not in payload:
                continue
            d = json.loads(payload)["data"]
            if d["s"] != SYMBOL:
                continue
            price = int(Decimal(d["p"]) * 100) * (10.0 ** -2)
            qty = int(Decimal(d["q"]) * 10 ** 8) * (10.0 ** -8)
            trades.append((d["E"] * 1_000_000, price, qty))
    out = {}
    for interval_s in (1, 60):
        step = interval_s * 1_000_000_000
        cur = None  # [start, open, high, low, close, volume, trades]
        for t, price, qty in trades:
            start = t - t % step
            if cur is None:
                cur = [start, price, price, price, price, 0.0, 0]
            if start > cur[0]:
                out[(interval_s, cur[0])] = tuple(cur[1:])
                nxt, flat, fills = cur[0] + step, cur[4], 0
                while nxt < start and fills < 64:
                    out[(interval_s, nxt)] = (flat, flat, flat, flat, 0.0, 0)
                    nxt += step
                    fills += 1
                cur = [start, price, price, price, price, 0.0, 0]
            if cur[6] == 0 and cur[5] == 0.0:
                cur[1] = cur[2] = cur[3] = price
            cur[2] = max(cur[2], price)
            cur[3] = min(cur[3], price)
            cur[4] = price
            cur[5] += qty
            cur[6] += 1
    return out


class StoreTest(unittest.TestCase):
    REF = None

    @classmethod
    def setUpClass(cls):
        cls.REF = reference_bars(ARGS.capture)

    def setUp(self):
        self.instance = f"store{os.getpid()}{self._testMethodName[-6:]}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        os.chmod(self.work, 0o755)
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)
        self.db = case_cluster(self, self.work)
        self.status_path = os.path.join(self.work, "store-status.json")

    def config(self, venue=None, **store):
        table = {"enabled": True, "url": self.db.url, "poll_ms": 2, "sample_ms": 100, "retention_days": 0,
                 "retry_max_ms": 200, "flush_ms": 50, "status_file": self.status_path, **store}
        tables = {"engine": sim_engine(self.instance), "store": table}
        if venue:
            tables["venues"] = [{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                                 "depth_stream": "depth@100ms"}]
        tables["instruments"] = [{"venue": "binance-spot", "symbol": SYMBOL, "price_decimals": 2, "qty_decimals": 8}]
        return write_config(os.path.join(self.work, "store.toml"), **tables)

    def start_store(self, config):
        p = self.procs.start([os.path.join(self.bin, "qf-store"), "--config", config], name="store")
        p.first_line("qf-store's first line")
        return p

    def status(self):
        with open(self.status_path) as f:
            return json.load(f)

    def stored_bars(self):
        rows = self.db.query("SELECT interval_s, (extract(epoch FROM ts) * 1e9)::bigint, open, high, low, close, "
                             f"volume, trades FROM bars WHERE symbol = '{SYMBOL}' ORDER BY 1, 2")
        return {(int(r[0]), int(r[1])): (float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7]))
                for r in rows}

    def live_run(self, during=None, **store):
        """Store, venue, engine; `during(store_proc)` once bars are being stored; returns the store
        process (possibly another one) after the replay ended and the last bar is stored."""
        venue = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "binance", "--replay",
                            ARGS.capture, "--speed", SPEED)
        config = self.config(venue, **store)
        store_proc = self.start_store(config)
        self.procs.start([os.path.join(self.bin, "qf-engine"), "--config", config], name="engine", read=None)
        # The table appears once the store has applied the migrations: until then psql fails.
        poll(lambda: int(self.db.scalar("SELECT count(*) FROM bars")) > 20, "the first stored bars",
             retry=(subprocess.CalledProcessError,))
        if during:
            store_proc = during(store_proc, config, venue)
        poll(lambda: venue.stats()["replay_done"], "the venue to finish the replay", timeout=240)
        last_1s = max(k[1] for k in self.REF if k[0] == 1)
        poll(lambda: self.db.scalar(f"SELECT count(*) FROM bars WHERE interval_s = 1 AND ts = "
                                    f"to_timestamp({last_1s // 1_000_000_000})") == "1", "the last 1 s bar stored")
        fills = monitor_json(os.path.join(self.bin, "qf-monitor"), self.instance)["portfolio"]["fills"]
        poll(lambda: int(self.db.scalar("SELECT count(*) FROM fills")) >= fills, f"{fills} fills stored")
        poll(lambda: self.status()["queue"]["depth"] == 0 and self.status()["writer"]["pending_rows"] == 0,
             "the queue to drain")
        return store_proc, fills

    def check_fills_once(self, fills):
        seqs = [int(r[0]) for r in self.db.query("SELECT seq FROM fills ORDER BY seq")]
        self.assertEqual(seqs, list(range(fills)), "every fill of the engine stored once, by sequence")

    def check_bars(self, stored):
        wrong = {k: (v, self.REF.get(k)) for k, v in stored.items() if self.REF.get(k) != v}
        self.assertEqual(wrong, {}, "every stored bar equals the capture's")
        return len(self.REF) - len(stored)

    def check_history_endpoints(self, fills, gaps):
        """qf-gateway's /api/history/... over the stored rows: the bars equal the capture's, paging
        the fills yields each once, bad parameters are 400 naming them."""
        config = os.path.join(self.work, "store.toml")
        _, port = start_gateway(self.procs, os.path.join(self.bin, "qf-gateway"), config,
                                extra=("--store-url", self.db.url))
        base = f"http://127.0.0.1:{port}/api/history"
        for interval, code in ((1, "1s"), (60, "1m")):
            status, body = http_json(f"{base}/bars/binance-spot/{SYMBOL}?interval={code}&limit=10000")
            self.assertEqual(status, 200, body)
            got = {(interval, b["ts_ms"] * 1_000_000): (b["open"], b["high"], b["low"], b["close"], b["volume"],
                                                       b["trades"]) for b in body["bars"]}
            self.assertTrue(got, f"{code} bars served")
            self.assertEqual({k: v for k, v in got.items() if self.REF.get(k) != v}, {}, f"served {code} bars")
        first = min(k[1] for k in self.REF if k[0] == 1) // 1_000_000
        status, body = http_json(f"{base}/bars/binance-spot/{SYMBOL}?interval=1s&from={first}&to={first + 3000}")
        self.assertEqual([b["ts_ms"] for b in body["bars"]], [first + i * 1000 for i in range(3)
                                                              if (1, (first + i * 1000) * 1_000_000) in
                                                              self.stored_bars()], body)
        seqs = []
        for offset in range(0, fills + 1):
            _, page = http_json(f"{base}/fills?limit=1&offset={offset}")
            seqs += [f["seq"] for f in page["fills"]]
        self.assertEqual(sorted(seqs), list(range(fills)), "paging the fills yields each once")
        _, eq = http_json(f"{base}/equity?limit=10000")
        self.assertEqual(len(eq["equity"]), int(self.db.scalar("SELECT count(*) FROM equity")))
        _, ev = http_json(f"{base}/events?kind=gap")
        self.assertEqual(len(ev["events"]), gaps)
        _, sg = http_json(f"{base}/signals/binance-spot/{SYMBOL}?limit=5")
        self.assertEqual(len(sg["signals"]), 5)
        for query, param in (("bars/binance-spot/BTCUSDT?interval=5m", "interval"), ("equity?from=abc", "from"),
                             ("fills?limit=0", "limit"), ("fills?offset=-1", "offset"),
                             ("equity?from=2000&to=1000", "from"), ("events?colour=red", "colour")):
            status, body = http_json(f"{base}/{query}")
            self.assertEqual(status, 400, f"{query}: {body}")
            self.assertEqual(body.get("parameter"), param, f"{query}: {body}")
        self.assertEqual(http_json(f"{base}/nothing")[0], 404)
        # The dashboard's history panel in headless Chromium.
        candles = len({k for k in self.stored_bars() if k[0] == 60})
        r = subprocess.run([ARGS.node, os.path.join(HERE, "history_browser.js"), f"http://127.0.0.1:{port}/",
                            str(candles), str(fills), os.path.join(self.work, "history.png")],
                           capture_output=True, text=True, timeout=120, env=dict(os.environ, NODE_PATH=ARGS.node_modules))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_database_stopped_mid_run(self):
        gaps = []

        def outage(store_proc, _config, venue):
            self.db.stop("immediate")
            poll(lambda: not self.status()["writer"]["connected"] and self.status()["queue"]["depth"] > 0,
                 "the store to see the server gone and queue rows")
            venue.fault("kind=gap")  # a notable event (gap, resync) while the server is away
            self.db.start()
            poll(lambda: self.status()["writer"]["connected"], "the store to reconnect")
            gaps.append(poll(lambda: venue.stats()["faults"].get("gap", 0), "the venue to withhold a diff"))
            return store_proc

        _, fills = self.live_run(outage)
        st = self.status()
        missing = self.check_bars(self.stored_bars())
        self.assertEqual(sum(st["queue"]["dropped"].values()), 0, st)
        self.assertEqual(sum(st["writer"]["rejected"].values()), 0, f"no batch lost to the shutdown: {st}")
        self.assertEqual(missing, st["bars_missed"], f"every bar not stored is counted as missed: {st}")
        self.assertGreater(st["writer"]["connect_failures"] + st["writer"]["write_errors"], 0, st)
        self.check_fills_once(fills)
        self.assertEqual(st["fills_lost"], 0)
        events = int(self.db.scalar("SELECT count(*) FROM events"))
        stored_gaps = poll(lambda: int(self.db.scalar("SELECT count(*) FROM events WHERE kind = 'gap'")),
                           "the gap event stored")
        self.assertEqual(stored_gaps, gaps[0], "each gap the venue made is one stored gap event")
        self.assertEqual(st["events_lost"], 0)
        self.assertGreater(int(self.db.scalar("SELECT count(*) FROM equity")), 0)
        self.assertGreater(int(self.db.scalar("SELECT count(*) FROM signals")), 0)
        self.check_history_endpoints(fills, stored_gaps)
        print(f"store_test: outage: {len(self.REF)} reference bars, {len(self.REF) - missing} stored, "
              f"{missing} missed (counted {st['bars_missed']}), {fills} fills, {events} events; "
              f"writer {json.dumps(st['writer']['written'])}", file=sys.stderr)

    def test_sigkill_and_restart_writes_no_duplicates(self):
        def kill(store_proc, config, _venue):
            before = int(self.db.scalar("SELECT count(*) FROM bars"))
            self.procs.stop(store_proc, signal.SIGKILL)
            p = self.start_store(config)
            poll(lambda: int(self.db.scalar("SELECT count(*) FROM bars")) > before, "the restarted store to write")
            return p

        _, fills = self.live_run(kill)
        st = self.status()
        self.check_bars(self.stored_bars())
        for table, key in (("bars", "venue, symbol, interval_s, ts"), ("fills", "engine_start, seq"),
                           ("events", "engine_start, seq"), ("equity", "engine_start, ts"),
                           ("signals", "venue, symbol, ts")):
            dup = self.db.scalar(f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} "
                                 "HAVING count(*) > 1) d")
            self.assertEqual(dup, "0", f"{table}: no duplicate rows")
        self.assertGreater(sum(st["writer"]["duplicates"].values()), 0, f"the re-sent rows were ignored: {st}")
        self.check_fills_once(fills)
        print(f"store_test: sigkill: duplicates ignored {json.dumps(st['writer']['duplicates'])}", file=sys.stderr)

    def test_loss_beyond_the_queue_bound_is_counted(self):
        def outage(store_proc, _config, _venue):
            self.db.stop("immediate")
            poll(lambda: sum(self.status()["queue"]["dropped"].values()) > 0, "drops beyond the queue bound")
            self.db.start()
            return store_proc

        self.live_run(outage, queue_rows=50)
        st = self.status()
        missing = self.check_bars(self.stored_bars())
        dropped_bars = st["queue"]["dropped"]["bars"]
        self.assertGreater(dropped_bars, 0, st)
        self.assertEqual(missing, dropped_bars + st["bars_missed"], f"every bar not stored is counted: {st}")

    def test_a_failing_migration_stops_the_store(self):
        migrations = os.path.join(self.work, "migrations")
        os.makedirs(migrations)
        src = os.path.join(HERE, "..", "..", "store", "migrations")
        for name in os.listdir(src):
            shutil.copy(os.path.join(src, name), migrations)
        with open(os.path.join(migrations, "999_broken.sql"), "w") as f:
            f.write("CREATE TABLE broken (x no_such_type);\n")
        config = self.config()
        p = self.procs.start([os.path.join(self.bin, "qf-store"), "--config", config, "--migrations", migrations],
                             name="store", read="stderr")
        self.assertEqual(p.wait(timeout=60), 1)
        p.lines.join()
        err = p.lines.text()
        self.assertIn("migration failed", err)
        self.assertIn("999_broken.sql", err)
        self.assertIn("no_such_type", err)
        applied = [r[0] for r in self.db.query("SELECT version FROM schema_migrations ORDER BY 1")]
        self.assertEqual(applied, ["001_history", "002_runs"], "the good migrations stay applied, the broken one is not")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--build-dir", "--capture", "--work", "--node", "--node-modules"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
