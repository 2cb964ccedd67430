#!/usr/bin/env python3
"""Paper orders and risk limits through the real stack (issue 16, items 4 and 5).
Usage: paper_orders_test.py QF_ENGINE QF_VENUE QF_MONITOR QF_GATEWAY
- qf-venue --synthetic feeds a live qf-engine (strategy off, so only the test's orders trade); a
  qf-gateway with a token in front of it;
- POST /api/orders: no token 401; bad bodies 400 naming the field; an accepted market order fills
  and shows in /api/fills and /api/positions; each pre-trade check refuses with its reason (limits
  lowered by POST /api/risk/limits, the kill switch by command, a limit outside the price band,
  a stale book, the rate guard, an order still pending);
- the fill walks the book: the venue is stalled (its market frozen), the engine's book is waited
  for until it holds the venue's last update, and a market order larger than the best ask fills at
  the average computed here from the venue's own depth snapshot; a limit IOC fills only up to its
  price;
- a quantity off the lot ([risk] lot_size) is rounded down and the answer says what was sent; one
  below a lot is refused below_lot;
- POST /api/risk/limits: a valid change shows in /api/risk and /api/config, invalid values are
  refused by the engine with its reason (409), an unknown limit is 400; every request is audited.
"""
import functools
import json
import os
import sys
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, monitor_json, request_json, sim_engine, start_gateway, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = GATEWAY = None
poll = functools.partial(qf_testkit.poll, timeout=60.0)
KEY = "binance-spot:BTCUSDT"
BIG = 1e9  # limits far away, so each case lowers only the one it tests


class PaperOrders(unittest.TestCase):
    def start(self, latency_ms=0, lot_size=0.0, **extra_tables):
        self.instance = f"paper{os.getpid()}{latency_ms}"
        self.procs = case_procs(self, instance=self.instance)
        self.venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols", "BTCUSDT",
                                 "--rate", "100", "--seed", "7")
        self.audit = os.path.join(self.procs.work, "audit.jsonl")
        # stale after 5 s of silence: the frozen-book steps have that long, then the book goes stale
        self.config = write_config(
            os.path.join(self.procs.work, "engine.toml"), engine=sim_engine(self.instance),
            gateway={"audit_log": self.audit},
            risk={"enabled": False, "max_order_notional": BIG, "max_position_notional": BIG,
                  "max_gross_notional": BIG, "daily_loss_limit": BIG, "lot_size": lot_size},
            paper={"latency_ms": latency_ms},
            venues=[{"venue": "binance-spot", "ws_url": self.venue.ws_url, "rest_url": self.venue.http_url,
                     "stale_after_ms": 5000, "reconnect_min_ms": 50, "reconnect_max_ms": 500}],
            instruments=[{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}],
            **extra_tables)
        self.engine = self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        poll(lambda: monitor_json(MONITOR, self.instance)["status"] == "running", "the engine running")
        self.token = "po-" + os.urandom(8).hex()
        _, self.port = start_gateway(self.procs, GATEWAY, self.config, token=self.token)
        self.auth = {"X-Admin-Token": self.token, "Content-Type": "application/json"}
        self.wait_live()

    def get(self, path):
        status, doc = request_json(self.port, "GET", path)
        self.assertEqual(status, 200, doc)
        return doc

    def book(self):
        return self.get("/api/book/binance-spot/BTCUSDT?depth=10")

    def wait_live(self):
        poll(lambda: self.book()["health"] == "live", "the BTCUSDT book live")

    def order(self, expect, **body):
        body.setdefault("instrument", KEY)
        status, doc = request_json(self.port, "POST", "/api/orders", self.auth, json.dumps(body).encode())
        self.assertEqual(status, expect, doc)
        return doc

    def refused(self, reason, **body):
        doc = self.order(409, **body)
        self.assertEqual((doc["accepted"], doc["refusal"], doc["result"]), (False, reason, "rejected"), doc)
        self.assertEqual(doc["text"], "refused: " + reason, doc)
        return doc

    def set_limit(self, limit, value, expect=200):
        status, doc = request_json(self.port, "POST", "/api/risk/limits", self.auth,
                                   json.dumps({"limit": limit, "value": value}).encode())
        self.assertEqual(status, expect, doc)
        return doc

    def audit_lines(self):
        with open(self.audit) as f:
            return [json.loads(line) for line in f]

    def test_orders_pass_exactly_the_engine_checks_and_walk_the_book(self):
        self.start()
        body = json.dumps({"instrument": KEY, "side": "buy", "qty": "0.001"}).encode()
        status, doc = request_json(self.port, "POST", "/api/orders", {}, body)
        self.assertEqual(status, 401, doc)
        status, doc = request_json(self.port, "POST", "/api/orders", {"X-Admin-Token": "wrong"}, body)
        self.assertEqual(status, 401, doc)

        # The body, validated by the gateway: 400 naming the field.
        for fields, field in [({"instrument": "binance-spot:NOPE"}, "instrument"), ({"instrument": "BTCUSDT"}, "instrument"),
                              ({"qty": "0"}, "qty"), ({"qty": "-1"}, "qty"), ({"qty": "0.000000001"}, "qty"),
                              ({"qty": "abc"}, "qty"), ({"qty": None}, "qty"), ({"side": "hold"}, "side"),
                              ({"type": "stop"}, "type"), ({"type": "limit"}, "price"),
                              ({"type": "limit", "price": "1.001"}, "price"), ({"price": "60000"}, "price"),
                              ({"colour": "red"}, "colour")]:
            order = {"side": "buy", "qty": "0.001", **fields}
            order = {k: v for k, v in order.items() if v is not None}
            doc = self.order(400, **order)
            self.assertEqual(doc["field"], field, (fields, doc))
        self.assertIn("more than 8 decimals", self.order(400, side="buy", qty="0.000000001")["error"])

        # Accepted: filled at once, in the fills and the position.
        doc = self.order(200, side="buy", qty="0.001")
        self.assertEqual((doc["accepted"], doc["refusal"], doc["pending"]), (True, None, False), doc)
        self.assertEqual((doc["qty"], doc["filled_qty"]), (0.001, 0.001), doc)
        first_id = doc["order_id"]
        self.assertGreater(first_id, 0)
        fills = self.get("/api/fills")["fills"]
        mine = [f for f in fills if f["order_id"] == first_id]
        self.assertEqual(len(mine), 1, fills)
        self.assertEqual((mine[0]["instrument"], mine[0]["side"], mine[0]["qty"]), (KEY, "buy", 0.001), mine)
        self.assertEqual(mine[0]["price"], doc["avg_price"])
        position = [p for p in self.get("/api/positions")["positions"] if p["key"] == KEY][0]
        self.assertEqual(position["qty"], 0.001, position)

        # Each pre-trade check, with its reason.
        mid = Decimal(self.get("/api/quotes/binance-spot/BTCUSDT")["mid"])
        self.refused("price_band", side="buy", type="limit", price=str((mid * Decimal("1.02")).quantize(Decimal("0.01"))),
                     qty="0.001")
        for limit, reason in [("max_order_notional", "order_notional"), ("max_position_notional", "position_limit"),
                              ("max_gross_notional", "gross_exposure")]:
            self.assertEqual(self.set_limit(limit, "1")["result"], "done")
            self.refused(reason, side="buy", qty="0.001")
            self.set_limit(limit, str(int(BIG)))
        self.assertEqual(self.get("/api/risk")["risk"]["limits"]["max_gross_notional"], BIG)
        status, doc = request_json(self.port, "POST", "/api/control/kill", self.auth)
        self.assertEqual(status, 200, doc)
        self.refused("kill_switch", side="buy", qty="0.001")
        status, doc = request_json(self.port, "POST", "/api/control/unkill", self.auth)
        self.assertEqual(status, 200, doc)

        # The walk: the market frozen, the engine holding the venue's last update.
        self.venue.fault("kind=stall&seconds=120")
        depth = self.venue.get_json("/api/v3/depth?symbol=BTCUSDT&limit=1000")
        poll(lambda: self.book()["update_id"] == depth["lastUpdateId"], "the engine's book at the venue's last update",
             timeout=4.0)
        asks = [(Decimal(p), Decimal(q)) for p, q in depth["asks"]]
        bids = [(Decimal(p), Decimal(q)) for p, q in depth["bids"]]
        qty = asks[0][1] + (asks[1][1] / 2).quantize(Decimal("0.00000001"))
        expected = (asks[0][0] * asks[0][1] + asks[1][0] * (qty - asks[0][1])) / qty
        doc = self.order(200, side="buy", qty=str(qty))
        self.assertAlmostEqual(doc["filled_qty"], float(qty), delta=1e-12, msg=doc)  # quantities are double
        self.assertAlmostEqual(doc["avg_price"], float(expected), delta=float(expected) * 1e-12)
        self.assertAlmostEqual(doc["fee"], float(expected * qty) * 10e-4, delta=1e-9)  # 10 bps taker
        # A limit IOC sell at the best bid takes that level only; the rest is cancelled.
        doc = self.order(200, side="sell", type="limit", price=str(bids[0][0]), qty=str(bids[0][1] * 2))
        self.assertAlmostEqual(doc["filled_qty"], float(bids[0][1]), delta=1e-12, msg=doc)
        self.assertAlmostEqual(doc["avg_price"], float(bids[0][0]), delta=float(bids[0][0]) * 1e-12)  # money is double
        # Daily loss (fees and the spread paid so far are a loss): no update runs the kill switch
        # while the market is frozen, so the pre-trade check is the one that refuses.
        self.assertLess(self.get("/api/portfolio")["portfolio"]["daily_pnl"], 0)
        self.set_limit("daily_loss_limit", "0.000001")
        held = [p for p in self.get("/api/positions")["positions"] if p["key"] == KEY][0]["qty"]
        self.refused("daily_loss", side="buy" if held > 0 else "sell", qty="0.001")  # one that does not reduce
        self.set_limit("daily_loss_limit", str(int(BIG)))
        # Silent past stale_after_ms: the book is not live and orders are refused for it.
        poll(lambda: self.book()["health"] != "live", "the book no longer live")
        self.refused("book_not_live", side="buy", qty="0.001")
        self.venue.fault("kind=clear")
        self.wait_live()

        # The rate guard: one order a minute overall, several placed already.
        self.set_limit("orders_per_min_total", "1")
        self.refused("rate_limit", side="buy", qty="0.001")
        kill = self.get("/api/risk")["risk"]["kill_switch"]
        self.assertEqual((kill["tripped"], kill["cause"]), (True, "rate_limit"), kill)

        actions = [(a["action"], a["result"]) for a in self.audit_lines()]
        self.assertIn(("paper order buy market " + KEY, "unauthorized"), actions)
        self.assertIn(("paper order buy market " + KEY, "done"), actions)
        self.assertIn(("paper order buy market " + KEY, "rejected"), actions)
        self.assertIn(("paper order buy market " + KEY, "bad_request"), actions)
        self.assertIn(("risk limit orders_per_min_total", "done"), actions)
        self.assertIsNone(self.engine.poll())

    def test_an_order_on_its_way_to_the_book_refuses_the_next(self):
        self.start(latency_ms=200)
        self.venue.fault("kind=stall&seconds=120")  # no update: the order stays on its way
        doc = self.order(200, side="buy", qty="0.001")
        self.assertEqual((doc["accepted"], doc["pending"], doc["filled_qty"]), (True, True, 0), doc)
        self.refused("pending", side="buy", qty="0.001")
        self.venue.fault("kind=clear")
        fills = poll(lambda: [f for f in self.get("/api/fills")["fills"] if f["order_id"] == doc["order_id"]],
                     "the pending order filled once updates flow")
        self.assertEqual(fills[0]["qty"], 0.001, fills)

    def test_a_manual_quantity_is_rounded_down_to_the_lot(self):
        self.start(lot_size=0.001)  # over 8 quantity decimals: the lot, not the step, rounds
        doc = self.order(200, side="buy", qty="0.00374")
        self.assertEqual((doc["accepted"], doc["qty"], doc["filled_qty"]), (True, 0.003, 0.003), doc)
        fills = [f for f in self.get("/api/fills")["fills"] if f["order_id"] == doc["order_id"]]
        self.assertEqual([f["qty"] for f in fills], [0.003], fills)
        doc = self.order(200, side="sell", qty="0.002")  # whole lots: sent as asked
        self.assertEqual(doc["qty"], 0.002, doc)
        doc = self.order(409, side="buy", qty="0.00099999")
        self.assertEqual((doc["accepted"], doc["refusal"], doc["order_id"]), (False, "below_lot", 0), doc)
        self.assertEqual(doc["text"], "refused: below_lot (lot 0.001)", doc)
        self.assertEqual(self.get("/api/risk")["risk"]["refusals"]["below_lot"], 1)
        position = [p for p in self.get("/api/positions")["positions"] if p["key"] == KEY][0]
        self.assertAlmostEqual(position["qty"], 0.001, delta=1e-12, msg=position)  # 0.003 bought, 0.002 sold

    def test_risk_limits_are_validated_by_the_engine_and_shown(self):
        self.start(store={"url": "postgresql://qf:hunter2@127.0.0.1:1/qf"})  # credentials GET /api/config must hide
        doc = self.set_limit("max_order_notional", "1234.5")
        self.assertEqual((doc["result"], doc["text"]), ("done", "max_order_notional = 1234.5"), doc)
        self.assertEqual(self.get("/api/risk")["risk"]["limits"]["max_order_notional"], 1234.5)
        config = self.get("/api/config")
        self.assertEqual(config["risk"]["limits"]["max_order_notional"], 1234.5)
        self.assertEqual(config["config"]["risk"]["max_order_notional"], BIG)  # the file as started
        self.assertEqual(config["path"], self.config)
        self.assertEqual(config["config"]["store"]["url"], "<redacted>")
        self.assertNotIn("hunter2", json.dumps(config))
        self.assertEqual(self.set_limit("orders_per_s_total", 3)["result"], "done")  # a JSON number
        self.assertEqual(self.get("/api/risk")["risk"]["limits"]["orders_per_s_total"], 3)
        for limit, value, why in [("max_drawdown", "2", "must be in [0.000001, 1]"), ("max_order_notional", "-5", "must be > 0"),
                                  ("orders_per_s_total", "1.5", "whole number 1..100000"),
                                  ("price_band_bps", "20000", "above 10000 bps")]:
            doc = self.set_limit(limit, value, expect=409)
            self.assertEqual((doc["result"], doc["text"]), ("rejected", "refused: " + why), doc)
        limits = self.get("/api/risk")["risk"]["limits"]
        self.assertEqual((limits["max_drawdown"], limits["max_order_notional"], limits["orders_per_s_total"],
                          limits["price_band_bps"]), (0.15, 1234.5, 3, 50), limits)
        self.assertEqual(self.set_limit("max_leverage", "2", expect=400)["field"], "limit")
        self.assertEqual(self.set_limit("max_drawdown", "1e-3", expect=400)["field"], "value")
        status, doc = request_json(self.port, "POST", "/api/risk/limits", {}, b'{"limit":"max_drawdown","value":"0.1"}')
        self.assertEqual(status, 401, doc)
        results = [(a["action"], a["result"]) for a in self.audit_lines() if a["action"].startswith("risk limit")]
        self.assertIn(("risk limit max_drawdown", "rejected"), results)
        self.assertIn(("risk limit max_order_notional", "done"), results)
        self.assertIn(("risk limit", "bad_request"), results)


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR, GATEWAY = sys.argv[1:5]
    unittest.main(argv=sys.argv[:1], verbosity=2)
