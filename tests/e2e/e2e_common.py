"""Helpers for the end-to-end tests: bounded polls (never a sleep standing in for a condition),
plain HTTP on 127.0.0.1, free ports, pid checks and segment cleanup."""
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

WAIT_S = 60.0


def poll(condition, what, timeout=WAIT_S, interval=0.1):
    """Calls condition() until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)  # polling interval, bounded by the deadline
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def http_json(url, timeout=5):
    """(status, parsed body) of a GET; a 4xx/5xx with a JSON body is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def free_port():
    """A port that was free a moment ago (the tests use it right away, on loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    """True while the pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def remove_segments(instance):
    for name in ("state", "control"):
        try:
            os.unlink(f"/dev/shm/qf.{instance}.{name}")
        except FileNotFoundError:
            pass


class LineReader:
    """Collects a pipe's lines on a thread, so the child never blocks on a full pipe."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for line in stream:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def text(self):
        return "\n".join(self.snapshot())
