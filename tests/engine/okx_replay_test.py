#!/usr/bin/env python3
"""qf-engine replay --venue okx on the real OKX v5 capture (books with checksum, tickers, trades).

Usage: okx_replay_test.py QF_ENGINE CAPTURES_DIR
Every expected figure is computed here from the capture's text with Python's json and Decimal
(message counts, checksummed books messages per instId, decimals per instId, the final top of
each book, the CRC32 of the top 25), never taken from the engine.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import zlib
from decimal import Decimal

ENGINE = CAPTURES = None
OKX = "okx/multi_20220513.capture"


def replay(*args):
    p = subprocess.run([ENGINE, "replay", *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"replay failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


def decimals(text):
    frac = text.partition(".")[2].rstrip("0")
    return len(frac)


class Expected:
    """The capture read independently: books rebuilt with Decimal keys and checked by CRC32."""

    def __init__(self, path):
        self.frames = 0
        self.books = {}      # instId -> books messages
        self.verified = {}   # instId -> checksums reproduced here
        self.decimals = {}   # instId -> [price, qty]
        self.top = {}        # instId -> (best bid, best ask) as Decimal
        book = {}
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                self.frames += 1
                m = json.loads(line.split(" ", 1)[1])
                if "event" in m:
                    continue
                inst = m["arg"]["instId"]
                d = self.decimals.setdefault(inst, [0, 0])
                for e in m["data"]:
                    for side in ("bids", "asks"):
                        for lv in e.get(side, []):
                            d[0] = max(d[0], decimals(lv[0]))
                            d[1] = max(d[1], decimals(lv[1]))
                    for k in ("px", "bidPx", "askPx", "last"):
                        if e.get(k):
                            d[0] = max(d[0], decimals(e[k]))
                    for k in ("sz", "bidSz", "askSz", "lastSz"):
                        if e.get(k):
                            d[1] = max(d[1], decimals(e[k]))
                if m["arg"]["channel"] != "books":
                    continue
                e = m["data"][0]
                self.books[inst] = self.books.get(inst, 0) + 1
                if m["action"] == "snapshot":
                    book[inst] = {"bids": {}, "asks": {}}
                b = book[inst]
                for side in ("bids", "asks"):
                    for px, sz, *_ in e[side]:
                        if Decimal(sz) == 0:
                            b[side].pop(Decimal(px), None)
                        else:
                            b[side][Decimal(px)] = (px, sz)
                bids = [b["bids"][k] for k in sorted(b["bids"], reverse=True)[:25]]
                asks = [b["asks"][k] for k in sorted(b["asks"])[:25]]
                parts = []
                for i in range(25):
                    if i < len(bids):
                        parts += bids[i]
                    if i < len(asks):
                        parts += asks[i]
                crc = zlib.crc32(":".join(parts).encode())
                crc = crc - (1 << 32) if crc >= 1 << 31 else crc
                if crc == e["checksum"]:
                    self.verified[inst] = self.verified.get(inst, 0) + 1
                self.top[inst] = (max(b["bids"]), min(b["asks"]))


class OkxReplayTest(unittest.TestCase):
    expected = None

    def path(self):
        p = os.path.join(CAPTURES, OKX)
        if not os.path.exists(p):
            self.fail(f"no capture at {p}: ../shared/captures must sit beside the repository")
        return p

    def exp(self):
        if OkxReplayTest.expected is None:
            OkxReplayTest.expected = Expected(self.path())
        return OkxReplayTest.expected

    def check(self, s):
        x = self.exp()
        self.assertEqual(s["venue"], "okx")
        self.assertEqual(s["messages"], x.frames)
        self.assertEqual(s["parse_errors"], 0)
        by_symbol = {i["symbol"]: i for i in s["instruments"]}
        self.assertEqual(set(by_symbol), set(x.decimals))
        total = 0
        for inst, i in by_symbol.items():
            self.assertEqual(i["venue"], "okx")
            self.assertEqual(i["health"], "live", inst)
            self.assertEqual(i["sequence_gaps"], 0, inst)
            self.assertEqual(i["checksum_mismatches"], 0, inst)
            self.assertEqual(i["gaps"], 0, inst)
            self.assertEqual(i["crossed"], 0, inst)
            self.assertEqual(i["checksums_verified"], x.books.get(inst, 0), inst)
            self.assertEqual(i["checksums_verified"], x.verified.get(inst, 0), inst)
            total += i["checksums_verified"]
            if inst in x.top:
                bid, ask = x.top[inst]
                self.assertEqual(Decimal(i["best_bid"]), bid, inst)
                self.assertEqual(Decimal(i["best_ask"]), ask, inst)
        self.assertEqual(total, 290)  # PROTOCOLS.md 6.2: 290 of 290
        print(f"okx replay: {total} checksums verified, 0 mismatches, 0 sequence gaps", file=sys.stderr)

    def test_should_verify_every_checksum_with_venue_okx(self):
        self.check(replay("--venue", "okx", "--input", self.path()))

    def test_should_detect_the_okx_venue_from_the_capture(self):
        self.check(replay("--input", self.path()))

    def test_should_count_a_corrupted_checksum_and_never_publish_that_book(self):
        with open(self.path()) as f:
            lines = f.read().splitlines(keepends=True)
        target = "BTC-USDT"
        arg = '{"arg":{"channel":"books","instId":"%s"},"action":"update"' % target
        seen = 0
        for n, line in enumerate(lines):
            if arg in line:
                seen += 1
                if seen == 10:
                    at = line.index('"checksum":') + len('"checksum":')
                    while line[at + 1] in "0123456789":
                        at += 1  # the last digit: the value stays a signed 32-bit int
                    digit = "8" if line[at] == "9" else chr(ord(line[at]) + 1)
                    lines[n] = line[:at] + digit + line[at + 1:]
                    break
        self.assertEqual(seen, 10)
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "okx_bad.capture")
            with open(bad, "w") as f:
                f.writelines(lines)
            s = replay("--venue", "okx", "--input", bad)
        self.assertEqual(s["parse_errors"], 0)
        i = {i["symbol"]: i for i in s["instruments"]}[target]
        self.assertEqual(i["checksum_mismatches"], 1)
        self.assertEqual(i["checksums_verified"], 10)  # the snapshot and 9 updates before it
        self.assertEqual(i["gaps"], 1)
        self.assertNotEqual(i["health"], "live")  # no fresh snapshot follows in the file
        others = [v for k, v in {i["symbol"]: i for i in s["instruments"]}.items() if k != target]
        for o in others:
            self.assertEqual(o["checksum_mismatches"], 0)

    def test_should_infer_the_decimals_the_capture_shows(self):
        x = self.exp()
        s = replay("--venue", "okx", "--input", self.path())
        # The summary prints prices at the instrument's price decimals: the inferred ones.
        for i in s["instruments"]:
            pd, _ = x.decimals[i["symbol"]]
            self.assertIsNotNone(i["best_bid"], i["symbol"])
            self.assertEqual(len(i["best_bid"].partition(".")[2]), pd, i["symbol"])


if __name__ == "__main__":
    ENGINE, CAPTURES = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
