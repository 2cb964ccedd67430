"""What every Python integration and e2e test of QuantFlow shares (stdlib only).

- Procs: the processes a test starts, and its temporary directory. Each child's announcing stream (stdout, or stderr for
  run.sh) is read on a thread, so a chatty child never blocks on a full pipe, and the rest goes to
  a log file. close() stops them newest first whatever way the test ended: SIGCONT (a test may have
  stopped one), the stop signal, up to `grace` seconds, then SIGKILL; then it removes the shared
  memory segments of the instances it was given. case_procs() ties one to a unittest case.
- poll: the one bounded wait. A test waits for a condition, never for a sleep standing in for it.
- monitor_json, http_json, request, free_port, fresh_dir, pid_alive, remove_segments,
  write_config (a TOML config from tables), start_gateway.
The venue protocol client and start_venue live beside this file in venue_client.py.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

# What a poll may treat as "not up yet": a refused connection, a half-written answer.
NOT_UP = (OSError, http.client.HTTPException, ValueError)


class Failure(AssertionError):
    """A failed check; unittest counts it as a failure, the script tests print it and exit 1."""


def check(cond, what):
    if not cond:
        raise Failure(what)


def poll(condition, what, timeout=30.0, interval=0.05, retry=(), until=None):
    """Calls condition() until its value is truthy (or until(value) holds) and returns that value;
    fails after `timeout` seconds naming `what` and the last value. Exceptions of the types in
    `retry` count as "not yet"; any other propagates at once."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if (until(last) if until else last):
                return last
        except retry as e:
            last = e
        time.sleep(interval)  # polling interval, bounded by the deadline
    raise Failure(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


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

    def join(self, timeout=10):
        self.thread.join(timeout=timeout)


class Proc(subprocess.Popen):
    """A child started by Procs: `lines` is the stream it announces itself on (read="stdout" or
    "stderr"; None sends everything to the log), `log()` the text of the rest."""

    def __init__(self, args, log_path, read="stdout", env=None, stdin=None, stop_signal=signal.SIGTERM):
        self.log_path, self.stop_signal = log_path, stop_signal
        self.log_file = open(log_path, "w")
        streams = {"stdout": dict(stdout=subprocess.PIPE, stderr=self.log_file),
                   "stderr": dict(stdout=self.log_file, stderr=subprocess.PIPE),
                   None: dict(stdout=self.log_file, stderr=subprocess.STDOUT)}[read]
        super().__init__(args, text=True, env=env, stdin=stdin, **streams)
        self.lines = LineReader(self.stdout if read == "stdout" else self.stderr) if read else None

    def log(self):
        self.log_file.flush()
        with open(self.log_path) as f:
            return f.read()

    def expect(self, parse, what, timeout=30.0):
        """Polls parse(lines so far) until it returns something; fails, with the output, when the
        process exits first or after `timeout` seconds."""
        def parsed():
            exited = self.poll() is not None
            if exited:
                self.lines.join()  # the last lines it wrote are in
            value = parse(self.lines.snapshot())
            if value is None and exited:
                raise Failure(f"{self.args[0]} exited ({self.returncode}) before {what}:\n{self.lines.text()}\n"
                              f"{self.log()}")
            return value
        return poll(parsed, what, timeout=timeout, until=lambda v: v is not None)

    def first_line(self, what, timeout=30.0):
        return self.expect(lambda lines: lines[0] if lines else None, what, timeout)

    def wait_line(self, pattern, what, timeout=30.0):
        """The first match of the regex `pattern` in the announced lines."""
        return self.expect(lambda lines: next((m for line in lines if (m := re.search(pattern, line))), None),
                           what, timeout)


class Procs:
    """`work` holds the logs: the given directory, or a temporary one removed at close; the test
    may keep its own files (configs, state) there too."""

    def __init__(self, work=None, grace=10.0, instance=None):
        self.own_dir = None if work else tempfile.TemporaryDirectory()
        self.work = work or self.own_dir.name
        self.grace = grace
        self.procs = []
        self.instances = [instance] if instance else []

    def instance(self, name):
        """A segment instance whose /dev/shm names are removed at close."""
        self.instances.append(name)
        return name

    def start(self, args, name=None, read="stdout", env=None, stdin=None, stop_signal=signal.SIGTERM):
        name = name or os.path.basename(args[0])
        log = os.path.join(self.work, f"{name}-{len(self.procs)}.log")
        p = Proc(args, log, read=read, env=env, stdin=stdin, stop_signal=stop_signal)
        self.procs.append(p)
        return p

    def stop(self, p, sig=None):
        """Stops p (its stop signal unless `sig`), SIGKILL after the grace period; returns its exit status."""
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, sig or p.stop_signal)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)
            if p.lines:
                p.lines.join()
            # A pipe still held open by a grandchild stays with its reader thread (a daemon):
            # closing it under a blocked read would wait for that grandchild.
            reading = p.lines and p.lines.thread.is_alive()
            for stream in (p.stdout, p.stderr):
                if stream and not reading:
                    stream.close()
            p.log_file.close()
        for inst in self.instances:
            remove_segments(inst)
        if self.own_dir:
            self.own_dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def case_procs(case, work=None, grace=10.0, instance=None):
    """Procs closed when the unittest case ends, also when setUp fails after starting a process
    (a cleanup added after this one runs before it)."""
    procs = Procs(work, grace, instance)
    case.addCleanup(procs.close)
    return procs


def fresh_dir(path):
    """An empty directory at `path` (a work directory under the build tree, kept for post-mortems)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def remove_segments(instance):
    for name in ("state", "control"):
        try:
            os.unlink(f"/dev/shm/qf.{instance}.{name}")
        except FileNotFoundError:
            pass


def pid_alive(pid):
    """True while the pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def free_port():
    """A port that was free a moment ago (the tests use it right away, on loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def monitor_json(monitor, instance, timeout=30.0):
    """What `qf-monitor --json` reads from the instance's state segment, parsed."""
    out = subprocess.run([monitor, "--instance", instance, "--json"], check=True, capture_output=True, text=True,
                         timeout=timeout)
    return json.loads(out.stdout)


def http_json(url, timeout=5):
    """(status, parsed body) of a GET; a 4xx/5xx with a JSON body is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def request(port, method, path, headers=None, body=None):
    """(status, headers with lower-case names, body bytes) of one HTTP request to 127.0.0.1:port."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
    finally:
        c.close()


def request_json(port, method, path, headers=None, body=None):
    status, _, data = request(port, method, path, headers, body)
    return status, json.loads(data)


def sim_engine(instance):
    """The [engine] table of a test engine: SIM mode, parking when idle, no locked memory; the
    engine threads mode from QF_TEST_ENGINE_THREADS (the `_split` ctest variants), else the default."""
    table = {"instance": instance, "mode": "sim", "idle": "backoff", "lock_memory": False}
    if os.environ.get("QF_TEST_ENGINE_THREADS"):
        table["threads"] = os.environ["QF_TEST_ENGINE_THREADS"]
    return table


# A venue that reconnects quickly and calls a silent connection stale after 2 s.
QUICK_RECONNECT = {"stale_after_ms": 2000, "reconnect_min_ms": 50, "reconnect_max_ms": 500}


def write_config(path, **tables):
    """Writes a TOML file: a keyword with a dict is a table [name], with a list of dicts an array of
    tables [[name]]; values are strings, booleans or numbers."""
    def value(v):
        return ("true" if v else "false") if isinstance(v, bool) else json.dumps(v)
    out = []
    for name, t in tables.items():
        for row, header in ([(t, f"[{name}]")] if isinstance(t, dict) else [(r, f"[[{name}]]") for r in t]):
            out += [header, *(f"{k} = {value(v)}" for k, v in row.items()), ""]
    with open(path, "w") as f:
        f.write("\n".join(out))
    return path


def start_gateway(procs, gateway, config, token=None, extra=()):
    """qf-gateway on a free port (QF_ADMIN_TOKEN = token, unset when None); (process, port) once its
    first line says where it listens."""
    env = dict(os.environ)
    env.pop("QF_ADMIN_TOKEN", None)
    if token is not None:
        env["QF_ADMIN_TOKEN"] = token
    p = procs.start([gateway, "--config", config, "--port", "0", *extra], env=env)
    line = p.first_line("qf-gateway's listening line")
    check(line.startswith("qf-gateway: listening http://127.0.0.1:"), f"gateway did not start: {line!r}")
    return p, int(line.strip().rsplit(":", 1)[1])
