#!/usr/bin/env python3
"""qf-gateway WebSocket streaming against the fake engine: rate limit and content (node `ws`
client), protocol errors, 200 concurrent subscribers, and a client that never reads (raw
socket with a tiny receive buffer) is bounded and cut off."""
import base64
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import check, poll, request, run, start_fake, start_gateway, write_config  # noqa: E402

HZ = 20.0
CLIENT_BUFFER = 65536


def metrics(port):
    out = {}
    for line in request(port, "GET", "/metrics")[2].decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def node(args, mode, port, arg=None, **kw):
    env = dict(os.environ, NODE_PATH=args.node_modules)
    cmd = [args.node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ws_clients.js"), mode, str(port)]
    if arg is not None:
        cmd.append(str(arg))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, **kw)


def result(p):
    line = p.stdout.readline()
    check(line, f"node client printed nothing (exit {p.poll()})")
    r = json.loads(line)
    check(r["ok"], f"node client: {r}")
    return r


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ws_connect(port, rcvbuf=None):
    """A raw socket that has completed the WebSocket handshake on /ws."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        check(chunk, "handshake closed")
        head += chunk
    check(head.startswith(b"HTTP/1.1 101"), f"handshake: {head!r}")
    return s


def idle_client_closed(args, procs, instance):
    """A client that never subscribes is closed with 1008 at ws_subscribe_timeout_ms (so idle
    connections cannot hold the max_clients slots), counted in /metrics."""
    cfg = os.path.join(args.work, "idle.toml")
    write_config(cfg, instance, os.path.join(args.work, "audit-idle.jsonl"), ws_subscribe_timeout_ms=200)
    gw, port = start_gateway(procs, args.gateway, cfg)
    s = ws_connect(port)
    s.settimeout(30)
    data = b""
    while len(data) < 4 or len(data) < 2 + (data[1] & 0x7F):
        chunk = s.recv(256)
        check(chunk, f"connection closed without a close frame after {data!r}")
        data += chunk
    s.close()
    check(data[0] == 0x88, f"first frame is not a close frame: {data!r}")
    code = int.from_bytes(data[2:4], "big")
    check(code == 1008, f"close code {code}, expected 1008: {data!r}")
    check(metrics(port)["qf_gateway_ws_idle_disconnects_total"] == 1, "idle close not counted")
    procs.stop(gw)
    return {"close_code": code, "reason": data[4:2 + (data[1] & 0x7F)].decode()}


def stuck_client(port, gw_pid):
    """Subscribes to everything, then never reads. The gateway must stay bounded and cut it off."""
    s = ws_connect(port, rcvbuf=4096)
    payload = json.dumps({"op": "subscribe", "channels": ["quotes", "signals", "health", "latency", "feeds", "events"],
                          "instruments": ["*"]}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(frame)
    rss0 = vm_rss_kib(gw_pid)
    before = metrics(port)["qf_gateway_ws_slow_disconnects_total"]
    poll(lambda: metrics(port)["qf_gateway_ws_slow_disconnects_total"] > before, "the stuck client to be cut off",
         timeout=120, interval=0.2)
    m = metrics(port)
    check(m["qf_gateway_ws_updates_skipped_total"] > 0, "the stuck client skipped updates")
    growth = vm_rss_kib(gw_pid) - rss0
    # Bound: one message, the kernel's send buffer (2 x SO_SNDBUF) and allocator noise.
    check(growth < 16 * 1024, f"gateway memory grew {growth} KiB while a client did not read")
    # The connection is really closed: draining it ends in EOF or a reset.
    s.settimeout(30)
    total = 0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            total += len(chunk)
    except ConnectionResetError:
        pass
    s.close()
    check(total <= 8 * CLIENT_BUFFER, f"the cut-off client had {total} bytes queued (bound {8 * CLIENT_BUFFER})")
    return {"rss_growth_kib": growth, "drained_bytes": total}


def main(args, procs):
    instance = f"gwws{os.getpid()}"
    cfg = os.path.join(args.work, "gateway.toml")
    write_config(cfg, instance, os.path.join(args.work, "audit.jsonl"), push_hz=HZ, client_buffer_bytes=CLIENT_BUFFER)
    start_fake(procs, args.fake, instance)
    gw, port = start_gateway(procs, args.gateway, cfg)
    poll(lambda: json.loads(request(port, "GET", "/api/health")[2])["status"] == "running", "engine running")

    r = result(node(args, "rate", port, HZ))
    print(f"ok: rate: {r}")
    r = result(node(args, "errors", port))
    print(f"ok: errors: {r}")

    many = node(args, "many", port, 200)
    r = result(many)
    m = metrics(port)
    check(m["qf_gateway_ws_clients"] >= 200, f"gateway counts {m['qf_gateway_ws_clients']} clients")
    many.stdin.write("done\n")
    many.stdin.flush()
    many.wait(timeout=60)
    poll(lambda: metrics(port)["qf_gateway_ws_clients"] == 0, "all 200 clients gone")
    print(f"ok: 200 subscribers: {r}")

    r = stuck_client(port, gw.pid)
    print(f"ok: stuck client cut off: {r}")
    # The gateway still serves everyone else.
    r = result(node(args, "rate", port, HZ))
    check(gw.poll() is None, "gateway alive")
    check(metrics(port)["qf_gateway_ws_idle_disconnects_total"] == 0, "a subscribing client was closed as idle")
    procs.stop(gw)

    r = idle_client_closed(args, procs, instance)
    print(f"ok: idle client closed: {r}")


if __name__ == "__main__":
    sys.exit(run("gateway_ws_test", main, ("--gateway", "--fake", "--node", "--node-modules", "--work")))
