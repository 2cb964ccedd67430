"""A minimal NATS client over a socket for the bridge tests (stdlib only): the text protocol is small
(INFO/CONNECT/PUB/SUB/MSG/HMSG/PING/PONG), and Debian has no Python NATS client. Enough for core
subscriptions, requests to the JetStream API ($JS.API.*) and pull consumers with explicit acks.
Also start_nats_server(): a real `nats-server -js` on 127.0.0.1, a free port and a temp store."""
import json
import os
import socket
import time

import qf_testkit
from qf_testkit import free_port


class Msg:
    def __init__(self, subject, sid, reply, headers, data):
        self.subject, self.sid, self.reply, self.headers, self.data = subject, sid, reply, headers, data

    def json(self):
        return json.loads(self.data)


class Nats:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.sids = 0
        self.inbox_n = 0
        info = self._line()
        assert info.startswith(b"INFO "), info
        self.info = json.loads(info[5:])
        self._send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"name":"qf-test"}\r\n'
                   b"PING\r\n")
        self._until_pong()

    def close(self):
        self.sock.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("NATS server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _until_pong(self):
        while True:
            m = self.next_msg(control_only=True)
            if m == "PONG":
                return

    def sync(self):
        """Returns once the server has processed everything sent so far (PING/PONG); messages
        that arrive meanwhile are kept for next_msg."""
        self._send(b"PING\r\n")
        while True:
            m = self.next_msg(stop_at_pong=True)
            if m == "PONG":
                return
            self.pending = getattr(self, "pending", []) + [m]

    def subscribe(self, subject):
        self.sids += 1
        self._send(f"SUB {subject} {self.sids}\r\n".encode())
        return self.sids

    def publish(self, subject, data=b"", reply=None):
        data = data if isinstance(data, bytes) else data.encode()
        r = f" {reply}" if reply else ""
        self._send(f"PUB {subject}{r} {len(data)}\r\n".encode() + data + b"\r\n")

    def inbox(self):
        self.inbox_n += 1
        return f"_INBOX.qftest{os.getpid()}.{self.inbox_n}"

    def next_msg(self, timeout=None, control_only=False, stop_at_pong=False):
        """The next MSG/HMSG (a Msg); answers PINGs; returns "PONG" for a PONG; None on timeout."""
        if not control_only and not stop_at_pong and getattr(self, "pending", None):
            return self.pending.pop(0)
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self._line()
                if line == b"PING":
                    self._send(b"PONG\r\n")
                elif line == b"PONG":
                    return "PONG"
                elif line.startswith(b"+OK") or line.startswith(b"INFO"):
                    continue
                elif line.startswith(b"-ERR"):
                    raise RuntimeError(line.decode())
                elif line.startswith(b"MSG "):
                    parts = line.decode().split()
                    subject, sid = parts[1], int(parts[2])
                    reply = parts[3] if len(parts) == 5 else None
                    data = self._bytes(int(parts[-1]))
                    return Msg(subject, sid, reply, {}, data)
                elif line.startswith(b"HMSG "):
                    parts = line.decode().split()
                    subject, sid = parts[1], int(parts[2])
                    reply = parts[3] if len(parts) == 6 else None
                    hlen, total = int(parts[-2]), int(parts[-1])
                    raw = self._bytes(total)
                    head, data = raw[:hlen].decode(), raw[hlen:]
                    headers = {}
                    lines = head.split("\r\n")
                    headers["_status"] = lines[0][len("NATS/1.0"):].strip()
                    for h in lines[1:]:
                        if ":" in h:
                            k, v = h.split(":", 1)
                            headers[k.strip()] = v.strip()
                    return Msg(subject, sid, reply, headers, data)
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(10.0)

    def request(self, subject, payload, timeout=5.0):
        inbox = self.inbox()
        sid = self.subscribe(inbox)
        self.publish(subject, json.dumps(payload) if not isinstance(payload, (bytes, str)) else payload, reply=inbox)
        deadline = time.monotonic() + timeout
        others = []
        try:
            while time.monotonic() < deadline:
                m = self.next_msg(timeout=max(0.01, deadline - time.monotonic()))
                if isinstance(m, Msg) and m.sid == sid:
                    return m
                if isinstance(m, Msg):
                    others.append(m)
            return None
        finally:
            self._send(f"UNSUB {sid}\r\n".encode())
            self.pending = others + getattr(self, "pending", [])

    def js(self, api, payload=None, timeout=5.0):
        m = self.request(f"$JS.API.{api}", payload if payload is not None else b"", timeout)
        if m is None:
            raise TimeoutError(f"no answer to $JS.API.{api}")
        return json.loads(m.data)

    def fetch(self, stream, durable, batch, timeout=2.0):
        """Pull up to `batch` messages of a durable consumer; unacked."""
        inbox = self.inbox()
        sid = self.subscribe(inbox)
        self.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
                     json.dumps({"batch": batch, "expires": int(timeout * 1e9)}), reply=inbox)
        out = []
        deadline = time.monotonic() + timeout + 1.0
        try:
            while len(out) < batch and time.monotonic() < deadline:
                m = self.next_msg(timeout=max(0.01, deadline - time.monotonic()))
                if not isinstance(m, Msg) or m.sid != sid:
                    continue
                if m.headers.get("_status", "").startswith(("404", "408", "409")):
                    break  # no more messages / request expired
                out.append(m)
        finally:
            self._send(f"UNSUB {sid}\r\n".encode())
        return out

    def ack(self, m):
        self.publish(m.reply, b"+ACK")


def start_nats_server(procs, store_dir, port=None):
    """A real nats-server with JetStream on 127.0.0.1 (a free port unless given) storing under
    store_dir; returns (process, port) once it accepts clients."""
    port = port or free_port()
    p = procs.start(["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store_dir],
                    name="nats-server", read=None)

    def up():
        if p.poll() is not None:
            raise qf_testkit.Failure(f"nats-server exited ({p.returncode}):\n{p.log()}")
        Nats(port, timeout=1.0).close()
        return True
    qf_testkit.poll(up, f"nats-server on port {port}", timeout=30, retry=(OSError,))
    return p, port
