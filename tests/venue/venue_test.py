#!/usr/bin/env python3
"""qf-venue over real sockets: Binance spot/USD-M sync rules against REST snapshots, the live
SUBSCRIBE protocol, ping frames, every fault, TLS with the generated CA, capture replay;
Coinbase, OKX (books chain and checksums recomputed here) and Coinbase Advanced (sequence_num
recomputed here) protocols.

Usage: venue_test.py QF_VENUE CAPTURES_DIR
Expectations come from PROTOCOLS.md and the captures, never from qf-venue's own output.
"""
import gzip
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import zlib
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import case_procs  # noqa: E402
from venue_client import Closed, WsClient, http_request, start_venue  # noqa: E402

VENUE = CAPTURES = None
BTC_CAPTURE = "binance-spot/btcusdt_20240808.capture.gz"


def apply_levels(side, levels):
    for p, q in levels:
        if Decimal(q) == 0:
            side.pop(Decimal(p), None)
        else:
            side[Decimal(p)] = Decimal(q)


def book_from(snapshot):
    book = {"bids": {}, "asks": {}}
    apply_levels(book["bids"], snapshot["bids"])
    apply_levels(book["asks"], snapshot["asks"])
    return book


def top(book):
    bid = max(book["bids"])
    ask = min(book["asks"])
    return bid, book["bids"][bid], ask, book["asks"][ask]


class VenueCase(unittest.TestCase):
    def setUp(self):
        self.procs = case_procs(self)

    def start(self, *args):
        v = start_venue(self.procs, VENUE, *args)
        self.addCleanup(self.stop, v)
        return v

    def stop(self, v):
        self.assertEqual(v.stop(), 0, "qf-venue must exit 0 on SIGTERM")

    def ws(self, v, path, **kw):
        c = v.ws(path, **kw)
        self.addCleanup(c.close)
        return c


class BinanceSyncTest(VenueCase):
    def sync_and_compare(self, usdm):
        v = self.start("--venue", "binance-usdm" if usdm else "binance", "--rate", "2000", "--seed", "7")
        self.assertEqual(v.venue, "binance-usdm" if usdm else "binance-spot")
        depth = "depth@0ms" if usdm else "depth@100ms"
        path = "/fapi/v1/depth" if usdm else "/api/v3/depth"
        ws = self.ws(v, f"/stream?streams=btcusdt@{depth}/btcusdt@bookTicker")
        diff_keys = {"e", "E", "T", "s", "U", "u", "pu", "b", "a"} if usdm else {"e", "E", "s", "U", "u", "b", "a"}
        ticker_keys = {"e", "u", "s", "b", "B", "a", "A", "T", "E"} if usdm else {"u", "s", "b", "B", "a", "A"}

        def next_message():
            m = ws.recv_json()
            self.assertEqual(set(m), {"stream", "data"})
            return m["stream"], m["data"]

        buffered = []
        while not buffered:
            stream, d = next_message()
            if stream.endswith(depth):
                buffered.append(d)
        snap = v.get_json(f"{path}?symbol=BTCUSDT&limit=1000")
        if usdm:
            self.assertTrue({"E", "T"} <= set(snap))
        L = snap["lastUpdateId"]
        book = book_from(snap)
        # Binance rules (PROTOCOLS 1.4 / 2): drop what the snapshot covers, the first event straddles it.
        first = None
        while first is None:
            if not buffered:
                stream, d = next_message()
                if not stream.endswith(depth):
                    continue
                buffered.append(d)
            d = buffered.pop(0)
            self.assertEqual(set(d), diff_keys)
            if (d["u"] < L) if usdm else (d["u"] <= L):
                continue
            first = d
        if usdm:
            self.assertTrue(first["U"] <= L <= first["u"], (L, first["U"], first["u"]))
        else:
            self.assertTrue(first["U"] <= L + 1 <= first["u"], (L, first["U"], first["u"]))
        apply_levels(book["bids"], first["b"])
        apply_levels(book["asks"], first["a"])
        last_u = first["u"]
        pending = buffered
        diffs = tickers = global_jumps = 0
        second = None
        while True:
            if pending:
                stream, d = "btcusdt@" + depth, pending.pop(0)
            else:
                stream, d = next_message()
            if stream == "btcusdt@bookTicker":
                self.assertEqual(set(d), ticker_keys)
                # Same update id as the last diff applied, and the book's top at that id.
                self.assertEqual(d["u"], last_u)
                self.assertEqual((Decimal(d["b"]), Decimal(d["B"]), Decimal(d["a"]), Decimal(d["A"])), top(book))
                tickers += 1
                continue
            self.assertEqual(set(d), diff_keys)
            if usdm:
                self.assertEqual(d["pu"], last_u, "USD-M chain: pu == previous u")
                global_jumps += d["U"] != last_u + 1
            else:
                self.assertEqual(d["U"], last_u + 1, "spot chain: U == previous u + 1")
            apply_levels(book["bids"], d["b"])
            apply_levels(book["asks"], d["a"])
            last_u = d["u"]
            diffs += 1
            self.assertLess(top(book)[0], top(book)[2], "crossed book")
            if diffs == 300:
                second = v.get_json(f"{path}?symbol=BTCUSDT&limit=1000")
                self.assertGreaterEqual(second["lastUpdateId"], last_u)
            if second is not None:
                self.assertLessEqual(last_u, second["lastUpdateId"], "the second snapshot's id must be a diff's u")
                if last_u == second["lastUpdateId"]:
                    break
        self.assertEqual(book, book_from(second))
        self.assertGreater(tickers, 0)
        if usdm:
            self.assertGreater(global_jumps, 0, "USD-M ids are global across symbols")

    def test_spot_snapshot_and_diffs_chain_into_the_book_a_later_snapshot_shows(self):
        self.sync_and_compare(usdm=False)

    def test_usdm_diffs_chain_by_pu_into_the_book_a_later_snapshot_shows(self):
        self.sync_and_compare(usdm=True)

    def test_rest_errors_look_like_binance(self):
        v = self.start()
        status, _, body = v.get("/api/v3/depth?symbol=NOPE")
        self.assertEqual((status, json.loads(body)), (400, {"code": -1121, "msg": "Invalid symbol."}))
        status, _, body = v.get("/api/v3/depth")
        self.assertEqual((status, json.loads(body)["code"]), (400, -1102))
        status, _, body = v.get("/api/v3/depth?symbol=BTCUSDT&limit=abc")
        self.assertEqual((status, json.loads(body)["code"]), (400, -1100))
        self.assertEqual(v.get("/no/such/path")[0], 404)
        snap = v.get_json("/api/v3/depth?symbol=ETHUSDT&limit=5")
        self.assertEqual((len(snap["bids"]), len(snap["asks"])), (5, 5))
        prices = [Decimal(p) for p, _ in snap["bids"]]
        self.assertEqual(prices, sorted(prices, reverse=True))


class ProtocolTest(VenueCase):
    def test_subscribe_is_acknowledged_and_raw_payloads_follow(self):
        v = self.start("--rate", "500")
        ws = self.ws(v, "/ws")
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": 1})
        self.assertEqual(ws.recv_json(), {"result": None, "id": 1})
        seen = set()
        while seen != {"trade", "depthUpdate"}:
            m = ws.recv_json()
            self.assertNotIn("stream", m, "/ws sessions get raw payloads")
            seen.add(m["e"])
            self.assertIn((m["e"], m["s"]), {("trade", "BTCUSDT"), ("depthUpdate", "ETHUSDT")})
        ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": "x2"})
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
        replies = []
        while len(replies) < 2:
            m = ws.recv_json()
            if "id" in m:
                replies.append(m)
        self.assertEqual(replies, [{"result": None, "id": "x2"}, {"result": [], "id": 3}])

    def test_bad_requests_get_binance_errors_and_are_counted(self):
        v = self.start()
        ws = self.ws(v, "/ws")
        ws.send_text("{not json")
        self.assertEqual(ws.recv_json()["error"]["code"], 3)
        ws.send_json({"method": "FROB", "params": [], "id": 5})
        m = ws.recv_json()
        self.assertEqual((m["error"]["code"], m["id"]), (2, 5))
        ws.send_json({"method": "SUBSCRIBE", "params": ["nosuch@trade"], "id": 6})
        m = ws.recv_json()
        self.assertEqual((m["error"]["code"], m["id"]), (2, 6))
        ws.send_json({"method": "SUBSCRIBE", "params": [42], "id": 7})
        self.assertIn("error", ws.recv_json())
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        self.assertEqual(ws.recv_json(), {"result": [], "id": 8}, "the session survives bad requests")
        s = v.stats()
        self.assertEqual(s["client_errors"].get("invalid_json"), 1)
        self.assertEqual(s["client_errors"].get("unknown_method"), 1)
        self.assertEqual(s["client_errors"].get("invalid_stream"), 1)
        ws.send_text("x" * 200_000)
        with self.assertRaises(Closed) as cm:
            while True:
                ws.recv_text()
        self.assertEqual(cm.exception.code, 1009)
        bad = self.ws(v, "/stream?streams=btcusdt@nonsense")
        with self.assertRaises(Closed) as cm:
            bad.recv_text()
        self.assertEqual(cm.exception.code, 1008)
        self.assertIn("Invalid stream", cm.exception.reason)
        s = v.wait_for(lambda s: s["client_errors"].get("oversized") == 1, "oversized counted")
        self.assertEqual(s["client_errors"].get("invalid_connect"), 1)

    def test_ping_frames_arrive_and_a_client_that_never_pongs_is_disconnected(self):
        v = self.start("--ping-interval-ms", "100", "--pong-timeout-ms", "600")
        silent = self.ws(v, "/ws", auto_pong=False)
        with self.assertRaises(Closed) as cm:
            while True:
                silent.recv_text(timeout=20)
        self.assertGreaterEqual(len(silent.pings), 2)
        self.assertIn("Pong timeout", cm.exception.reason)
        # A client that answers keeps receiving pings well past the pong timeout.
        good = self.ws(v, "/ws/btcusdt@bookTicker")
        good.wait_pings(12)
        self.assertEqual(good.pings[:3], [b"1", b"2", b"3"])
        s = v.stats()
        self.assertEqual(s["pong_timeouts"], 1)
        self.assertEqual(s["connections_open"], 1)
        self.assertGreaterEqual(s["pongs_received"], 11)


class FaultTest(VenueCase):
    def diffs(self, ws, n):
        out = []
        while len(out) < n:
            text = ws.recv_text()
            try:
                m = json.loads(text)
            except ValueError:
                continue
            d = m.get("data", m)
            if d.get("e") == "depthUpdate" and isinstance(d.get("U"), int):
                out.append(d)
        return out

    def test_gap_every_n_really_skips_update_ids(self):
        v = self.start("--symbols", "BTCUSDT", "--rate", "1000", "--gap-every", "10")
        ws = self.ws(v, "/stream?streams=btcusdt@depth")
        ds = self.diffs(ws, 60)
        gaps = [(a["u"], b["U"]) for a, b in zip(ds, ds[1:]) if b["U"] != a["u"] + 1]
        self.assertGreaterEqual(len(gaps), 4)
        for u, next_U in gaps:
            self.assertGreater(next_U, u + 1, "a gap skips ids forward")
        self.assertGreaterEqual(v.stats()["faults"]["gap"], len(gaps))

    def test_runtime_gap_fault_skips_ids_once(self):
        v = self.start("--symbols", "BTCUSDT", "--rate", "1000")
        ws = self.ws(v, "/stream?streams=btcusdt@depth")
        ds = self.diffs(ws, 5)
        self.assertEqual(v.fault("kind=gap")["ok"], True)
        ds += self.diffs(ws, 40)
        gaps = [b["U"] - a["u"] - 1 for a, b in zip(ds, ds[1:]) if b["U"] != a["u"] + 1]
        self.assertEqual(len(gaps), 1)
        self.assertGreater(gaps[0], 0)

    def test_malformed_every_n_sends_frames_that_are_not_valid_messages(self):
        v = self.start("--rate", "1000", "--malformed-every", "5")
        ws = self.ws(v, "/stream?streams=btcusdt@trade/btcusdt@depth/btcusdt@bookTicker")
        invalid_json = wrong_types = 0
        for _ in range(100):
            text = ws.recv_text()
            try:
                m = json.loads(text)
            except ValueError:
                invalid_json += 1
                continue
            if not isinstance(m["data"].get("E", 0), int):
                wrong_types += 1
        self.assertGreater(invalid_json, 0)
        self.assertGreater(wrong_types, 0)
        self.assertGreaterEqual(v.stats()["faults"]["malformed"], invalid_json + wrong_types)

    def test_snapshot_429_refuses_the_first_requests_with_retry_after(self):
        v = self.start("--snapshot-429", "2")
        for _ in range(2):
            status, headers, body = v.get("/api/v3/depth?symbol=BTCUSDT")
            self.assertEqual(status, 429)
            self.assertEqual({k.lower(): x for k, x in headers.items()}["retry-after"], "1")
            self.assertEqual(json.loads(body)["code"], -1003)
        self.assertEqual(v.get("/api/v3/depth?symbol=BTCUSDT")[0], 200)
        v.fault("kind=snapshot_429&on=1")
        self.assertEqual(v.get("/api/v3/depth?symbol=BTCUSDT")[0], 429)
        self.assertEqual(v.get("/api/v3/depth?symbol=BTCUSDT")[0], 429)
        v.fault("kind=snapshot_429&on=0")
        self.assertEqual(v.get("/api/v3/depth?symbol=BTCUSDT")[0], 200)
        s = v.stats()
        self.assertEqual(s["snapshot_requests"], 6)
        self.assertEqual(len(s["snapshot_request_ns"]), 6)
        self.assertEqual(s["snapshot_request_ns"], sorted(s["snapshot_request_ns"]))
        self.assertEqual(s["faults"]["snapshot_refused"], 4)

    def test_snapshot_delay_still_answers_with_a_consistent_snapshot(self):
        v = self.start("--snapshot-delay-ms", "300", "--rate", "1000")
        before = v.stats()["last_update_id"]["BTCUSDT"]
        snap = v.get_json("/api/v3/depth?symbol=BTCUSDT&limit=1000")
        self.assertGreaterEqual(snap["lastUpdateId"], before)
        self.assertEqual(v.stats()["faults"]["snapshot_delay"], 1)

    def test_server_shutdown_event_arrives_then_the_connection_closes(self):
        v = self.start()
        ws = self.ws(v, "/stream?streams=btcusdt@trade")
        raw = self.ws(v, "/ws/btcusdt@trade")
        v.wait_for(lambda s: s["subscriptions"] == 2, "two subscriptions")
        v.fault("kind=shutdown")
        for client, combined in ((ws, True), (raw, False)):
            last = None
            with self.assertRaises(Closed) as cm:
                while True:
                    last = client.recv_json()
            self.assertEqual(cm.exception.code, 1001)
            if combined:
                self.assertEqual(last["stream"], "!serverShutdown")
                last = last["data"]
            self.assertEqual(last["e"], "serverShutdown")
            self.assertIsInstance(last["E"], int)

    def test_shutdown_after_flag(self):
        v = self.start("--shutdown-after", "0.3")
        ws = self.ws(v, "/ws/btcusdt@bookTicker")
        msgs = []
        with self.assertRaises(Closed):
            while True:
                msgs.append(ws.recv_json())
        self.assertEqual(msgs[-1]["e"], "serverShutdown")

    def test_drop_after_closes_connections_without_a_close_frame(self):
        v = self.start("--drop-after", "0.3")
        ws = self.ws(v, "/ws/btcusdt@trade")
        with self.assertRaises(Closed) as cm:
            while True:
                ws.recv_text(timeout=20)
        self.assertFalse(cm.exception.clean, "a drop is not a close handshake")
        v.wait_for(lambda s: s["faults"].get("drop", 0) >= 1 and s["connections_open"] == 0, "drop counted")

    def test_runtime_drop_closes_every_connection(self):
        v = self.start()
        a, b = self.ws(v, "/ws/btcusdt@trade"), self.ws(v, "/ws")
        v.wait_for(lambda s: s["connections_open"] == 2, "two connections")
        self.assertEqual(v.fault("kind=drop")["affected"], 2)
        for c in (a, b):
            with self.assertRaises(Closed):
                while True:
                    c.recv_text(timeout=20)
        v.wait_for(lambda s: s["connections_open"] == 0, "connections gone")

    def test_stall_stops_sending_but_keeps_the_connection(self):
        v = self.start("--rate", "500")
        ws = self.ws(v, "/ws/btcusdt@depth")
        ws.recv_json()
        v.fault("kind=stall&seconds=1.5")
        s1 = v.stats()
        self.assertTrue(s1["stalled"])
        while True:
            s = v.stats()
            if not s["stalled"]:
                break
            self.assertEqual(s["messages_sent"], s1["messages_sent"], "nothing is sent while stalled")
            self.assertEqual(s["connections_open"], 1)
            time.sleep(0.05)
        self.assertEqual(ws.recv_json()["e"], "depthUpdate", "the same connection resumes")
        self.assertEqual(s["faults"]["stall"], 1)


class TlsTest(VenueCase):
    def test_wss_and_https_verify_with_the_generated_ca(self):
        with tempfile.TemporaryDirectory() as d:
            v = self.start("--tls", "--cert-dir", d)
            self.assertTrue(v.ws_url.startswith("wss://") and v.http_url.startswith("https://"))
            self.assertEqual(v.ca_file, os.path.join(d, "cert.pem"))
            ws = self.ws(v, "/ws")
            ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
            self.assertEqual(ws.recv_json(), {"result": None, "id": 1})
            self.assertIn("lastUpdateId", v.get_json("/api/v3/depth?symbol=BTCUSDT"))
            # Verification is really on: without the CA the handshake fails.
            with self.assertRaises(ssl.SSLCertVerificationError):
                WsClient(v.ws_url + "/ws", ca_file=None)
            with self.assertRaises(Exception):
                http_request(v.http_url + "/venue/stats")


class ReplayTest(VenueCase):
    def test_replay_reserves_exactly_the_captures_frames_in_order(self):
        path = os.path.join(CAPTURES, BTC_CAPTURE)
        if not os.path.exists(path):
            self.fail(f"no capture at {path}: ../shared/captures must sit beside the repository")
        frames, snapshot = [], None
        with gzip.open(path, "rt") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                payload = line.split(" ", 1)[1]
                if payload.startswith('{"lastUpdateId"'):
                    snapshot = payload
                else:
                    frames.append(payload)
        self.assertEqual(len(frames), 28040 + 9757 + 3451)  # README counts
        v = self.start("--replay", path, "--speed", "max")
        self.assertEqual(v.get("/api/v3/depth?symbol=BTCUSDT&limit=1000")[2].decode(), snapshot)
        self.assertFalse(v.stats()["replay_started"], "held until the first subscriber")
        ws = self.ws(v, "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade")
        for i, expected in enumerate(frames):
            got = ws.recv_text(timeout=30)
            if got != expected:
                self.fail(f"frame {i}: expected {expected[:120]} got {got[:120]}")
        s = v.wait_for(lambda s: s["replay_done"], "replay done")
        self.assertEqual(s["replay_sent"], len(frames))

    def test_replay_raw_stream_gets_the_data_part_only(self):
        path = os.path.join(CAPTURES, BTC_CAPTURE)
        v = self.start("--replay", path, "--speed", "max")
        ws = self.ws(v, "/ws/btcusdt@trade")
        first = ws.recv_json()
        self.assertEqual((first["e"], first["t"]), ("trade", 3735683259))  # PROTOCOLS 1.3
        ids = [first["t"]] + [ws.recv_json()["t"] for _ in range(999)]
        self.assertEqual(ids, list(range(ids[0], ids[0] + 1000)), "trade ids are contiguous in the capture")


class CaptureRefusalTest(unittest.TestCase):
    """A replay capture the venue cannot serve stops qf-venue at load, naming the file and line."""

    def refusal(self, venue, lines):
        with tempfile.NamedTemporaryFile("w", suffix=".capture", delete=False) as f:
            f.write("".join(line + "\n" for line in lines))
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([VENUE, "--venue", venue, "--port", "0", "--replay", f.name],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        return f.name, r.stderr

    def test_a_frame_of_another_venue_is_refused_with_its_line(self):
        okx = os.path.join(CAPTURES, "okx/multi_20220513.capture")
        with open(okx) as f:
            first = [line.rstrip("\n") for line in f if not line.startswith("#")][:3]
        binance = '1652459225600000000 {"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT"}}'
        for venue, what in (("okx", "an OKX v5"), ("kraken", "a Kraken v2"), ("bybit-spot", "a Bybit v5"),
                            ("coinbase-advanced", "a Coinbase Advanced Trade")):
            with self.subTest(venue=venue):
                lines = ["# ws wss://example.invalid/"] + (first if venue == "okx" else []) + [binance]
                path, err = self.refusal(venue, lines)
                self.assertIn(f"{path}:{len(lines)}: not {what} message this venue can serve", err)

    def test_a_capture_without_frames_is_refused(self):
        for venue in ("okx", "kraken", "bybit-spot", "coinbase-advanced"):
            with self.subTest(venue=venue):
                path, err = self.refusal(venue, ["# ws wss://example.invalid/"])
                self.assertIn(f"{path}: no frames to replay", err)


class CoinbaseTest(VenueCase):
    SUB = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch", "heartbeat", "ticker", "matches"]}

    def test_subscribe_handshake_then_snapshot_updates_matches_and_heartbeats(self):
        v = self.start("--venue", "coinbase", "--rate", "500")
        self.assertEqual(v.venue, "coinbase")
        ws = self.ws(v, "/")
        ws.send_json(self.SUB)
        sub = ws.recv_json()
        self.assertEqual(sub["type"], "subscriptions")
        self.assertEqual({c["name"]: c["product_ids"] for c in sub["channels"]},
                         {"level2": ["BTC-USD"], "heartbeat": ["BTC-USD"], "ticker": ["BTC-USD"], "matches": ["BTC-USD"]})
        types, book, matches = [], None, []
        heartbeats = []
        while len(heartbeats) < 2 or "l2update" not in types or "match" not in types:
            m = ws.recv_json()
            self.assertEqual(m["product_id"], "BTC-USD")
            types.append(m["type"])
            if m["type"] == "snapshot":
                self.assertIsNone(book, "one snapshot per subscription")
                book = {"buy": {Decimal(p): s for p, s in m["bids"]}, "sell": {Decimal(p): s for p, s in m["asks"]}}
            elif m["type"] == "l2update":
                self.assertIsNotNone(book, "the snapshot comes before any l2update")
                for side, p, s in m["changes"]:
                    if Decimal(s) == 0:
                        book[side].pop(Decimal(p), None)
                    else:
                        book[side][Decimal(p)] = s
                self.assertLess(max(book["buy"]), min(book["sell"]))
            elif m["type"] in ("match", "last_match"):
                matches.append(m)
            elif m["type"] == "heartbeat":
                heartbeats.append(m)
                self.assertIsInstance(m["sequence"], int)
                self.assertIsInstance(m["last_trade_id"], int)
        self.assertEqual(matches[0]["type"], "last_match", "the first message of matches is last_match")
        self.assertTrue(all(b["trade_id"] == a["trade_id"] + 1 for a, b in zip(matches[1:], matches[2:])))

    def test_bad_subscriptions_get_error_messages(self):
        v = self.start("--venue", "coinbase")
        ws = self.ws(v, "/")
        ws.send_text("nope")
        self.assertEqual(ws.recv_json()["type"], "error")
        ws.send_json({"type": "subscribe", "product_ids": ["DOGE-XYZ"], "channels": ["ticker"]})
        m = ws.recv_json()
        self.assertEqual((m["type"], m["message"]), ("error", "Failed to subscribe"))
        ws.send_json({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["full"]})
        self.assertIn("authentication", ws.recv_json()["reason"])
        self.assertEqual(v.stats()["client_errors_total"], 3)

    def test_no_subscribe_within_5_s_is_disconnected(self):
        v = self.start("--venue", "coinbase")
        ws = self.ws(v, "/")
        with self.assertRaises(Closed) as cm:
            ws.recv_text(timeout=30)
        self.assertEqual(cm.exception.code, 1008)
        self.assertEqual(v.stats()["client_errors"]["subscribe_timeout"], 1)

    def test_replay_reserves_the_captures_messages_in_order(self):
        path = os.path.join(CAPTURES, "coinbase-exchange/level2_ticker_matches_20210417.capture")
        frames, products = [], set()
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                payload = line.rstrip("\n").split(" ", 1)[1]
                m = json.loads(payload)
                if "product_id" in m:
                    frames.append(payload)
                    products.add(m["product_id"])
        v = self.start("--venue", "coinbase", "--replay", path, "--speed", "max")
        ws = self.ws(v, "/")
        ws.send_json({"type": "subscribe", "product_ids": sorted(products), "channels": ["level2", "ticker", "matches"]})
        self.assertEqual(ws.recv_json()["type"], "subscriptions")
        for i, expected in enumerate(frames):
            got = ws.recv_text(timeout=30)
            if got != expected:
                self.fail(f"frame {i}: expected {expected[:120]} got {got[:120]}")


def okx_checksum(book):
    """PROTOCOLS.md 6.2: top 25 interleaved bid:ask from the original strings, CRC32 as signed int."""
    bids = sorted(book["bids"].items(), key=lambda kv: -kv[0])[:25]
    asks = sorted(book["asks"].items(), key=lambda kv: kv[0])[:25]
    parts = []
    for i in range(25):
        for side in (bids, asks):
            if i < len(side):
                parts += [side[i][1][0], side[i][1][1]]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def okx_apply(book, levels):
    for side, rows in levels:
        for p, q, _, _ in rows:
            if Decimal(q) == 0:
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = (p, q)


class OkxTest(VenueCase):
    ARGS = [{"channel": c, "instId": "BTC-USDT"} for c in ("books", "bbo-tbt", "trades", "tickers")]

    def subscribe(self, v):
        ws = self.ws(v, "/ws/v5/public")
        ws.send_json({"op": "subscribe", "args": self.ARGS})
        acks = [ws.recv_json() for _ in self.ARGS]
        self.assertEqual([(a["event"], a["arg"]) for a in acks], [("subscribe", a) for a in self.ARGS])
        return ws

    def follow(self, ws, until, on_bbo=None):
        """The books chain and checksums checked here from the messages alone; bbo-tbt against the book."""
        book, seq, counts = None, None, {"books": 0, "bbo-tbt": 0, "trades": 0, "tickers": 0, "checksums": 0}
        while not until(counts):
            text = ws.recv_text()
            m = json.loads(text)
            channel = m["arg"]["channel"]
            counts[channel] += 1
            d = m["data"][0]
            if channel == "books":
                if m["action"] == "snapshot":
                    self.assertEqual(d["prevSeqId"], -1)
                    book = {"bids": {}, "asks": {}}
                else:
                    self.assertIsNotNone(book, "the snapshot comes before any update")
                    self.assertEqual(d["prevSeqId"], seq, "prevSeqId is the previous seqId")
                    self.assertGreater(d["seqId"], seq)
                seq = d["seqId"]
                okx_apply(book, [("bids", d["bids"]), ("asks", d["asks"])])
                self.assertLess(max(book["bids"]), min(book["asks"]))
                if d["checksum"] == okx_checksum(book):
                    counts["checksums"] += 1
                elif on_bbo is None:
                    self.fail(f"checksum {d['checksum']} does not match the book at seqId {seq}")
            elif channel == "bbo-tbt" and book is not None:
                self.assertEqual(d["seqId"], seq, "bbo-tbt follows the book message it reflects")
                bid, ask = max(book["bids"]), min(book["asks"])
                self.assertEqual([d["bids"][0][:2], d["asks"][0][:2]], [list(book["bids"][bid]), list(book["asks"][ask])])
                if on_bbo:
                    on_bbo()
            elif channel == "tickers" and book is not None:
                bid, ask = max(book["bids"]), min(book["asks"])
                self.assertEqual((d["bidPx"], d["bidSz"], d["askPx"], d["askSz"]),
                                 book["bids"][bid] + book["asks"][ask])
        return counts

    def test_subscribe_then_a_checksummed_chained_book_bbo_trades_and_tickers(self):
        v = self.start("--venue", "okx", "--rate", "1000", "--seed", "3")
        self.assertEqual(v.venue, "okx")
        ws = self.subscribe(v)
        counts = self.follow(ws, lambda c: c["books"] >= 300 and c["trades"] >= 20 and c["tickers"] >= 20)
        self.assertEqual(counts["checksums"], counts["books"], "every book message's checksum verifies")
        ws.send_text("ping")
        while (text := ws.recv_text()) != "pong":
            json.loads(text)

    def test_a_corrupted_checksum_fails_only_the_check(self):
        v = self.start("--venue", "okx", "--rate", "1000", "--checksum-every", "10")
        ws = self.subscribe(v)
        counts = self.follow(ws, lambda c: c["books"] >= 200, on_bbo=lambda: None)
        self.assertLess(counts["checksums"], counts["books"])
        self.assertGreater(counts["checksums"], counts["books"] // 2)
        self.assertGreater(v.stats()["faults"]["checksum"], 0)

    def test_bad_requests_get_error_events(self):
        v = self.start("--venue", "okx")
        ws = self.ws(v, "/ws/v5/public")
        ws.send_text("nope")
        self.assertEqual(ws.recv_json()["code"], "60012")
        ws.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": "DOGE-XYZ"}]})
        self.assertEqual(ws.recv_json()["code"], "60018")
        self.assertEqual(v.stats()["client_errors_total"], 2)

    def test_replay_reserves_the_captures_messages_in_order(self):
        path = os.path.join(CAPTURES, "okx/multi_20220513.capture")
        frames, args = [], set()
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                payload = line.rstrip("\n").split(" ", 1)[1]
                m = json.loads(payload)
                if "data" in m:
                    frames.append(payload)
                    args.add((m["arg"]["channel"], m["arg"]["instId"]))
        # The captures README's counts are wrong; the file holds 290 books, 28 tickers, 74 trades.
        self.assertEqual(len(frames), 290 + 28 + 74)
        v = self.start("--venue", "okx", "--replay", path, "--speed", "max")
        ws = self.ws(v, "/")
        ws.send_json({"op": "subscribe", "args": [{"channel": c, "instId": i} for c, i in sorted(args)]})
        for _ in args:
            self.assertEqual(ws.recv_json()["event"], "subscribe")
        for i, expected in enumerate(frames):
            got = ws.recv_text(timeout=30)
            if got != expected:
                self.fail(f"frame {i}: expected {expected[:120]} got {got[:120]}")


class CoinbaseAdvancedTest(VenueCase):
    CHANNELS = ("level2", "market_trades", "ticker", "heartbeats")

    def subscribe(self, v, products=("BTC-USD",)):
        ws = self.ws(v, "/")
        for channel in self.CHANNELS:  # PROTOCOLS.md 3.2: exactly one channel a subscribe message
            ws.send_json({"type": "subscribe", "product_ids": list(products), "channel": channel})
        return ws

    def follow(self, ws, until):
        """sequence_num checked here: one counter per connection across channels, 0 first, +1 each;
        the book rebuilt from l2_data and every ticker's best levels compared with it."""
        book, expected, counts = None, 0, {"l2_data": 0, "market_trades": 0, "ticker": 0, "heartbeats": 0,
                                           "subscriptions": 0, "skipped": 0}
        while not until(counts):
            m = ws.recv_json(timeout=10)
            self.assertIn("sequence_num", m, m)
            if m["sequence_num"] != expected:
                self.assertGreater(m["sequence_num"], expected, "numbers never go back")
                counts["skipped"] += m["sequence_num"] - expected
            expected = m["sequence_num"] + 1
            counts[m["channel"]] += 1
            for e in m["events"]:
                if m["channel"] == "l2_data":
                    if e["type"] == "snapshot":
                        book = {"bid": {}, "offer": {}}
                    self.assertIsNotNone(book, "the snapshot comes before any update")
                    for u in e["updates"]:
                        apply_levels(book[u["side"]], [(u["price_level"], u["new_quantity"])])
                    if counts["skipped"] == 0:  # a withheld update leaves this copy behind
                        self.assertLess(max(book["bid"]), min(book["offer"]))
                elif m["channel"] == "ticker" and book is not None and counts["skipped"] == 0:
                    t = e["tickers"][0]
                    bid, ask = max(book["bid"]), min(book["offer"])
                    self.assertEqual((Decimal(t["best_bid"]), Decimal(t["best_bid_quantity"]),
                                      Decimal(t["best_ask"]), Decimal(t["best_ask_quantity"])),
                                     (bid, book["bid"][bid], ask, book["offer"][ask]))
        return counts

    def test_subscribe_then_a_numbered_book_trades_tickers_and_heartbeats(self):
        v = self.start("--venue", "coinbase-advanced", "--rate", "200", "--seed", "3")
        self.assertEqual(v.venue, "coinbase-advanced")
        ws = self.subscribe(v)
        counts = self.follow(ws, lambda c: c["l2_data"] >= 100 and c["market_trades"] >= 10 and c["heartbeats"] >= 2)
        self.assertEqual(counts["subscriptions"], len(self.CHANNELS), "each subscribe is answered")
        self.assertEqual(counts["skipped"], 0)

    def test_a_gap_skips_a_sequence_num(self):
        v = self.start("--venue", "coinbase-advanced", "--rate", "1000", "--gap-every", "20")
        ws = self.subscribe(v)
        counts = self.follow(ws, lambda c: c["skipped"] >= 3)
        self.assertGreaterEqual(v.stats()["faults"]["gap"], 3)
        self.assertGreater(counts["l2_data"], 0)

    def test_bad_requests_get_errors_without_a_sequence_num(self):
        v = self.start("--venue", "coinbase-advanced")
        ws = self.ws(v, "/")
        ws.send_text("nope")
        self.assertEqual(ws.recv_json()["type"], "error")
        ws.send_json({"type": "subscribe", "product_ids": ["DOGE-XYZ"], "channel": "level2"})
        self.assertEqual(ws.recv_json()["type"], "error")
        ws.send_json({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level3"})
        self.assertEqual(ws.recv_json()["type"], "error")
        self.assertEqual(v.stats()["client_errors_total"], 3)
        ws.send_json({"type": "subscribe", "channel": "heartbeats"})
        m = ws.recv_json()
        self.assertEqual((m["channel"], m["sequence_num"]), ("subscriptions", 0), "errors take no number")


if __name__ == "__main__":
    VENUE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=2)
