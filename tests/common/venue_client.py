"""Test-side helpers for qf-venue (and any other QuantFlow websocket/REST server), Python stdlib only.

start_venue() spawns qf-venue through qf_testkit.Procs, waits (bounded) for its `qf-venue: listening
...` line and returns a Venue with the URLs and the /venue/stats and /venue/fault calls; WsClient is a minimal RFC 6455 client (text frames, ping/pong, close) that
exposes what a test needs to observe: every ping received, the close code and reason, raw bytes of
frames (so a malformed frame can be checked as such). TLS always verifies the certificate.
"""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from qf_testkit import poll

LISTENING = re.compile(r"^qf-venue: listening (wss?)://127\.0\.0\.1:(\d+) (https?)://127\.0\.0\.1:(\d+) venue=(\S+)$")


class Venue:
    def __init__(self, proc, ws_url, http_url, venue, ca_file, lines):
        self.proc, self.ws_url, self.http_url, self.venue, self.ca_file, self.lines = proc, ws_url, http_url, venue, ca_file, lines

    def get(self, path, timeout=10):
        return http_request(self.http_url + path, ca_file=self.ca_file, timeout=timeout)

    def get_json(self, path):
        status, _, body = self.get(path)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    def stats(self):
        return self.get_json("/venue/stats")

    def fault(self, query):
        status, _, body = http_request(self.http_url + "/venue/fault?" + query, ca_file=self.ca_file, method="POST")
        if status != 200:
            raise AssertionError(f"fault {query}: {status} {body!r}")
        return json.loads(body)

    def ws(self, path, **kw):
        return WsClient(self.ws_url + path, ca_file=self.ca_file, **kw)

    def wait_for(self, predicate, what, deadline_s=20):
        """Polls /venue/stats until predicate(stats) holds, bounded by a deadline."""
        return poll(self.stats, what, timeout=deadline_s, interval=0.02, until=predicate)

    def stop(self):
        """SIGTERM; returns the exit status (qf-venue exits 0). A venue that died early is an error."""
        if self.proc.poll() is not None:
            raise AssertionError(f"qf-venue died during the test ({self.proc.returncode}): {self.proc.log()}")
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("qf-venue did not exit within 10 s of SIGTERM")


def start_venue(procs, binary, *args, deadline_s=30):
    """qf-venue on a free port, started through `procs` (so it is stopped whatever happens); returns
    once it has printed its listening line and the snippet lines after it (ws_url, rest_url and,
    with TLS, ca_file)."""
    proc = procs.start([binary, "--port", "0", *args], name="qf-venue")

    def announced(lines):
        for i, line in enumerate(lines):
            if m := LISTENING.match(line):
                end = i + 1 + (3 if m.group(1) == "wss" else 2)
                return (m, lines[i + 1:end], lines[:end]) if len(lines) >= end else None
        return None
    m, snippet_lines, lines = proc.expect(announced, "qf-venue's listening line", timeout=deadline_s)
    ws, port, http, port2, venue = m.groups()
    assert port == port2, lines[-1]
    snippet = {}
    for line in snippet_lines:
        k, _, v = line.partition(" = ")
        snippet[k] = json.loads(v)
    return Venue(proc, f"{ws}://127.0.0.1:{port}", f"{http}://127.0.0.1:{port}", venue, snippet.get("ca_file"), lines)


def ssl_context(ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the host name
    return ctx


def http_request(url, ca_file=None, method="GET", timeout=10):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    ctx = ssl_context(ca_file) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Closed(Exception):
    def __init__(self, code, reason, clean):
        super().__init__(f"closed code={code} reason={reason!r} clean={clean}")
        self.code, self.reason, self.clean = code, reason, clean


class WsClient:
    """Blocking websocket client. auto_pong answers pings with their payload (as a real client)."""

    def __init__(self, url, ca_file=None, auto_pong=True, timeout=10):
        u = urllib.parse.urlsplit(url)
        self.auto_pong = auto_pong
        self.pings = []  # payloads of the pings received, in order
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        if u.scheme == "wss":
            self.sock = ssl_context(ca_file).wrap_socket(self.sock, server_hostname=u.hostname)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"handshake: connection closed; got {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise ConnectionError(f"handshake refused: {head!r}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if accept not in head:
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.closed = None

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(None, "", False)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode() if isinstance(text, str) else text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj, separators=(",", ":")))

    def recv_frame(self, timeout=10):
        """The next frame as (opcode, payload bytes); raises Closed at a close frame or EOF."""
        self.sock.settimeout(timeout)
        b1, b2 = self._read(2)
        opcode, n = b1 & 0x0F, b2 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(n)
        if opcode == 0x8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
            self.closed = Closed(code, payload[2:].decode(errors="replace"), True)
            raise self.closed
        return opcode, payload

    def recv_text(self, timeout=10):
        """The next text message (str); pings are recorded (and answered when auto_pong)."""
        while True:
            opcode, payload = self.recv_frame(timeout)
            if opcode == 0x9:
                self.pings.append(payload)
                if self.auto_pong:
                    self._send_frame(0xA, payload)
                continue
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0xA:
                continue
            raise AssertionError(f"unexpected opcode {opcode}")

    def wait_pings(self, n, timeout=20):
        """Reads (and discards text) until n pings have arrived in total."""
        while len(self.pings) < n:
            self.recv_text(timeout)  # returns on text; pings are handled inside

    def recv_json(self, timeout=10):
        return json.loads(self.recv_text(timeout))

    def close(self):
        try:
            self._send_frame(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()
