"""What the qf-gateway tests share beyond tests/common/qf_testkit.py: the fake engine, the gateway
config, GET of a JSON document and the script skeleton (options, work directory, ok/FAIL)."""
import argparse
import functools
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import qf_testkit  # noqa: E402
from qf_testkit import Failure, Procs, check, fresh_dir, request, start_gateway  # noqa: E402,F401 (the gateway tests use them)

poll = functools.partial(qf_testkit.poll, timeout=20.0, interval=0.02, retry=qf_testkit.NOT_UP)


def start_fake(procs, fake, instance, *extra):
    if instance not in procs.instances:
        procs.instance(instance)
    p = procs.start([fake, instance, *extra])
    line = p.first_line("the fake engine's first line")
    check(line.strip() == "ready", f"fake engine did not start: {line!r} {p.log() if p.poll() is not None else ''}")
    return p


def write_config(path, instance, audit, **gateway):
    return qf_testkit.write_config(path, engine={"instance": instance}, gateway={"audit_log": audit, **gateway})


def get_json(port, path, expect=200):
    status, headers, data = request(port, "GET", path)
    check(status == expect, f"GET {path}: status {status}, expected {expect}: {data[:300]!r}")
    check(headers.get("content-type", "").startswith("application/json"), f"GET {path}: content type {headers}")
    return json.loads(data)


def run(name, body, options, defaults=None):
    """The script test `name`: parses the required `options` (and `defaults`, {option: value}),
    empties --work, runs body(args, procs) and prints ok or FAIL; the exit status."""
    ap = argparse.ArgumentParser()
    for a in options:
        ap.add_argument(a, required=True)
    for a, v in (defaults or {}).items():
        ap.add_argument(a, default=v)
    args = ap.parse_args()
    fresh_dir(args.work)
    procs = Procs(args.work)
    try:
        body(args, procs)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        procs.close()
    print(f"{name}: all passed")
    return 0
