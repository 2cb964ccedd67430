#!/usr/bin/env python3
"""qf-store over a fill-log entry whose checksum fails (issue 17): the fake engine (the gateway
tests' fake_engine, one fill every 10 steps, order_id n, price 1000 + n) and qf-store against a real
PostgreSQL cluster created by the test. With both stopped (SIGSTOP) a fill the store has not read
yet is overwritten in the real segment behind the writer's back, so it stays corrupt until the ring
laps; both resumed, the store counts 1 corrupt entry, never stores the garbage and stores every
later fill (before the fix it stopped at the corrupt entry and retried it on every poll).

The entry is found by its content (the fake engine's fill rule), not by a computed offset: the
control section's offset is read from the header's section table, then FillRecord payloads
(unix_ns u64, order_id u64, instrument u16, side u8, reserved[5], qty, price, fee, realized f64,
behind the Seqlock's sequence and checksum words) are recognised by order_id n, instrument n % 2
and price 1000 + n.

Usage: corrupt_entry_test.py --build-dir BUILD --work DIR
"""
import argparse
import functools
import json
import os
import signal
import struct
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, fresh_dir, sim_engine, write_config  # noqa: E402
from pgcluster import case_cluster  # noqa: E402

ARGS = None
SECTIONS = 80  # SegmentHeader: sections[6] {u32 offset, u32 size} at byte 80 (segment_damage_test.py)
CONTROL = 5    # kSectionControl
GARBAGE = 0x4141414141414141
poll = functools.partial(qf_testkit.poll, timeout=120.0, interval=0.05)


def fill_payloads(path):
    """{order_id: file offset of its FillRecord payload} of the fake engine's fills in the segment."""
    with open(path, "rb") as f:
        data = f.read()
    start, size = struct.unpack_from("<II", data, SECTIONS + 8 * CONTROL)
    out = {}
    for off in range(start, start + size - 64, 8):
        order_id, instrument = struct.unpack_from("<QH", data, off + 8)
        price = struct.unpack_from("<d", data, off + 32)[0]
        if 0 < order_id < 1 << 32 and instrument == order_id % 2 and price == 1000.0 + order_id:
            out[order_id] = off
    return out


class CorruptEntryTest(unittest.TestCase):
    def setUp(self):
        self.instance = f"storec{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        os.chmod(self.work, 0o755)
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)
        self.db = case_cluster(self, self.work)
        self.status_path = os.path.join(self.work, "store-status.json")
        self.segment = f"/dev/shm/qf.{self.instance}.state"

    def stored(self):
        return [int(r[0]) for r in self.db.query("SELECT order_id FROM fills ORDER BY seq")]

    def test_a_corrupt_fill_is_counted_skipped_and_later_fills_stored(self):
        config = write_config(os.path.join(self.work, "store.toml"), engine=sim_engine(self.instance),
                              store={"enabled": True, "url": self.db.url, "poll_ms": 2, "sample_ms": 100,
                                     "retention_days": 0, "retry_max_ms": 200, "flush_ms": 50,
                                     "status_file": self.status_path})
        fake = self.procs.start([os.path.join(self.bin, "fake_engine"), self.instance, "--step-ms", "5"],
                                name="fake", read=None)
        store = self.procs.start([os.path.join(self.bin, "qf-store"), "--config", config], name="store")
        store.first_line("qf-store's first line")
        poll(lambda: len(self.stored()) >= 3, "the first stored fills", retry=(subprocess.CalledProcessError,))

        os.kill(store.pid, signal.SIGSTOP)
        # What the stopped store can have read is in the segment now; a fill written later is unread.
        seen = max(fill_payloads(self.segment))
        victim = seen + 1
        poll(lambda: victim + 1 in fill_payloads(self.segment), "two more fills while the store is stopped")
        os.kill(fake.pid, signal.SIGSTOP)
        with open(self.segment, "r+b") as f:
            f.seek(fill_payloads(self.segment)[victim] + 8)
            f.write(struct.pack("<Q", GARBAGE))
        os.kill(fake.pid, signal.SIGCONT)
        os.kill(store.pid, signal.SIGCONT)

        later = victim + 5
        poll(lambda: later in self.stored(), f"fill {later} stored after the corrupt one")
        src = poll(lambda: self.source_status(), "the status file", retry=(FileNotFoundError,), until=lambda s: s["corrupt"] >= 1)
        self.assertEqual(src["corrupt"], 1, f"one corrupt entry counted: {src}")
        self.assertEqual(src["bus_faults"], 0, f"no bus fault: {src}")
        # Stalled at the corrupt entry, the store would only get past it once the ring lapped it: lost.
        self.assertEqual(src["fills_lost"], 0, f"nothing lost: the store went on past the entry: {src}")
        ids = self.stored()
        self.assertNotIn(GARBAGE, ids, "the garbage is never stored")
        self.assertNotIn(victim, ids, "the corrupt entry is skipped")
        self.assertEqual(ids, [n for n in range(ids[0], ids[-1] + 1) if n != victim],
                         "every other fill stored once, in order")
        self.assertIsNone(store.poll(), "qf-store keeps running")
        self.assertIn("fails its checksum", store.log(), "the corrupt entry is logged")

    def source_status(self):
        with open(self.status_path) as f:
            return json.load(f)  # the source's counters are top-level members


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", required=True)
    p.add_argument("--work", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest)
