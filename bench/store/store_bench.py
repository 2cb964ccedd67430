#!/usr/bin/env python3
"""qf-store benchmark (issue 14): write throughput and history query latency at a million bars.

In a private PostgreSQL cluster (tests/store/pgcluster.py: initdb in a temporary folder, Unix
socket only):
  1. ours: store_write_bench queues ROWS one-second bars and qf::store::Writer writes them
     (COPY into staging, INSERT ... ON CONFLICT DO NOTHING, day partitions) -> rows/s;
  2. the reference, same run, same table: plain `COPY bars FROM` of the same number of rows (later
     days, fresh partitions of the same size) through psql -> rows/s, and the ratio ours/COPY;
  3. queries: GET /api/history/bars/... through a real qf-gateway (its libpq read pool) over the
     2 x ROWS bars: an hour of 1 s bars for one symbol, LIMIT 1000 (the dashboard's chart query),
     at 20 random offsets each repeated, QUERIES in all -> p50 / p99 ms, with the same SQL through psql
     once for its plan's row count.
Usage: store_bench.py BUILD_DIR BENCH_DIR [--rows N] [--queries N] [--json FILE]
"""
import argparse
import datetime
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "store"))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from pgcluster import Cluster  # noqa: E402
from qf_testkit import Procs, start_gateway, write_config  # noqa: E402

START_MS = 1_723_075_200_000  # 2024-08-08 00:00 UTC, the first bar of store_write_bench


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("bench")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)  # the server runs as postgres under root
        db = Cluster(work)
        db.start()
        try:
            copy_file = os.path.join(work, "reference.copy")
            out = subprocess.run([os.path.join(a.bench, "store_write_bench"), db.url,
                                  os.path.join(ROOT, "store", "migrations"), str(a.rows), "--copy-file", copy_file],
                                 check=True, capture_output=True, text=True, timeout=3600)
            ours = json.loads(out.stdout)
            days = a.rows // 3 // 86_400 + 1  # the reference's rows start this many days after ours
            first = datetime.date(2024, 8, 8) + datetime.timedelta(days=days)
            for d in range(days + 1):
                db.query(f"SELECT qf_ensure_partition('bars', '{first + datetime.timedelta(days=d)}')")
            os.chmod(copy_file, 0o644)
            t0 = time.perf_counter()
            db.query(f"COPY bars FROM '{copy_file}'")
            ref_s = time.perf_counter() - t0
            total = int(db.scalar("SELECT count(*) FROM bars"))
            assert total == 2 * a.rows, f"{total} bars stored, expected {2 * a.rows}"

            procs = Procs(work=work)
            try:
                config = write_config(os.path.join(work, "gw.toml"), engine={"instance": f"storebench{os.getpid()}"})
                _, port = start_gateway(procs, os.path.join(a.build, "bin", "qf-gateway"), config,
                                        extra=("--store-url", db.url))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                rng = random.Random(7)
                span_ms = a.rows // 3 * 1000
                offsets = [rng.randrange(0, max(1, span_ms - 3_600_000)) for _ in range(20)]
                lat, served = [], []
                for i in range(a.queries):
                    frm = START_MS + offsets[i % len(offsets)]
                    path = f"/api/history/bars/binance-spot/BTCUSDT?interval=1s&from={frm}&to={frm + 3_600_000}&limit=1000"
                    t = time.perf_counter()
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                    lat.append((time.perf_counter() - t) * 1000)
                    assert r.status == 200, (r.status, body[:200])
                    served.append(len(json.loads(body)["bars"]))
            finally:
                procs.close()
        finally:
            db.stop("immediate")
    result = {
        "rows": a.rows,
        "ours_rows_per_s": ours["rows_per_s"], "ours_s": ours["seconds"],
        "copy_rows_per_s": a.rows / ref_s, "copy_s": ref_s,
        "ratio_ours_to_copy": ours["rows_per_s"] / (a.rows / ref_s),
        "bars_in_table": total,
        "query_bars_served_median": statistics.median(served),
        "query_ms_p50": statistics.median(lat), "query_ms_p99": percentile(lat, 0.99), "queries": len(lat),
    }
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
