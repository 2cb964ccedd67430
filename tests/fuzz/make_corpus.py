#!/usr/bin/env python3
"""Writes the fuzz seed corpora from the real captures (never committed: generated into the
build folder). Per target, a few hundred files: for the parsers, up to PER_KIND distinct
messages of each message kind (so rare kinds are seeded as well as common ones); for the
capture reader, windows of consecutive lines of each capture, plain and gzip.

Usage: make_corpus.py CAPTURES_DIR OUT_DIR
Creates OUT_DIR/{binance_parser_fuzz,coinbase_parser_fuzz,kraken_parser_fuzz,okx_parser_fuzz,bybit_parser_fuzz,capture_reader_fuzz}/.
"""
import gzip
import hashlib
import json
import os
import sys

PER_KIND = 40


def lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read().splitlines()


def payload(line):
    if line.startswith("#") or not line.strip():
        return None
    head, _, rest = line.partition(" ")
    return rest if head.isdigit() else line


def kind(text):
    try:
        j = json.loads(text)
    except ValueError:
        return "invalid"
    if not isinstance(j, dict):
        return "other"
    if "arg" in j:
        return "okx:" + str(j.get("event", "")) + ":" + str(j["arg"].get("channel")) + ":" + str(j.get("action", ""))
    if "topic" in j:
        return "by:" + str(j["topic"]).split(".")[0] + ":" + str(j.get("type"))
    if "channel" in j:
        return "kr:" + str(j["channel"]) + ":" + str(j.get("type"))
    d = j.get("data", j)
    if "type" in d:
        return "cb:" + str(d["type"])
    if "e" in d:
        return "bn:" + str(d["e"])
    if "lastUpdateId" in d:
        return "bn:snapshot"
    if "u" in d and "b" in d:
        return "bn:bookTicker"
    return "other"


def write(directory, data):
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main(captures, out):
    files = {
        "binance": [os.path.join(captures, p) for p in (
            "binance-spot/btcusdt_20240808.capture.gz", "binance-spot/multi_20211012.capture",
            "binance-usdm/multi_20210722.capture")],
        "coinbase": [os.path.join(captures, "coinbase-exchange/level2_ticker_matches_20210417.capture")],
        "kraken": [os.path.join(captures, "kraken/btcusd_book10_v2_20230730.capture")],
        "okx": [os.path.join(captures, "okx/multi_20220513.capture")],
        "bybit": [os.path.join(captures, "bybit/btcusdt_orderbook50_20241108.capture")],
    }
    counts = {}
    for venue, paths in files.items():
        target = os.path.join(out, f"{venue}_parser_fuzz")
        seen = {}
        for path in paths:
            all_lines = lines(path)
            for line in all_lines:
                text = payload(line)
                if text is None or len(text) > 65536:
                    continue
                k = kind(text)
                if seen.get(k, 0) >= PER_KIND:
                    continue
                seen[k] = seen.get(k, 0) + 1
                write(target, text.encode())
            # capture reader: windows of 12 lines from the start, the middle and the end
            reader = os.path.join(out, "capture_reader_fuzz")
            n = len(all_lines)
            for start in (0, n // 2, max(0, n - 12)):
                window = "\n".join(l[:4096] for l in all_lines[start:start + 12]) + "\n"
                write(reader, window.encode())
                write(reader, gzip.compress(window.encode()))
        counts[venue] = sum(seen.values())
    for target in ("binance_parser_fuzz", "coinbase_parser_fuzz", "kraken_parser_fuzz", "okx_parser_fuzz", "bybit_parser_fuzz", "capture_reader_fuzz"):
        d = os.path.join(out, target)
        print(f"make_corpus.py: {target}: {len(os.listdir(d))} seeds in {d}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
