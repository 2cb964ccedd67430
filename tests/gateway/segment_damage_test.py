"""Readers that cannot be crashed by the state segment (issue 17, defect 1): real readers (qf-gateway
polling, qf-monitor attaching) over a live fake engine's segment while the test damages it: a section
offset pointed past the mapping, a truncated file (also one that lands where no fstat is made before
the read: SIGBUS caught in the gateway), a file owned by another user, garbage in the instrument
table and in a record (checksums, layout v10). Each time the
gateway stays up with /api/health 503 "segment damaged", the monitor says "damaged", and both
recover once the segment is restored."""
import json
import os
import signal
import struct
import sys

from gwtest import check, poll, request, run, start_fake, start_gateway, write_config
from qf_testkit import monitor_json

SECTIONS = 80  # SegmentHeader: cache line 1 = state u32, reserved u32, heartbeat u64, sections[6] {u32 offset, u32 size}


def health(port):
    s, _, b = request(port, "GET", "/api/health")
    return s, json.loads(b)


def expect_damaged(port, monitor, instance, gw, what):
    def damaged():
        s, h = health(port)
        return h if s == 503 and h["status"] == "damaged" else None
    h = poll(damaged, f"gateway reports {what}")
    check(h["message"].startswith("segment damaged:"), f"{what}: health message {h['message']!r}")
    m = monitor_json(monitor, instance)
    check(m["status"] == "damaged" and m["message"].startswith("segment damaged:"), f"{what}: monitor {m}")
    check(gw.poll() is None, f"{what}: the gateway is still running")
    # Other documents stay served (no engine data) while the segment is damaged.
    check(request(port, "GET", "/api/quotes")[0] == 200, f"{what}: /api/quotes still served")


def expect_recovered(port, monitor, instance, states, what):
    poll(lambda: health(port)[1]["status"] in states, f"gateway recovers after {what}")
    check(monitor_json(monitor, instance)["status"] in states, f"monitor recovers after {what}")


def main(args, procs):
    instance = f"segd{os.getpid()}"
    path = f"/dev/shm/qf.{instance}.state"
    cfg = write_config(os.path.join(args.work, "gateway.toml"), instance, os.path.join(args.work, "audit.jsonl"))
    fake = start_fake(procs, args.fake, instance)
    token = "t0ken-" + os.urandom(8).hex()
    gw, port = start_gateway(procs, args.gateway, cfg, token=token)
    poll(lambda: health(port)[1]["status"] == "running", "engine running")

    # The engine creates its segment 0600 (owner only).
    check(os.stat(path).st_mode & 0o777 == 0o600, f"segment mode {oct(os.stat(path).st_mode)}")

    # 1. Four bytes into the section table: the records section's offset past the mapping.
    with open(path, "r+b") as f:
        f.seek(SECTIONS + 8)
        original = f.read(4)
        f.seek(SECTIONS + 8)
        f.write(struct.pack("<I", 0xFFFFFF80))
    expect_damaged(port, args.monitor, instance, gw, "a section offset past the mapping")
    with open(path, "r+b") as f:
        f.seek(SECTIONS + 8)
        f.write(original)
    expect_recovered(port, args.monitor, instance, ("running",), "the offset restored")
    print("ok: section offset")

    # 2. A segment owned by another user (neither ours nor root) is refused.
    if os.geteuid() == 0:
        os.chown(path, 12345, -1)
        expect_damaged(port, args.monitor, instance, gw, "a foreign owner")
        check("uid 12345" in health(port)[1]["message"], "the message names the owner")
        os.chown(path, 0, -1)
        expect_recovered(port, args.monitor, instance, ("running",), "the owner restored")
        print("ok: foreign owner")

    # 2b. Garbage in the data, not the layout (state layout v12: records and write-once tables carry
    # a checksum). The instrument table's first symbol overwritten: refused, never served.
    table = struct.unpack_from("<I", open(path, "rb").read(SECTIONS + 4), SECTIONS)[0]
    symbol = table + 16 + 24  # InstrumentTable: count, reserved, checksum u64; InstrumentInfo: venue[24], symbol[24]
    with open(path, "r+b") as f:
        f.seek(symbol)
        original = f.read(8)
        check(original.startswith(b"BTCUSDT"), f"the first symbol is where the layout says: {original!r}")
        f.seek(symbol)
        f.write(b"GARBAGE\xff")
    expect_damaged(port, args.monitor, instance, gw, "garbage in the instrument table")
    check("checksum" in health(port)[1]["message"] and "instrument table" in health(port)[1]["message"],
          f"the message names the check: {health(port)[1]['message']!r}")
    for doc in ("/api/quotes", "/api/instruments", "/api/book/binance-spot/BTCUSDT"):
        check(b"GARBAGE" not in request(port, "GET", doc)[2], f"{doc} does not serve the garbage symbol")
    with open(path, "r+b") as f:
        f.seek(symbol)
        f.write(original)
    expect_recovered(port, args.monitor, instance, ("running",), "the table restored")
    print("ok: instrument table checksum")

    # 2c. Garbage in a seqlocked record, behind the writer's back (the engine stopped, so it cannot
    # rewrite it): instrument 0's quote bid price. The reader refuses it; the engine's next write heals it.
    records = struct.unpack_from("<I", open(path, "rb").read(SECTIONS + 12), SECTIONS + 8)[0]
    bid = records + 16  # InstrumentState[0].quote: Seqlock sequence u64, checksum u64, QuoteRecord.bid_price
    os.kill(fake.pid, signal.SIGSTOP)
    with open(path, "r+b") as f:
        f.seek(bid)
        f.write(struct.pack("<q", 0x4141414141414141))
    expect_damaged(port, args.monitor, instance, gw, "garbage in a quote record")
    h = health(port)[1]
    check("checksum" in h["message"] and "quote of instrument 0" in h["message"], f"the message names the record: {h}")
    garbage = str(0x4141414141414141)[:-2].encode()  # the price with 2 decimals: "47021112344749837.45"
    for doc in ("/api/quotes", "/api/instruments", "/api/book/binance-spot/BTCUSDT"):
        check(garbage not in request(port, "GET", doc)[2], f"{doc} does not serve the garbage price")
    check(gw.poll() is None, "the gateway keeps running over a corrupt record")
    os.kill(fake.pid, signal.SIGCONT)
    expect_recovered(port, args.monitor, instance, ("running",), "the engine rewrote the record")
    s_, _, b = request(port, "GET", "/api/quotes")
    check(s_ == 200 and garbage not in b and b"BTCUSDT" in b, f"quotes served again: {s_} {b[:200]!r}")
    print("ok: record checksum")

    # 3. A truncation no fstat sees coming: a control answered 504 (the engine stopped) stays in the
    # gateway's watch list, its acknowledgement looked up in the state mapping on every tick with
    # no read (and so no fstat) in between. Truncating the file makes the next lookup raise SIGBUS
    # in the gateway: caught, logged, reported damaged; the gateway keeps running.
    os.kill(fake.pid, signal.SIGSTOP)
    s, _, b = request(port, "POST", "/api/control/kill", headers={"X-Admin-Token": token})
    check(s == 504, f"a control to a stopped engine: {s} {b!r}")
    size = os.stat(path).st_size
    os.truncate(path, 4096)
    poll(lambda: "SIGBUS" in gw.log() or gw.poll() is not None, "the gateway's next tick")
    check(gw.poll() is None, f"the gateway survived a SIGBUS in the state mapping (status {gw.returncode})")
    check("segment damaged" in gw.log(), f"the gateway logs the damage: {gw.log()[-500:]!r}")
    expect_damaged(port, args.monitor, instance, gw, "a truncation under a pending lookup")
    os.truncate(path, size)
    os.kill(fake.pid, signal.SIGCONT)
    expect_recovered(port, args.monitor, instance, ("running", "stalled"), "the size restored and the engine resumed")
    print("ok: SIGBUS in the gateway")

    # 4. The control segment truncated under its producer: a control is 503, never SIGBUS (the
    # fake engine may die of it first: then 503 for an engine not running).
    control = f"/dev/shm/qf.{instance}.control"
    s, _, b = request(port, "POST", "/api/control/kill", headers={"X-Admin-Token": token})
    check(s == 200, f"a control before the damage: {s} {b!r}")
    os.truncate(control, 0)
    s, _, b = request(port, "POST", "/api/control/kill", headers={"X-Admin-Token": token})
    check(s == 503, f"a control on a truncated control segment: {s} {b!r}")
    check(gw.poll() is None, "the gateway survived a truncated control segment")
    print("ok: control segment")

    # 5. The file truncated under the readers (the fake engine may die of SIGBUS: it owns the mapping).
    size = os.stat(path).st_size
    os.truncate(path, 4096)
    expect_damaged(port, args.monitor, instance, gw, "a truncated file")
    os.truncate(path, size)
    poll(lambda: fake.poll() is not None or health(port)[1]["status"] in ("running", "stalled"),
         "the engine rewrites its records or is gone")
    if fake.poll() is None:
        expect_recovered(port, args.monitor, instance, ("running", "stalled"), "the size restored")
    else:
        # It died of SIGBUS: the records the truncation cut through (zeros after byte 4096) stay as
        # they are, with no writer to heal them: stopped, or damaged naming a record, never served.
        def settled():
            s, h = health(port)
            return h if h["status"] == "stopped" or (s == 503 and "fail their checksum" in h["message"]) else None
        poll(settled, "a dead engine's cut segment reported stopped or damaged")
    check(gw.poll() is None, "the gateway survived every damage")
    print("ok: truncation")
    if fake.poll() is None:
        procs.stop(fake)
    procs.stop(gw)
    check(gw.returncode == 0, f"gateway exit status {gw.returncode}: {gw.log()}")


if __name__ == "__main__":
    sys.exit(run("segment_damage_test", main, ("--gateway", "--fake", "--monitor", "--work")))
