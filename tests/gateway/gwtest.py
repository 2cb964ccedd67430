"""Shared helpers for the qf-gateway tests: start the fake engine and the gateway, wait with
bounded deadlines (never a fixed sleep standing in for synchronisation), plain HTTP calls."""
import http.client
import json
import os
import signal
import subprocess
import time


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def wait_for(pred, what, timeout=20.0, interval=0.02):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as e:  # not up yet
            last = e
        time.sleep(interval)  # polling interval, bounded by the deadline
    raise Failure(f"timed out waiting for {what} (last: {last!r})")


class Procs:
    def __init__(self):
        self.procs = []
        self.instances = []

    def instance(self, name):
        """A segment instance whose /dev/shm names are removed at close."""
        self.instances.append(name)
        return name

    def start(self, args, env=None, **kw):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            os.kill(p.pid, sig)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                except OSError:
                    pass
                self.stop(p)
        for inst in self.instances:
            for seg in ("state", "control"):
                try:
                    os.unlink(f"/dev/shm/qf.{inst}.{seg}")
                except FileNotFoundError:
                    pass


def start_fake(procs, fake, instance, *extra):
    if instance not in procs.instances:
        procs.instance(instance)
    p = procs.start([fake, instance, *extra])
    line = p.stdout.readline()
    check(line.strip() == "ready", f"fake engine did not start: {line!r} {p.stderr.read() if p.poll() is not None else ''}")
    return p


def write_config(path, instance, audit, **gateway):
    lines = ["[engine]", f'instance = "{instance}"', "[gateway]", f'audit_log = "{audit}"']
    for k, v in gateway.items():
        lines.append(f"{k} = {json.dumps(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def start_gateway(procs, gateway, config, env_token=None, extra=()):
    env = dict(os.environ)
    env.pop("QF_ADMIN_TOKEN", None)
    if env_token is not None:
        env["QF_ADMIN_TOKEN"] = env_token
    p = procs.start([gateway, "--config", config, "--port", "0", *extra], env=env)
    line = p.stdout.readline()
    check(line.startswith("qf-gateway: listening http://127.0.0.1:"), f"gateway did not start: {line!r}")
    return p, int(line.strip().rsplit(":", 1)[1])


def request(port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
    finally:
        c.close()


def get_json(port, path, expect=200):
    status, headers, data = request(port, "GET", path)
    check(status == expect, f"GET {path}: status {status}, expected {expect}: {data[:300]!r}")
    check(headers.get("content-type", "").startswith("application/json"), f"GET {path}: content type {headers}")
    return json.loads(data)
