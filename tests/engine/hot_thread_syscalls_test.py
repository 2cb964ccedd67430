#!/usr/bin/env python3
"""Nothing blocking on the hot thread (issue 12, item 3): the system calls of the engine's core
thread, traced over a run with traffic, are socket I/O, polls and futexes only.

Usage: hot_thread_syscalls_test.py QF_ENGINE QF_VENUE QF_MONITOR
- qf-venue --synthetic (binance, 3 symbols, 2000 msg/s) feeds qf-engine in inline mode (the core
  thread "qf-hot" services the websocket itself) with a [risk] state_file, so the once-a-second
  risk persistence is exercised;
- once every book is live, `strace -f -tt -p TID` traces the hot thread (and, -f, every other
  thread of the process: their lines are filtered out by thread id) (found by its name in
  /proc/PID/task/*/comm) until the risk file has been rewritten twice (two hand-offs traced);
- every traced call must be in ALLOWED, and every read/write-family call must be on a socket,
  a pipe or an eventfd (lws's wake-up), never on a file.

What is allowed, and why:
- poll/ppoll/epoll_*: the lws service pass (zero timeout while busy; parked until data or the
  10 ms tick when backoff idles) - the only place the thread may wait;
- read/recv*/write/send* (and their vector forms) on sockets, pipes, eventfds: the websocket
  traffic and lws's cancel-service pipe;
- futex: the waker side of the risk writer's EventCount (once a second) and of spdlog's async
  queue (a log line is queued, the file write happens on spdlog's thread); a futex wait is the
  idle park of split mode, which this test does not run;
- sched_yield: backoff's yield step (gives the core away, never sleeps on a timer);
- restart_syscall: the kernel resuming the poll that strace's attach interrupted;
- fstat/newfstatat: the segments' size check, once a second (a changed size is fatal, issue 17);
  a metadata read of a /dev/shm file, no I/O and no wait.
Everything else fails the test, in particular openat/open, rename*, unlink*, fsync/fdatasync,
write to a file, nanosleep/clock_nanosleep (a sleep added to a message's latency).
To see it fail: point the risk hand-off back at save_risk_state on the hot thread (the state
before issue 12 item 3): the trace shows openat, write to the temporary file and rename.
Every wait is a bounded poll of a condition, never a sleep standing in for it.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from qf_testkit import QUICK_RECONNECT, case_procs, monitor_json, poll, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402

ENGINE = VENUE = MONITOR = None
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

ALLOWED = {"poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_pwait2",
           "read", "readv", "recvfrom", "recvmsg", "recvmmsg",
           "write", "writev", "sendto", "sendmsg", "sendmmsg",
           "futex", "sched_yield", "restart_syscall", "fstat", "newfstatat"}
FD_CALLS = {"read", "readv", "recvfrom", "recvmsg", "recvmmsg", "write", "writev", "sendto", "sendmsg", "sendmmsg"}
FD_KINDS = ("socket:", "pipe:", "anon_inode:[eventfd]")
# "TID HH:MM:SS.micros name(first, ..." (-f prefixes the thread id: -f -p attaches to every thread
# of the process, so the lines of the other threads are filtered out by their id).
LINE = re.compile(r"^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?\d\d:\d\d:\d\d\.\d+\s+(\w+)\((\d*)")


def thread_id(pid, name):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == name:
                return int(tid)
    return None


def parse_trace(text, tid):
    """(syscall, first argument) of every call thread `tid` made in an strace output, resumed
    halves skipped."""
    calls = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and int(m.group(1) or m.group(2) or tid) == tid:
            calls.append((m.group(3), m.group(4)))
    return calls


def violations(calls, pid):
    """The calls the hot thread must not make, with the reason."""
    bad = []
    for name, arg in calls:
        if name not in ALLOWED:
            bad.append(f"{name}: not an allowed call")
        elif name in FD_CALLS:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{arg}")
            except OSError:
                target = "closed"
            if not target.startswith(FD_KINDS):
                bad.append(f"{name}({arg}) on {target}: not a socket, pipe or eventfd")
    return bad


class HotThreadSyscalls(unittest.TestCase):
    def setUp(self):
        self.instance = f"hotsys{os.getpid()}"
        self.procs = case_procs(self, instance=self.instance)
        self.venue = start_venue(self.procs, VENUE, "--venue", "binance", "--synthetic", "--symbols",
                                 ",".join(SYMBOLS), "--rate", "2000", "--seed", "11")
        self.state_file = os.path.join(self.procs.work, "risk.state")
        engine = sim_engine(self.instance)
        engine["threads"] = "inline"
        self.config = write_config(
            os.path.join(self.procs.work, f"{self.instance}.toml"), engine=engine,
            risk={"state_file": self.state_file},
            venues=[{"venue": "binance-spot", "ws_url": self.venue.ws_url, "rest_url": self.venue.http_url,
                     **QUICK_RECONNECT}],
            instruments=[{"venue": "binance-spot", "symbol": s, "price_decimals": 2, "qty_decimals": 8}
                         for s in SYMBOLS])

    def stamp(self):
        try:
            st = os.stat(self.state_file)
            return (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            return None

    def all_live(self):
        s = monitor_json(MONITOR, self.instance)
        if s.get("status") != "running":
            return False
        inst = s["instruments"]
        return len(inst) == len(SYMBOLS) and all(i["health"] == "live" for i in inst)

    def test_the_hot_thread_makes_no_file_system_or_sleeping_call_under_traffic(self):
        self.assertIsNotNone(shutil.which("strace"), "strace is missing: scripts/bootstrap.sh installs it")
        engine = self.procs.start([ENGINE, "--config", self.config], name="engine", read=None)
        poll(self.all_live, "every book live")
        tid = poll(lambda: thread_id(engine.pid, "qf-hot"), "the hot thread named qf-hot")
        out = os.path.join(self.procs.work, "hot.strace")
        strace = subprocess.Popen(["strace", "-f", "-tt", "-qq", "-o", out, "-p", str(tid)],
                                  stderr=subprocess.PIPE, text=True)
        try:
            poll(lambda: os.path.exists(out) and os.path.getsize(out) > 0, "strace to attach")
            seen = [self.stamp()]
            def saved_twice():
                if self.stamp() != seen[-1]:
                    seen.append(self.stamp())
                return len(seen) >= 3
            poll(saved_twice, "two risk-state writes while traced")
        finally:
            strace.send_signal(signal.SIGINT)
            strace.wait(timeout=30)
        with open(out) as f:
            calls = parse_trace(f.read(), tid)
        names = {n for n, _ in calls}
        counts = {n: sum(1 for c, _ in calls if c == n) for n in sorted(names)}
        print(f"hot thread {tid}: {len(calls)} calls traced: {counts}", file=sys.stderr)
        self.assertTrue({"poll", "ppoll"} & names, f"the trace shows no service pass: {sorted(names)}")
        self.assertTrue(FD_CALLS & names, f"the trace shows no socket traffic: {sorted(names)}")
        bad = violations(calls, engine.pid)
        self.assertEqual(bad[:20], [], f"{len(bad)} forbidden calls on the hot thread (trace: {out})")
        engine.send_signal(signal.SIGTERM)
        self.assertEqual(engine.wait(timeout=30), 0)


if __name__ == "__main__":
    ENGINE, VENUE, MONITOR = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"])
