"""Readers that cannot be crashed by the state segment (issue 17, defect 1): real readers (qf-gateway
polling, qf-monitor attaching) over a live fake engine's segment while the test damages it: a section
offset pointed past the mapping, a truncated file (also one that lands where no fstat is made before
the read: SIGBUS caught in the gateway), a file owned by another user. Each time the
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
    expect_recovered(port, args.monitor, instance, ("running", "stalled", "stopped"), "the size restored")
    check(gw.poll() is None, "the gateway survived every damage")
    print("ok: truncation")
    if fake.poll() is None:
        procs.stop(fake)
    procs.stop(gw)
    check(gw.returncode == 0, f"gateway exit status {gw.returncode}: {gw.log()}")


if __name__ == "__main__":
    sys.exit(run("segment_damage_test", main, ("--gateway", "--fake", "--monitor", "--work")))
