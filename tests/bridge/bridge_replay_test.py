#!/usr/bin/env python3
"""qf-bridge against a real nats-server: a capture replayed by qf-venue (--speed max) into the live
engine must reach NATS with every trade and every top-of-book change, in order, none lost: the
same sequence as the tap of `qf-engine replay` on the same file (trades as they are, tops as the
tap's book/BBO lines with consecutive repeats removed). The subscriber is the minimal Python NATS
client of nats_client.py.

Usage: bridge_replay_test.py --build-dir BUILD --capture FILE --work DIR
"""
import argparse
import functools
import json
import os
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, fresh_dir, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402
from nats_client import Msg, Nats, start_nats_server  # noqa: E402

ARGS = None
SYMBOL = "BTCUSDT"
poll = functools.partial(qf_testkit.poll, interval=0.1)


def expected_from_tap(path):
    """(trades, tops) of the replay: trades as (price, qty, side, trade_id), tops as
    (source, u, bid, bid_qty, ask, ask_qty) each time the best bid/ask or a quantity of that source
    changed (book: the book's top after a depth or snapshot message; ticker: the BBO stream)."""
    trades, tops, last = [], {"book": [], "ticker": []}, {}
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            if t["symbol"] != SYMBOL:
                continue
            if t["kind"] == "trade":
                trades.append((t["price"], t["qty"], t["side"], t["trade_id"]))
            elif t["kind"] in ("depth", "snapshot", "bbo"):
                source = "ticker" if t["kind"] == "bbo" else "book"
                top = (t.get("bid"), t.get("bid_qty"), t.get("ask"), t.get("ask_qty"))
                if top != last.get(source):
                    tops[source].append((source, t["u"], *top))
                    last[source] = top
    return trades, tops


class Collector:
    """Reads every message of one subscription connection on a thread (so the server never sees a
    slow consumer)."""

    def __init__(self, port, subjects):
        self.nats = Nats(port)
        for s in subjects:
            self.nats.subscribe(s)
        self.nats.sync()  # the subscriptions are in place before anything is published
        self.msgs, self.lock, self.error = [], threading.Lock(), None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                m = self.nats.next_msg(timeout=1.0)
                if isinstance(m, Msg):
                    with self.lock:
                        self.msgs.append(m)
        except (OSError, ConnectionError) as e:
            self.error = e

    def of(self, kind):
        with self.lock:
            return [m for m in self.msgs if m.subject.split(".")[2] == kind]


class BridgeReplay(unittest.TestCase):
    def setUp(self):
        self.instance = f"brrep{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)

    def test_every_trade_and_top_of_book_change_arrives_in_order(self):
        _, port = start_nats_server(self.procs, os.path.join(self.work, "nats"))
        venue = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "binance",
                            "--replay", ARGS.capture, "--speed", "max")
        config = write_config(
            os.path.join(self.work, "replay.toml"), engine=sim_engine(self.instance),
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url,
                     "depth_stream": "depth@100ms"}],
            instruments=[{"venue": "binance-spot", "symbol": SYMBOL, "price_decimals": 2, "qty_decimals": 8}],
            bridge={"enabled": True, "nats_url": f"nats://127.0.0.1:{port}"})
        tap = os.path.join(self.work, "tap.jsonl")
        r = subprocess.run([os.path.join(self.bin, "qf-engine"), "replay", "--input", ARGS.capture,
                            "--config", config, "--tap", tap], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        want_trades, want_tops = expected_from_tap(tap)
        self.assertGreater(len(want_trades), 1000)
        self.assertGreater(len(want_tops["book"]), 1000)
        self.assertGreater(len(want_tops["ticker"]), 1000)
        n_tops = len(want_tops["book"]) + len(want_tops["ticker"])

        prefix = f"qf.{self.instance}"
        sub = Collector(port, [f"{prefix}.trade.>", f"{prefix}.bbo.>", f"{prefix}.bridge.stats"])
        bridge = self.procs.start([os.path.join(self.bin, "qf-bridge"), "--config", config], name="bridge")
        engine = self.procs.start([os.path.join(self.bin, "qf-engine"), "--config", config], name="engine", read=None)

        def arrived():
            return len(sub.of("trade")) >= len(want_trades) and len(sub.of("bbo")) >= n_tops
        try:
            poll(arrived, "every trade and top of book on NATS", timeout=240)
        except qf_testkit.Failure:
            stats = [m.json() for m in sub.of("bridge")]
            raise qf_testkit.Failure(f"trades {len(sub.of('trade'))}/{len(want_trades)}, tops "
                                     f"{len(sub.of('bbo'))}/{n_tops}; bridge {stats[-1:]}; "
                                     f"venue {venue.stats()}")
        self.assertIsNone(sub.error)
        trades = [m.json() for m in sub.of("trade")]
        tops = [m.json() for m in sub.of("bbo")]
        self.assertTrue(all(m.subject == f"{prefix}.trade.binance-spot.{SYMBOL}" for m in sub.of("trade")))
        got_trades = [(t["price"], t["qty"], t["side"], t["trade_id"]) for t in trades]
        self.assertEqual(got_trades, want_trades)
        for source in ("book", "ticker"):
            got = [(source, t["u"], t.get("bid"), t.get("bid_qty"), t.get("ask"), t.get("ask_qty"))
                   for t in tops if t["source"] == source]
            self.assertEqual(got, want_tops[source], source)
        got_tops = tops
        # In arrival order the journal positions only increase: NATS kept the journal's order.
        with sub.lock:
            seqs = [json.loads(m.data)["seq"] for m in sub.msgs if m.subject.split(".")[2] in ("trade", "bbo")]
        self.assertTrue(all(a < b for a, b in zip(seqs, seqs[1:])), "journal order kept")
        stats = poll(lambda: [m.json() for m in sub.of("bridge") if m.json()["ticks"] >= len(seqs)],
                     "a bridge.stats message after the last tick", timeout=30)[-1]
        self.assertEqual(stats["ticks_lost"], 0, stats)
        self.assertEqual(stats["unsent"], 0, stats)
        print(f"bridge_replay_test: {len(got_trades)} trades, {len(got_tops)} tops identical to the replay's tap; "
              f"bridge {json.dumps(stats)}", file=sys.stderr)
        for p in (bridge, engine):
            self.assertEqual(self.procs.stop(p), 0)
        summary = json.loads(bridge.lines.snapshot()[-1])
        self.assertGreaterEqual(summary["published"], len(got_trades) + len(got_tops))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--build-dir", "--capture", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
