#!/usr/bin/env python3
"""qf-gateway REST, /metrics, controls and life cycle against tests/gateway/fake_engine.

Expected values are computed here from the fake engine's published formulas (see the comment
at the top of fake_engine.cpp), never from the gateway's own code."""
import datetime
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import check, get_json, poll, request, run, start_fake, start_gateway, write_config  # noqa: E402

BASE = {"binance-spot:BTCUSDT": 6183763, "coinbase:ETH-USD": 345012}


def dec(v, d):
    s = str(abs(v)).rjust(d + 1, "0")
    out = s if d == 0 else s[:-d] + "." + s[-d:]
    return "-" + out if v < 0 else out


def iso(ns):
    t = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"


def expect_quote(q):
    key = q["key"]
    k = q["update_id"]
    check(k >= 1, f"{key}: update_id {k}")
    bid = BASE[key] + k % 100
    ask = bid + 1 + k % 3
    want = {
        "bid": dec(bid, 2), "ask": dec(ask, 2), "bid_qty": dec(100000000 + k, 8), "ask_qty": dec(50000000 + 2 * k, 8),
        "spread": dec(ask - bid, 2), "mid": dec((bid + ask) * 5, 3), "last_price": dec(bid, 2),
        "last_qty": dec(2000000 + k, 8), "last_trade_id": 1000 + k, "last_side": "buy" if k % 2 == 0 else "sell",
        "health": "live" if key.startswith("binance") else "gap",
    }
    for f, v in want.items():
        check(q[f] == v, f"{key} step {k}: {f} = {q[f]!r}, expected {v!r}")
    check(q["updated"] == iso(q["updated_unix_ns"]), f"{key}: ISO time {q['updated']} vs {q['updated_unix_ns']}")
    check(q["last_trade"] == iso(q["last_trade_unix_ns"]), f"{key}: last trade time")
    check(abs(q["spread_bps"] - (ask - bid) / ((ask + bid) / 2) * 1e4) < 1e-6, f"{key}: spread_bps")
    check(q["age_s"] >= 0, f"{key}: age")


def test_rest(port, fake_pid):
    h = get_json(port, "/api/health")
    check(h["status"] == "running" and h["mode"] == "SIM", f"health: {h}")
    check(h["engine_pid"] == fake_pid, f"health pid {h['engine_pid']} vs {fake_pid}")
    check(h["engine_start"] == iso(h["engine_start_unix_ns"]), "health start time")
    check(h["uptime_s"] >= 0 and 0 <= h["heartbeat_age_s"] < 5, f"health ages {h}")
    check(h["profile"] == {"name": "tuned", "hot_cpu": 1, "sched_policy": "SCHED_FIFO", "sched_priority": 80,
                           "threads": "split"}, f"health profile {h['profile']}")
    check([(f["name"], f["state"]) for f in h["feeds"]] == [("binance", "connected"), ("coinbase", "disconnected")],
          f"health feeds {h['feeds']}")
    check([(i["venue"], i["symbol"], i["health"]) for i in h["instruments"]] ==
          [("binance-spot", "BTCUSDT", "live"), ("coinbase", "ETH-USD", "gap"), ("binance-usdm", "SOLUSDT", "syncing")],
          f"health instruments {h['instruments']}")

    ins = get_json(port, "/api/instruments")["instruments"]
    check([(i["id"], i["key"], i["price_decimals"], i["qty_decimals"], i["feed"]) for i in ins] ==
          [(0, "binance-spot:BTCUSDT", 2, 8, 0), (1, "coinbase:ETH-USD", 2, 8, 1), (2, "binance-usdm:SOLUSDT", 3, 2, 0)],
          f"instruments {ins}")

    doc = get_json(port, "/api/quotes")
    check(doc["engine"] == "running" and doc["mode"] == "SIM", f"quotes head {doc}")
    qs = doc["quotes"]
    check([q["key"] for q in qs] == ["binance-spot:BTCUSDT", "coinbase:ETH-USD", "binance-usdm:SOLUSDT"], "quote keys")
    expect_quote(qs[0])
    expect_quote(qs[1])
    sol = qs[2]
    for f in ("bid", "ask", "bid_qty", "ask_qty", "spread", "mid", "last_price", "updated", "age_s"):
        check(sol[f] is None, f"SOLUSDT (never quoted): {f} = {sol[f]!r}")
    check(sol["health"] == "syncing", "SOLUSDT health")
    # The quotes change over time (the fake steps every 20 ms).
    first = get_json(port, "/api/quotes/binance-spot/BTCUSDT")
    expect_quote(first)
    later = poll(lambda: (lambda q: q if q["update_id"] > first["update_id"] else None)(
        get_json(port, "/api/quotes/binance-spot/BTCUSDT")), "the quote to change")
    expect_quote(later)
    expect_quote(get_json(port, "/api/quotes/coinbase/eth-usd"))  # symbol case-insensitive

    for depth in (1, 3, 10):
        b = get_json(port, f"/api/book/binance-spot/BTCUSDT?depth={depth}")
        k = b["update_id"]
        bid = BASE["binance-spot:BTCUSDT"] + k % 100
        ask = bid + 1 + k % 3
        check(b["bids"] == [[dec(bid - j, 2), dec((j + 1) * 10**8 + k, 8)] for j in range(depth)], f"book bids {b}")
        check(b["asks"] == [[dec(ask + j, 2), dec((j + 1) * 10**8 + 2 * k, 8)] for j in range(depth)], f"book asks {b}")
    check(get_json(port, "/api/book/coinbase/ETH-USD")["depth"] == 10, "default depth")

    b1 = get_json(port, "/api/bars/binance-spot/BTCUSDT?interval=1s")
    bar = b1["bar"]
    check(bar["open"] == "61837.63" and bar["high"] == "61837.70" and bar["low"] == "61837.60"
          and bar["close"] == "61837.65" and bar["volume"] == "1.50000000", f"1s bar {bar}")
    check(bar["start_unix_ns"] == 1700000000000000000 + bar["trades"] * 10**9 and bar["closed"] is True, f"1s bar {bar}")
    check(b1["indicators"]["atr"] == 1.25 and b1["indicators"]["bollinger_z"] == 0.5, f"indicators {b1}")
    check(get_json(port, "/api/bars/coinbase/ETH-USD")["interval"] == "1s", "default interval")
    m = get_json(port, "/api/bars/coinbase/ETH-USD?interval=1m")["bar"]
    check((m["open"], m["high"], m["low"], m["close"], m["volume"], m["trades"], m["start"]) ==
          ("3450.12", "3451.12", "3449.12", "3450.62", "90.25000000", 42, "2023-11-14T22:13:20.000000000Z"), f"1m bar {m}")

    f = get_json(port, "/api/features/binance-spot/BTCUSDT")
    check(f["imbalance"] == 0.25 and f["trade_flow"] == -0.5 and f["vwap"] == 61837.63 and f["atr"] == 1.25, f"features {f}")
    check(50 <= f["rsi"] <= 59 and float(f["rsi"]).is_integer(), f"features rsi {f}")

    sigs = get_json(port, "/api/signals")["signals"]
    for s in sigs[:2]:
        check(s["confidence"] == 0.75 and s["posterior"] == [0.5, 0.3, 0.2] and s["regimes"] == 3 and s["dominant"] == 0,
              f"signal {s}")
        check(-1 <= s["signal"] < 1 and abs(s["signal"] * 100 - round(s["signal"] * 100)) < 1e-9, f"signal {s}")

    fe = get_json(port, "/api/feeds")["feeds"]
    check(fe["engine"]["events_processed"] == 5 * fe["engine"]["messages_in"] and fe["engine"]["core_cpu"] == 1,
          f"engine record {fe['engine']}")
    b, c = fe["feeds"]
    check(b["name"] == "binance" and b["state"] == "connected" and b["messages"] % 2 == 0 and b["bytes"] == 150 * b["messages"]
          and b["reconnects"] == 1 and b["ring_high_water"] == 5, f"feed {b}")
    check(c["name"] == "coinbase" and c["state"] == "disconnected" and c["messages"] % 2 == 1 and c["gaps"] == 1, f"feed {c}")
    check(b["record_dropped"] == 0 and b["record_write_errors"] == 0 and c["record_dropped"] == 3
          and c["record_write_errors"] == 2, f"recorder losses {b} {c}")

    lat = {s["stage"]: s for s in get_json(port, "/api/latency")["stages"]}
    check(list(lat) == ["parse", "queue", "process", "receive_to_publish", "exchange_to_receive"], f"stages {list(lat)}")
    p = lat["parse"]
    check((p["count"], p["min_ns"], p["max_ns"], p["sum_ns"]) == (1000, 1000, 1999, sum(range(1000, 2000))), f"parse {p}")
    # True quantiles of 1000..1999 at rank ceil(q n); the histogram may report up to one bucket (1/128) above.
    for key, rank in (("p50_ns", 500), ("p90_ns", 900), ("p99_ns", 990), ("p999_ns", 999), ("p9999_ns", 1000)):
        truth = 999 + rank
        check(truth <= p[key] <= truth * (1 + 1 / 128) + 1, f"parse {key} = {p[key]}, true {truth}")
    q = lat["queue"]  # values below 256 ns are exact
    check((q["p50_ns"], q["p90_ns"], q["p99_ns"], q["max_ns"], q["count"]) == (149, 189, 198, 199, 100), f"queue {q}")
    check(q["buckets"] == [[v, v, 1] for v in range(100, 200)], "queue buckets")
    pr = lat["process"]
    check(pr["count"] == 5000 and pr["p50_ns"] == pr["p9999_ns"] == pr["max_ns"] == 50000, f"process {pr}")
    r = lat["receive_to_publish"]
    check(r["count"] == 1000 and r["sum_ns"] == 500500000 and r["max_ns"] == 1000000, f"r2p {r}")
    check(lat["exchange_to_receive"]["count"] == 0 and lat["exchange_to_receive"]["buckets"] == [], "empty stage")
    for s in lat.values():
        check(sum(bk[2] for bk in s["buckets"]) == s["count"], f"{s['stage']}: buckets sum to count")
    check("buckets" not in get_json(port, "/api/latency?buckets=0")["stages"][0], "buckets=0")

    ev = get_json(port, "/api/events")
    check(ev["written"] >= 2, f"events {ev}")
    oldest = ev["events"][-2:]
    check([(e["kind"], e["instrument"], e["text"]) for e in oldest] ==
          [("gap", "coinbase:ETH-USD", "sequence gap 100 -> 105"), ("info", None, "fake engine started")], f"events {oldest}")
    check(len(get_json(port, "/api/events?limit=1")["events"]) == 1, "events limit")


REASONS = ["none", "kill_switch", "book_not_live", "price_band", "order_notional", "position_limit", "gross_exposure",
           "daily_loss", "rate_limit", "pending"]


def close(a, b):
    return a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


def expected_risk(k):
    """Positions and portfolio of fake_engine at step k (formulas at the top of fake_engine.cpp)."""
    pos = []
    for i, key in enumerate(("binance-spot:BTCUSDT", "coinbase:ETH-USD")):
        bid = BASE[key] + k % 100
        ask = bid + 1 + k % 3
        mark = (bid + ask) / 200
        if i == 0:
            p = {"qty": 0.01 * (k % 7), "avg_cost": 60000.0, "realized": 12.5, "fees": 0.25 * (k % 7),
                 "target": 0.01 * ((k + 1) % 7), "fills": k}
        else:
            p = {"qty": -0.5, "avg_cost": 3500.0, "realized": -3.0, "fees": 1.75, "target": -0.5, "fills": 3}
        p["mark"] = mark
        p["unrealized"] = p["qty"] * (mark - p["avg_cost"])
        p["notional"] = p["qty"] * mark
        pos.append(p)
    pos.append({"qty": 0.0, "avg_cost": 0.0, "mark": 0.0, "realized": 0.0, "unrealized": 0.0, "fees": 0.0,
                "target": 0.0, "fills": 0, "notional": 0.0})
    pf = {"initial_capital": 100000.0, "realized": sum(p["realized"] for p in pos),
          "unrealized": sum(p["unrealized"] for p in pos), "fees": sum(p["fees"] for p in pos)}
    pf["equity"] = pf["initial_capital"] + pf["realized"] + pf["unrealized"] - pf["fees"]
    pf["cash"] = pf["equity"] - sum(p["notional"] for p in pos)
    pf["peak_equity"] = 101000.0
    pf["drawdown"] = (101000.0 - pf["equity"]) / 101000.0
    pf["day_start_equity"] = 100500.0
    pf["daily_pnl"] = pf["equity"] - 100500.0
    pf["gross_exposure"] = sum(abs(p["notional"]) for p in pos)
    pf["total_pnl"] = pf["equity"] - 100000.0
    pf["fills"] = k + 3
    pf["orders"] = k + 5
    return pos, pf


def test_portfolio(port):
    doc = get_json(port, "/api/portfolio")
    check(doc["engine"] == "running" and doc["mode"] == "SIM", f"portfolio head {doc}")
    p = doc["portfolio"]
    k = p["fills"] - 3
    check(k >= 1, f"portfolio step {k}")
    _, want = expected_risk(k)
    for f, v in want.items():
        check(close(p[f], v) if isinstance(v, float) else p[f] == v, f"portfolio step {k}: {f} = {p[f]!r}, expected {v!r}")
    check(p["updated"] == iso(p["updated_unix_ns"]), "portfolio time")
    # realized + unrealized - fees = equity - initial capital
    check(close(p["realized"] + p["unrealized"] - p["fees"], p["equity"] - p["initial_capital"]), "P&L identity")
    later = poll(lambda: (lambda q: q if q["fills"] > p["fills"] else None)(get_json(port, "/api/portfolio")["portfolio"]),
                     "the portfolio to change")
    _, want = expected_risk(later["fills"] - 3)
    check(close(later["equity"], want["equity"]), f"later portfolio {later}")

    pos = get_json(port, "/api/positions")["positions"]
    check([x["key"] for x in pos] == ["binance-spot:BTCUSDT", "coinbase:ETH-USD", "binance-usdm:SOLUSDT"], "position keys")
    k = pos[0]["fills"]
    want, _ = expected_risk(k)
    for x, w in zip(pos, want):
        for f, v in w.items():
            check(close(x[f], v) if isinstance(v, float) else x[f] == v, f"{x['key']} step {k}: {f} = {x[f]!r}, expected {v!r}")
    check([x["side"] for x in pos] == ["long" if k % 7 else "flat", "short", "flat"], f"position sides {pos}")
    check(pos[2]["updated"] is None and pos[0]["updated"] == iso(pos[0]["updated_unix_ns"]), "position times")

    # Fills: one per 10 steps; fill n = order n.
    doc = poll(lambda: (lambda d: d if d["written"] >= 3 else None)(get_json(port, "/api/fills")), "three fills")
    fills = doc["fills"]
    check(len(fills) == min(doc["written"], 64) and fills[0]["order_id"] == doc["written"], f"fills {doc['written']} {fills[:2]}")
    for j, f in enumerate(fills):
        n = doc["written"] - j  # newest first
        qty, price = 0.01 * n, 1000.0 + n
        check(f["order_id"] == n and f["instrument"] == ("binance-spot:BTCUSDT" if n % 2 == 0 else "coinbase:ETH-USD")
              and f["side"] == ("buy" if n % 2 == 0 else "sell") and close(f["qty"], qty) and close(f["price"], price)
              and close(f["fee"], qty * price / 1000) and close(f["realized"], n / 2) and close(f["notional"], qty * price)
              and f["time"] == iso(f["time_unix_ns"]), f"fill {n}: {f}")
    one = get_json(port, "/api/fills?limit=1")
    check(len(one["fills"]) == 1 and one["fills"][0]["order_id"] == one["written"], f"fills limit {one}")


def risk_doc(port):
    return get_json(port, "/api/risk")["risk"]


def test_risk_get(port):
    r = risk_doc(port)
    k = r["refusals"]["price_band"] // 3
    check(k >= 1 and r["enabled"] is True, f"risk {r}")
    check(list(r["refusals"]) == REASONS[1:], f"refusal reasons {list(r['refusals'])}")
    for i, name in enumerate(REASONS[2:], start=2):
        check(r["refusals"][name] == i * k, f"refusals {name} = {r['refusals'][name]}, expected {i * k}")
    check(r["limits"] == {"max_drawdown": 0.15, "daily_loss_limit": 2000, "max_order_notional": 10000,
                          "max_position_notional": 20000, "max_gross_notional": 50000, "price_band_bps": 50,
                          "orders_per_s_instrument": 5, "orders_per_min_instrument": 60, "orders_per_s_total": 10,
                          "orders_per_min_total": 200}, f"limits {r['limits']}")
    u = r["usage"]
    check(u["orders_last_s"] == k % 5 and u["orders_last_min"] == k % 60, f"usage at step {k}: {u}")
    _, pf = expected_risk(k)
    check(close(u["drawdown"], pf["drawdown"]) and close(u["gross_exposure"], pf["gross_exposure"])
          and close(u["daily_loss"], max(0.0, -pf["daily_pnl"])), f"usage at step {k}: {u} vs {pf}")
    ks = r["kill_switch"]
    check(ks == {"tripped": False, "mode": "none", "cause": "none", "since_unix_ns": 0, "since": None, "trips": 0},
          f"kill switch {ks}")
    check(r["updated"] == iso(r["updated_unix_ns"]), "risk time")


def test_risk_controls(port, audit, token):
    n0 = len(audit_lines(audit))
    trips0 = risk_doc(port)["kill_switch"]["trips"]  # the /api/control/kill requests tripped it before
    url = "/api/risk/kill-switch"
    halt = json.dumps({"enabled": True, "mode": "halt"}).encode()
    tok = {"X-Admin-Token": token, "Content-Type": "application/json"}
    s, _, b = request(port, "POST", url, body=halt)
    check(s == 401 and "missing" in json.loads(b)["error"], f"kill-switch without token: {s} {b!r}")
    s, _, b = request(port, "POST", url, headers={"X-Admin-Token": token + "x"}, body=halt)
    check(s == 401 and "wrong" in json.loads(b)["error"], f"kill-switch wrong token: {s} {b!r}")
    s, _, b = request(port, "POST", "/api/risk/reset", headers={"X-Admin-Token": "nope"})
    check(s == 401, f"reset wrong token: {s} {b!r}")
    check(not risk_doc(port)["kill_switch"]["tripped"], "refused requests change nothing")
    bad = [(b"", "body"), (b"not json", "body"), (b"[true]", "body"), (b"{}", "enabled"), (b'{"enabled": "yes"}', "enabled"),
           (b'{"enabled": 1}', "enabled"), (b'{"enabled": true, "mode": "panic"}', "mode"),
           (b'{"enabled": true, "mode": 3}', "mode"), (b'{"enabled": true, "colour": "red"}', "colour")]
    for body, field in bad:
        s, h, b = request(port, "POST", url, headers=tok, body=body)
        doc = json.loads(b)
        check(s == 400 and h["content-type"].startswith("application/json") and doc["field"] == field
              and doc["parameter"] == field and f"'{field}'" in doc["error"], f"bad body {body!r}: {s} {doc}")
    s, _, b = request(port, "POST", "/api/risk/reset", headers=tok, body=b'{"force": true}')
    check(s == 400 and json.loads(b)["field"] == "force", f"reset with a field: {s} {b!r}")
    check(not risk_doc(port)["kill_switch"]["tripped"], "bad bodies change nothing")
    for method, path, allow in (("GET", url, "POST"), ("GET", "/api/risk/reset", "POST"), ("POST", "/api/risk", "GET"),
                                ("POST", "/api/portfolio", "GET"), ("DELETE", "/api/fills", "GET")):
        s, h, b = request(port, method, path, body=b"" if method == "POST" else None)
        check(s == 405 and h.get("allow") == allow, f"{method} {path}: {s} {h}")

    def post(body, want_text, action):
        s, _, b = request(port, "POST", url, headers=tok, body=json.dumps(body).encode())
        ack = json.loads(b)
        check(s == 200 and ack["result"] == "done" and ack["text"] == want_text and ack["action"] == action,
              f"kill-switch {body}: {s} {ack}")

    post({"enabled": True, "mode": "halt"}, "changed; kill switch halt", "risk kill-switch halt")
    r = poll(lambda: (lambda r: r if r["kill_switch"]["tripped"] else None)(risk_doc(port)), "the kill switch tripped")
    ks = r["kill_switch"]
    check(ks["mode"] == "halt" and ks["cause"] == "command" and ks["trips"] == trips0 + 1 and ks["since"] == iso(ks["since_unix_ns"]),
          f"tripped: {ks}")
    # The engine refuses orders while tripped: its kill_switch refusal counter grows.
    seen = r["refusals"]["kill_switch"]
    poll(lambda: risk_doc(port)["refusals"]["kill_switch"] > seen, "kill-switch refusals")
    ev = get_json(port, "/api/events?limit=10")["events"]
    check(any(e["kind"] == "risk" and e["text"] == "kill switch tripped: command, mode halt" for e in ev), f"risk event {ev}")
    poll(lambda: parse_metrics(request(port, "GET", "/metrics")[2].decode())["qf_kill_switch_tripped"] == 1, "metric")
    post({"enabled": True, "mode": "reduce-only"}, "changed; kill switch reduce-only", "risk kill-switch reduce-only")
    r = poll(lambda: (lambda r: r if r["kill_switch"]["mode"] == "reduce-only" else None)(risk_doc(port)), "reduce-only")
    check(r["kill_switch"]["since_unix_ns"] == ks["since_unix_ns"] and r["kill_switch"]["trips"] == trips0 + 1
          and r["kill_switch"]["cause"] == "command", f"a mode change keeps the trip: {r['kill_switch']}")
    post({"enabled": True, "mode": "flatten"}, "changed; kill switch flatten", "risk kill-switch flatten")
    poll(lambda: risk_doc(port)["kill_switch"]["mode"] == "flatten", "flatten")
    m = poll(lambda: (lambda m: m if m['qf_kill_switch_mode{mode="flatten"}'] == 1 else None)(
        parse_metrics(request(port, "GET", "/metrics")[2].decode())), "flatten metric")
    check(m['qf_kill_switch_cause{cause="command"}'] == 1 and m["qf_kill_switch_trips_total"] == trips0 + 1, "cause metric")
    post({"enabled": False}, "changed; kill switch none", "risk kill-switch off")
    poll(lambda: not risk_doc(port)["kill_switch"]["tripped"], "kill switch released")
    post({"enabled": True}, "changed; kill switch halt", "risk kill-switch halt")  # mode defaults to halt
    poll(lambda: risk_doc(port)["kill_switch"]["trips"] == trips0 + 2, "second trip")
    s, _, b = request(port, "POST", "/api/risk/reset", headers={"X-Admin-Token": token})
    ack = json.loads(b)
    check(s == 200 and ack["result"] == "done" and ack["text"] == "changed; kill switch none" and ack["action"] == "risk reset",
          f"reset: {s} {ack}")
    r = poll(lambda: (lambda r: r if not r["kill_switch"]["tripped"] else None)(risk_doc(port)), "reset")
    check(r["kill_switch"]["cause"] == "none" and r["kill_switch"]["since"] is None, f"after reset {r['kill_switch']}")
    s, _, b = request(port, "POST", "/api/risk/reset", headers=tok, body=b"{}")
    check(s == 200 and json.loads(b)["text"] == "unchanged; kill switch none", f"reset again: {s} {b!r}")

    lines = audit_lines(audit)[n0:]
    want = [("risk kill-switch halt", "unauthorized", 401), ("risk kill-switch halt", "unauthorized", 401),
            ("risk reset", "unauthorized", 401)]
    want += [("risk kill-switch", "bad_request", 400)] * 3
    want += [("risk kill-switch", "bad_request", 400), ("risk kill-switch", "bad_request", 400),
             ("risk kill-switch", "bad_request", 400), ("risk kill-switch", "bad_request", 400),
             ("risk kill-switch", "bad_request", 400), ("risk kill-switch", "bad_request", 400),
             ("risk reset", "bad_request", 400)]
    # The 405s on the two control paths are audited too (issue 17: every outcome).
    want += [("GET /api/risk/kill-switch", "refused", 405), ("GET /api/risk/reset", "refused", 405)]
    want += [("risk kill-switch halt", "done", 200), ("risk kill-switch reduce-only", "done", 200),
             ("risk kill-switch flatten", "done", 200), ("risk kill-switch off", "done", 200),
             ("risk kill-switch halt", "done", 200), ("risk reset", "done", 200), ("risk reset", "done", 200)]
    check([(l["action"], l["result"], l["status"]) for l in lines] == want, f"audit lines {lines}")
    for l in lines:
        check(l["remote"] == "127.0.0.1" and l["time"] == iso(l["unix_ns"]), f"audit line {l}")
    check(lines[4]["detail"].startswith("invalid field 'body'"), f"audit of a bad body names the field: {lines[4]}")
    check(token not in open(audit).read(), "the audit log must not contain the token")


def test_errors(port):
    cases = [
        ("GET", "/api/quotes/binance-spot/NOPE", 404, None),
        ("GET", "/api/book/kraken/BTCUSDT", 404, None),
        ("GET", "/api/nope", 404, None),
        ("GET", "/api/quotes/binance-spot", 404, None),
        ("GET", "/no/such/file.html", 404, None),
        ("GET", "/api/book/binance-spot/BTCUSDT?depth=0", 400, "depth"),
        ("GET", "/api/book/binance-spot/BTCUSDT?depth=11", 400, "depth"),
        ("GET", "/api/book/binance-spot/BTCUSDT?depth=abc", 400, "depth"),
        ("GET", "/api/bars/binance-spot/BTCUSDT?interval=5m", 400, "interval"),
        ("GET", "/api/quotes?colour=red", 400, "colour"),
        ("GET", "/api/events?limit=0", 400, "limit"),
        ("GET", "/api/fills?limit=0", 400, "limit"),
        ("GET", "/api/fills?limit=65", 400, "limit"),
        ("GET", "/api/risk?x=1", 400, "x"),
        ("GET", "/api/portfolio/x", 404, None),
        ("POST", "/api/quotes", 405, None),
        ("DELETE", "/api/health", 405, None),
        ("PUT", "/metrics", 405, None),
        ("GET", "/api/control/kill", 405, None),
        ("GET", "/api/control/resync/binance-spot/BTCUSDT", 405, None),
    ]
    for method, path, status, param in cases:
        got, headers, body = request(port, method, path, body=b"" if method in ("POST", "PUT") else None)
        check(got == status, f"{method} {path}: {got}, expected {status}: {body!r}")
        check(headers.get("content-type", "").startswith("application/json"), f"{method} {path}: JSON error")
        doc = json.loads(body)
        check(doc["status"] == status and doc["error"], f"{method} {path}: {doc}")
        if param:
            check(doc.get("parameter") == param and param in doc["error"], f"{method} {path}: names {param}: {doc}")
        if status == 405:
            check(headers.get("allow") in ("GET", "POST"), f"{method} {path}: Allow header {headers}")


def test_static(port, web_root):
    for path, ctype, src in (("/", "text/html", "index.html"), ("/index.html", "text/html", "index.html"),
                             ("/app.js", "text/javascript", "app.js"), ("/style.css", "text/css", "style.css")):
        status, headers, body = request(port, "GET", path)
        check(status == 200 and headers["content-type"].startswith(ctype), f"GET {path}: {status} {headers}")
        with open(os.path.join(web_root, src), "rb") as f:
            check(body == f.read(), f"GET {path}: content differs from {src}")
    status, headers, body = request(port, "GET", "/vendor/uPlot.iife.min.js")
    check(status == 200 and headers["content-type"].startswith("text/javascript") and b"uPlot" in body, "uPlot served")
    status, headers, _ = request(port, "GET", "/vendor/uPlot.min.css")
    check(status == 200 and headers["content-type"].startswith("text/css"), "uPlot css")
    for path in ("/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/vendor/../../package.json",
                 "/vendor/%2e%2e/%2e%2e/package.json", "/..%2f..%2fCMakeLists.txt", "/.hidden", "/../../../../etc/passwd",
                 "/vendor/", "/web"):
        status, _, body = request(port, "GET", path)
        check(status == 404, f"traversal {path}: {status} {body[:100]!r}")
        check(b"cmake_minimum_required" not in body and b"root:" not in body, f"traversal {path} leaked a file")


def parse_metrics(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics(port, promtool):
    status, headers, body = request(port, "GET", "/metrics")
    check(status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"), f"/metrics {status} {headers}")
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
    check(res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(),
          f"promtool check metrics: rc {res.returncode}: {res.stdout!r} {res.stderr!r}")
    # promtool can fail: a counter without _total is rejected.
    bad = subprocess.run([promtool, "check", "metrics"], input=b"# HELP x_count c\n# TYPE x_count counter\nx_count 1\n",
                         capture_output=True)
    check(bad.returncode != 0, "promtool accepted a malformed exposition; the check proves nothing")
    m = parse_metrics(body.decode())
    p = 'stage="parse"'
    check(m[f'qf_latency_seconds_count{{{p}}}'] == 1000, "parse count")
    check(abs(m[f'qf_latency_seconds_sum{{{p}}}'] - sum(range(1000, 2000)) * 1e-9) < 1e-12, "parse sum")
    check(m[f'qf_latency_seconds_bucket{{{p},le="0.0000025"}}'] == 1000, "all parse values <= 2.5 us")
    check(m[f'qf_latency_seconds_bucket{{{p},le="0.0000005"}}'] == 0, "no parse value <= 0.5 us")
    check(m[f'qf_latency_seconds_bucket{{{p},le="+Inf"}}'] == 1000, "+Inf bucket")
    check(m['qf_latency_seconds_bucket{stage="queue",le="0.00000025"}'] == 100, "queue values <= 250 ns")
    # 100 us is not a histogram bucket edge: the bucket holding it (width 512 ns) counts above the
    # bound, so the cumulative count may miss the one value in that bucket (never over-count).
    r2p = m['qf_latency_seconds_bucket{stage="receive_to_publish",le="0.0001"}']
    check(r2p in (99, 100), f"r2p values <= 100 us: {r2p}")
    check(m['qf_latency_seconds_bucket{stage="receive_to_publish",le="0.0025"}'] == 1000, "r2p values <= 2.5 ms")
    check(m['qf_engine_up'] == 1 and m['qf_engine_status{status="running"}'] == 1, "engine up")
    btc = 'venue="binance-spot",symbol="BTCUSDT"'
    eth = 'venue="coinbase",symbol="ETH-USD"'
    check(m[f'qf_instrument_book_health{{{btc},health="live"}}'] == 1 and
          m[f'qf_instrument_book_health{{{eth},health="gap"}}'] == 1 and
          m[f'qf_instrument_book_health{{{eth},health="live"}}'] == 0, "book health")
    check(m[f'qf_instrument_gaps_total{{{eth}}}'] == 1 and m[f'qf_instrument_gaps_total{{{btc}}}'] == 0, "gaps")
    check(m[f'qf_instrument_signal_confidence{{{btc}}}'] == 0.75, "confidence")
    check(m[f'qf_instrument_regime_probability{{{btc},regime="1"}}'] == 0.3, "regime posterior")
    check(m['qf_feed_connected{feed="binance"}'] == 1 and m['qf_feed_connected{feed="coinbase"}'] == 0, "feed state")
    check(m['qf_feed_reconnects_total{feed="coinbase"}'] == 1, "feed counter")
    check(m['qf_feed_record_dropped_total{feed="coinbase"}'] == 3
          and m['qf_feed_record_write_errors_total{feed="coinbase"}'] == 2, "recorder losses")
    check(0 <= m["qf_engine_heartbeat_age_seconds"] < 5, "heartbeat age")
    check(any(k.startswith('qf_engine_info{mode="SIM"') for k in m), "mode label")
    # Risk and paper execution, all from one snapshot: k from the fills counter.
    k = int(m["qf_paper_fills_total"]) - 3
    pos, pf = expected_risk(k)
    check(close(m["qf_equity"], pf["equity"]) and close(m["qf_peak_equity"], 101000), f"qf_equity at step {k}")
    check(close(m["qf_drawdown_ratio"], pf["drawdown"]), f"qf_drawdown_ratio at step {k}")
    check(close(m["qf_daily_pnl"], pf["daily_pnl"]) and close(m["qf_gross_exposure"], pf["gross_exposure"]), "daily/gross")
    check(m["qf_paper_orders_total"] == k + 5 and close(m["qf_fees_paid_total"], pf["fees"]), "orders/fees")
    sol = 'venue="binance-usdm",symbol="SOLUSDT"'
    check(close(m[f"qf_position{{{btc}}}"], pos[0]["qty"]) and m[f"qf_position{{{eth}}}"] == -0.5
          and m[f"qf_position{{{sol}}}"] == 0, f"qf_position at step {k}")
    check(close(m[f"qf_position_notional{{{eth}}}"], -0.5 * pos[1]["mark"]), "position notional")
    for r, name in enumerate(REASONS):
        if r >= 2:
            check(m[f'qf_risk_refusals_total{{reason="{name}"}}'] == r * k, f"refusals {name} at step {k}")
    check(m['qf_risk_refusals_total{reason="kill_switch"}'] == 0, "no kill-switch refusals yet")
    check(not any(x.startswith('qf_risk_refusals_total{reason="none"') for x in m), "no 'none' reason")
    check(m["qf_kill_switch_tripped"] == 0 and m['qf_kill_switch_mode{mode="none"}'] == 1
          and m['qf_kill_switch_mode{mode="halt"}'] == 0 and m['qf_kill_switch_cause{cause="none"}'] == 1
          and m["qf_kill_switch_trips_total"] == 0, "kill switch gauges")


def audit_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_controls(procs, args, instance, port, audit, token):
    url = "/api/control/resync/binance-spot/BTCUSDT"
    n0 = len(audit_lines(audit))
    s, _, b = request(port, "POST", url)
    check(s == 401 and "missing" in json.loads(b)["error"], f"no token: {s} {b!r}")
    s, _, b = request(port, "POST", url, headers={"X-Admin-Token": token + "x"})
    check(s == 401 and "wrong" in json.loads(b)["error"], f"wrong token: {s} {b!r}")
    s, _, b = request(port, "POST", url, headers={"X-Admin-Token": token[:-1]})
    check(s == 401, f"token prefix: {s} {b!r}")
    s, _, b = request(port, "POST", url, headers={"X-Admin-Token": token})
    ack = json.loads(b)
    check(s == 200 and ack["result"] == "done" and ack["text"] == "resync requested"
          and ack["instrument"] == "binance-spot:BTCUSDT", f"resync: {s} {ack}")
    # The engine executed it: its event log and health counters show the resync.
    ev = get_json(port, "/api/events?limit=5")["events"]
    check(any(e["kind"] == "resync" and e["instrument"] == "binance-spot:BTCUSDT" and e["text"] == "resync by gateway 127.0.0.1"
              for e in ev), f"resync event {ev}")
    poll(lambda: get_json(port, "/api/feeds")["feeds"]["feeds"][0]["resyncs"] == 1, "feed resync counter")
    s, _, b = request(port, "POST", "/api/control/resync/coinbase/ETH-USD", headers={"X-Admin-Token": token}, body=b'{"why":"test"}')
    check(s == 200 and json.loads(b)["result"] == "done", f"resync with a body: {s} {b!r}")
    s, _, b = request(port, "POST", "/api/control/resync/binance-spot/NOPE", headers={"X-Admin-Token": token})
    check(s == 404, f"resync unknown instrument: {s} {b!r}")
    for action, mode in (("kill", "halt"), ("unkill", "none"), ("flatten", "flatten"), ("resume", "none")):
        s, _, b = request(port, "POST", f"/api/control/{action}", headers={"X-Admin-Token": token})
        check(s == 200 and json.loads(b)["result"] == "done" and json.loads(b)["text"] == f"changed; kill switch {mode}",
              f"{action}: {s} {b!r}")
    s, _, b = request(port, "POST", "/api/control/explode", headers={"X-Admin-Token": token})
    check(s == 404, f"unknown control: {s}")
    lines = audit_lines(audit)[n0:]
    check([(l["action"], l["result"], l["status"]) for l in lines] == [
        ("resync binance-spot:BTCUSDT", "unauthorized", 401), ("resync binance-spot:BTCUSDT", "unauthorized", 401),
        ("resync binance-spot:BTCUSDT", "unauthorized", 401), ("resync binance-spot:BTCUSDT", "done", 200),
        ("resync coinbase:ETH-USD", "done", 200), ("resync binance-spot:NOPE", "unknown_instrument", 404),
        ("kill", "done", 200), ("unkill", "done", 200), ("flatten", "done", 200),
        ("resume", "done", 200), ("POST /api/control/explode", "refused", 404)], f"audit lines {lines}")
    for l in lines:
        check(l["remote"] == "127.0.0.1" and l["time"] == iso(l["unix_ns"]), f"audit line {l}")
    check(token not in open(audit).read(), "the audit log must not contain the token")

    # A second producer on the same control queue is refused while the first lives.
    cfg2 = os.path.join(args.work, "second.toml")
    write_config(cfg2, instance, os.path.join(args.work, "audit2.jsonl"))
    g2, port2 = start_gateway(procs, args.gateway, cfg2, token=token)
    s, _, b = request(port2, "POST", "/api/control/kill", headers={"X-Admin-Token": token})
    check(s == 503 and "producer slot held" in json.loads(b)["error"], f"second producer: {s} {b!r}")
    # No token configured at all: 403 saying why.
    procs.stop(g2)
    cfg3 = os.path.join(args.work, "notoken.toml")
    audit3 = os.path.join(args.work, "audit3.jsonl")
    write_config(cfg3, instance, audit3)
    g3, port3 = start_gateway(procs, args.gateway, cfg3)
    s, _, b = request(port3, "POST", url, headers={"X-Admin-Token": token})
    check(s == 403 and "no admin token configured" in json.loads(b)["error"], f"not configured: {s} {b!r}")
    check([l["result"] for l in audit_lines(audit3)] == ["forbidden"], "audit of the 403")
    procs.stop(g3)


def test_timeout(procs, args):
    """An engine that never acknowledges: 504 naming the timeout, within the gateway's bound."""
    inst = f"gwto{os.getpid()}"
    start_fake(procs, args.fake, inst, "--ignore-control")
    tok = os.path.join(args.work, "token")
    with open(tok, "w") as f:
        f.write("file-token\n")
    os.chmod(tok, 0o644)
    audit = os.path.join(args.work, "audit-timeout.jsonl")
    cfg = os.path.join(args.work, "timeout.toml")
    write_config(cfg, inst, audit, admin_token_file=tok)
    g, port = start_gateway(procs, args.gateway, cfg, extra=("--control-timeout-ms", "300"))
    # A token file others can read is accepted with a warning that names it and its mode.
    check(f"admin_token_file {tok} has mode 0644" in g.log(), f"no world-readable warning: {g.log()!r}")
    poll(lambda: json.loads(request(port, "GET", "/api/health")[2])["status"] == "running", "timeout engine running")
    s, _, b = request(port, "POST", "/api/control/resync/binance-spot/BTCUSDT", headers={"X-Admin-Token": "file-token"})
    check(s == 504 and "300 ms" in json.loads(b)["error"], f"timeout: {s} {b!r}")
    check([l["result"] for l in audit_lines(audit)] == ["timeout"], "audit of the timeout")
    # While one control waits, the loop keeps serving.
    check(get_json(port, "/api/quotes")["engine"] == "running", "loop alive")
    procs.stop(g)
    os.chmod(tok, 0o600)
    g, port = start_gateway(procs, args.gateway, cfg)
    check("admin_token_file" not in g.log(), f"a 0600 token file warned: {g.log()!r}")
    procs.stop(g)


def test_read_only(gw_pid, instance):
    with open(f"/proc/{gw_pid}/maps") as f:
        maps = f.read()
    state = [l for l in maps.splitlines() if l.endswith(f"/dev/shm/qf.{instance}.state")]
    control = [l for l in maps.splitlines() if l.endswith(f"/dev/shm/qf.{instance}.control")]
    check(state, f"the gateway maps the state segment: {maps[-500:]}")
    for l in state:
        check(l.split()[1] == "r--s", f"state mapping must be read-only shared: {l}")
    for l in control:
        check(l.split()[1] == "rw-s", f"control mapping: {l}")


def health(port):
    return json.loads(request(port, "GET", "/api/health")[2])


def test_life_cycle(procs, args, instance, port, fake, token):
    os.kill(fake.pid, signal.SIGSTOP)
    poll(lambda: health(port)["status"] == "stalled", "stalled engine")
    os.kill(fake.pid, signal.SIGCONT)
    poll(lambda: health(port)["status"] == "running", "engine running again")
    gen = get_json(port, "/api/health")["generation"]
    procs.stop(fake)
    poll(lambda: health(port)["status"] == "stopped", "stopped engine")
    check(request(port, "GET", "/api/health")[0] == 503, "a stopped engine is 503")
    check(get_json(port, "/api/quotes")["engine"] == "stopped", "quotes say stopped")
    fake2 = start_fake(procs, args.fake, instance)
    h = poll(lambda: (lambda h: h if h["status"] == "running" and h["generation"] > gen else None)(
        health(port)),
        "restarted engine")
    check(h["generation"] == gen + 1 and h["engine_pid"] == fake2.pid, f"restart: {h}")
    # The control queue follows the restart too.
    s, _, b = request(port, "POST", "/api/control/resync/binance-spot/BTCUSDT", headers={"X-Admin-Token": token})
    check(s == 200 and json.loads(b)["result"] == "done", f"resync after restart: {s} {b!r}")
    return fake2


def expect_composite(c, depth=10):
    """The fake's composite "BTC" (fake_engine.cpp's header), recovered step k = updates."""
    k = c["updates"]
    check(k >= 1, f"composite updates {k}")
    b = BASE["binance-spot:BTCUSDT"] + k % 100
    n = min(3, depth)
    bids = [{"price": dec(b - j, 2), "qty": dec((j + 1) * 10**8 + k, 8),
             "members": {"binance-spot:BTCUSDT": dec((j + 1) * 10**8, 8), "coinbase:ETH-USD": dec(k, 8)}}
            for j in range(n)]
    asks = [{"price": dec(b + 1 + j, 2), "qty": dec(j * 10**8 + 2 * k + 1, 8),
             "members": ({"binance-spot:BTCUSDT": dec(j * 10**8, 8)} if j else {}) | {"coinbase:ETH-USD": dec(2 * k + 1, 8)}}
            for j in range(n)]
    want = {
        "asset": "BTC", "price_decimals": 2, "qty_decimals": 8, "stale_after_ms": 5000, "busy": False,
        "best_bid": {"price": dec(b, 2), "qty": dec(10**8 + k, 8), "key": "binance-spot:BTCUSDT",
                     "venue": "binance-spot", "symbol": "BTCUSDT"},
        "best_ask": {"price": dec(b + 1, 2), "qty": dec(2 * k + 1, 8), "key": "coinbase:ETH-USD",
                     "venue": "coinbase", "symbol": "ETH-USD"},
        "spread": dec(1, 2), "crossed": False, "included": 2, "members_total": 3, "depth": depth,
        "bids": bids, "asks": asks,
    }
    for f, v in want.items():
        check(c[f] == v, f"composite step {k}: {f} = {c[f]!r}, expected {v!r}")
    check(c["updated"] == iso(c["updated_unix_ns"]), "composite ISO time")
    m = c["members"]
    check([(x["key"], x["health"], x["included"], x["excluded"]) for x in m] ==
          [("binance-spot:BTCUSDT", "live", True, None), ("coinbase:ETH-USD", "live", True, None),
           ("binance-usdm:SOLUSDT", "syncing", False, "not_live")], f"composite members {m}")
    check((m[0]["bid_price"], m[0]["bid_qty"], m[0]["ask_price"], m[0]["ask_qty"]) ==
          (dec(b, 2), dec(10**8, 8), dec(b + 2, 2), dec(10**8, 8)), f"member 0 top {m[0]}")
    check((m[1]["bid_price"], m[1]["bid_qty"], m[1]["ask_price"], m[1]["ask_qty"]) ==
          (dec(b, 2), dec(k, 8), dec(b + 1, 2), dec(2 * k + 1, 8)), f"member 1 top {m[1]}")
    check(all(m[2][f] is None for f in ("bid_price", "bid_qty", "ask_price", "ask_qty", "updated")), f"member 2 {m[2]}")
    check(m[0]["updated"] == iso(m[0]["updated_unix_ns"]), "member ISO time")


def test_composite(port):
    doc = get_json(port, "/api/composite")
    check(doc["engine"] == "running" and doc["mode"] == "SIM", f"composite head {doc}")
    check([c["asset"] for c in doc["composites"]] == ["BTC"], f"composites {doc['composites']}")
    expect_composite(doc["composites"][0])
    expect_composite(get_json(port, "/api/composite/BTC"))
    expect_composite(get_json(port, "/api/composite/btc?depth=2"), depth=2)
    first = get_json(port, "/api/composite/BTC")["updates"]
    poll(lambda: get_json(port, "/api/composite/BTC")["updates"] > first, "the composite changes over time")
    check(get_json(port, "/api/composite/ETH", expect=404)["error"] == "unknown composite ETH", "unknown asset")
    check("depth" in get_json(port, "/api/composite/BTC?depth=11", expect=400)["error"], "depth range")
    check("levels" in get_json(port, "/api/composite?levels=3", expect=400)["error"], "unknown parameter")
    check(get_json(port, "/api/composite/BTC/x", expect=404)["error"].startswith("no such endpoint"), "extra path")
    status, _, _ = request(port, "POST", "/api/composite")
    check(status == 405, f"POST /api/composite: {status}")


def main(args, procs):
    instance = f"gwt{os.getpid()}"
    token = "t0ken-" + os.urandom(8).hex()
    audit = os.path.join(args.work, "audit.jsonl")
    cfg = os.path.join(args.work, "gateway.toml")
    write_config(cfg, instance, audit, stall_after_ms=300)
    # The gateway starts before the engine: "awaiting".
    gw, port = start_gateway(procs, args.gateway, cfg, token=token)
    h = get_json(port, "/api/health", expect=503)
    check(h["status"] == "awaiting" and h["mode"] is None, f"before the engine: {h}")
    check(get_json(port, "/api/quotes")["quotes"] == [], "no quotes before the engine")
    check(get_json(port, "/api/portfolio")["portfolio"] is None and get_json(port, "/api/risk")["risk"] is None
          and get_json(port, "/api/positions")["positions"] == [] and get_json(port, "/api/fills")["fills"] == [],
          "no portfolio before the engine")
    check(get_json(port, "/api/composite")["composites"] == [], "no composites before the engine")
    check(get_json(port, "/api/composite/BTC", expect=503)["error"].startswith("awaiting"), "composite 503")
    check(get_json(port, "/api/quotes/binance-spot/BTCUSDT", expect=503)["error"].startswith("awaiting"), "503")
    fake = start_fake(procs, args.fake, instance)
    poll(lambda: json.loads(request(port, "GET", "/api/health")[2])["status"] == "running", "engine running")
    steps = [("rest", lambda: test_rest(port, fake.pid)), ("composite", lambda: test_composite(port)),
             ("errors", lambda: test_errors(port)),
             ("static", lambda: test_static(port, args.web_root)), ("metrics", lambda: test_metrics(port, args.promtool)),
             ("read-only", lambda: test_read_only(gw.pid, instance)),
             ("portfolio", lambda: test_portfolio(port)), ("risk", lambda: test_risk_get(port)),
             ("controls", lambda: test_controls(procs, args, instance, port, audit, token)),
             ("risk controls", lambda: test_risk_controls(port, audit, token)),
             ("timeout", lambda: test_timeout(procs, args)),
             ("life cycle", lambda: test_life_cycle(procs, args, instance, port, fake, token))]
    for name, step in steps:
        step()
        print(f"ok: {name}")
    check(gw.poll() is None, "the gateway is still running")
    procs.stop(gw)
    check(gw.returncode == 0, f"gateway exit status {gw.returncode}: {gw.log()}")


if __name__ == "__main__":
    sys.exit(run("gateway_test", main, ("--gateway", "--fake", "--promtool", "--work"),
                 {"--web-root": os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../gateway/web")}))
