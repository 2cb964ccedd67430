#!/usr/bin/env python3
"""Backtest jobs through the real qf-gateway and the real qf-engine binary (no engine running:
the jobs are replays the gateway starts as children).
- no token 401; a capture outside the data folder or missing 400 naming `capture`; bad overrides 400;
- a job on the BTCUSDT capture completes with the metrics `qf-engine replay` prints for the same
  file (run here directly), and its equity curve has the CLI's rows;
- a paced job (`"speed": "1"`, the capture's own 30 s) shows progress that grows, then is cancelled;
- with it running and one queued, the next submission is 429; a queued job can be cancelled too;
- an override the engine's config loader refuses fails the job with the loader's message;
- every POST is in the audit log with its outcome."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import check, poll, request, run, start_gateway, write_config  # noqa: E402

TOKEN = "backtest-token"
CAPTURE = "binance-spot/btcusdt_20240808.capture.gz"
PACED = "binance-spot/multi_20211012.capture"


def post(port, path, body, token=TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Admin-Token"] = token
    status, _, data = request(port, "POST", path, headers=headers, body=json.dumps(body))
    return status, json.loads(data)


def job(port, jid):
    status, _, data = request(port, "GET", f"/api/backtests/{jid}")
    check(status == 200, f"GET job {jid}: {status} {data[:200]!r}")
    return json.loads(data)


def main(args, procs):
    instance = f"gwbt{os.getpid()}"
    jobs_dir = os.path.join(args.work, "jobs")
    audit = os.path.join(args.work, "audit.jsonl")
    cfg = os.path.join(args.work, "gateway.toml")
    write_config(cfg, instance, audit, backtest_data_dir=args.captures, backtest_dir=jobs_dir, backtest_queue=1,
                 engine_binary=args.engine)
    _, port = start_gateway(procs, args.gateway, cfg, token=TOKEN)

    status, body = post(port, "/api/backtests", {"capture": CAPTURE}, token=None)
    check(status == 401, f"no token: {status} {body}")
    for bad in ["../../etc/passwd", "/etc/passwd", "binance-spot/nope.capture", "binance-spot"]:
        status, body = post(port, "/api/backtests", {"capture": bad})
        check(status == 400 and body.get("parameter") == "capture", f"capture {bad!r}: {status} {body}")
    status, body = post(port, "/api/backtests", {"capture": CAPTURE, "overrides": {"risk": [1]}})
    check(status == 400 and body.get("parameter") == "overrides", f"bad overrides: {status} {body}")
    status, body = post(port, "/api/backtests", {"capture": CAPTURE, "colour": "blue"})
    check(status == 400 and body.get("parameter") == "colour", f"unknown field: {status} {body}")

    # A job to completion, against the CLI on the same file.
    status, body = post(port, "/api/backtests", {"capture": CAPTURE})
    check(status == 202 and body["state"] in ("queued", "running"), f"submit: {status} {body}")
    done = poll(lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(job(port, body["id"])),
                "the job to finish", timeout=120)
    check(done["state"] == "done", f"job failed: {done}")
    equity_csv = os.path.join(args.work, "cli-equity.csv")
    cli = subprocess.run([args.engine, "replay", "--venue", "binance-spot", "--input",
                          os.path.join(args.captures, CAPTURE), "--equity-csv", equity_csv],
                         capture_output=True, text=True, timeout=120, check=True)
    expected = json.loads(cli.stdout)["backtest"]
    check(done["backtest"] == expected, f"job metrics differ from the CLI's:\n{done['backtest']}\n{expected}")
    with open(equity_csv) as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    check(len(done["equity"]["rows"]) == len(rows) > 100, f"equity rows {len(done['equity']['rows'])} vs {len(rows)}")
    check(all(int(r[0]) == j[0] and abs(float(r[1]) - j[1]) < 1e-6 for r, j in zip(rows, done["equity"]["rows"])),
          "equity curve differs from the CLI's")
    check(done["progress"]["messages"] == done["progress"]["total"] > 40000, f"final progress {done['progress']}")
    print(f"ok: job {done['id']} done, {len(rows)} equity rows, trades {expected['trades']}")

    # A paced job: progress grows; meanwhile one queued and the next refused; then cancel both.
    status, paced = post(port, "/api/backtests", {"capture": PACED, "speed": "1"})
    check(status == 202, f"paced submit: {status} {paced}")
    first = poll(lambda: (lambda j: j if j["state"] == "running" and j["progress"]["messages"] > 0 else None)(
        job(port, paced["id"])), "the paced job's first progress", timeout=60)
    later = poll(lambda: (lambda j: j if j["progress"]["messages"] > first["progress"]["messages"] else None)(
        job(port, paced["id"])), "the paced job's progress to grow", timeout=60)
    check(later["state"] == "running" and later["progress"]["total"] > later["progress"]["messages"],
          f"progress {first['progress']} -> {later['progress']}")
    status, queued = post(port, "/api/backtests", {"capture": CAPTURE})
    check(status == 202 and queued["state"] == "queued", f"second submit: {status} {queued}")
    status, body = post(port, "/api/backtests", {"capture": CAPTURE})
    check(status == 429, f"a full queue: {status} {body}")
    status, body = post(port, f"/api/backtests/{queued['id']}/cancel", {})
    check(status == 202 and job(port, queued["id"])["state"] == "cancelled", f"cancel queued: {status} {body}")
    status, body = post(port, f"/api/backtests/{paced['id']}/cancel", {})
    check(status == 202, f"cancel running: {status} {body}")
    poll(lambda: job(port, paced["id"])["state"] == "cancelled", "the running job cancelled")
    status, body = post(port, f"/api/backtests/{paced['id']}/cancel", {})
    check(status == 409, f"cancel twice: {status} {body}")
    status, _, _ = request(port, "GET", "/api/backtests/999")
    check(status == 404, f"unknown job: {status}")
    print(f"ok: progress {first['progress']} -> {later['progress']}, queue full 429, both cancelled")

    # An override the engine refuses: the job fails with the loader's words.
    status, bad = post(port, "/api/backtests", {"capture": CAPTURE, "overrides": {"risk": {"no_such_key": 1}}})
    check(status == 202, f"submit with a bad key: {status} {bad}")
    failed = poll(lambda: (lambda j: j if j["state"] in ("done", "failed") else None)(job(port, bad["id"])),
                  "the bad job to end", timeout=60)
    check(failed["state"] == "failed" and "no_such_key" in failed.get("error", ""), f"bad override job: {failed}")

    status, _, data = request(port, "GET", "/api/backtests")
    states = [j["state"] for j in json.loads(data)["jobs"]]
    check(states == ["done", "cancelled", "cancelled", "failed"], f"job list states {states}")
    with open(audit) as f:
        lines = [json.loads(line) for line in f]
    outcomes = [(line["action"], line["result"], line["status"]) for line in lines]
    check(("backtest", "unauthorized", 401) in outcomes and ("backtest", "accepted", 202) in outcomes and
          ("backtest", "refused", 429) in outcomes and ("backtest", "refused", 400) in outcomes,
          f"audit outcomes: {outcomes}")
    print(f"ok: {len(lines)} audit lines; jobs {states}")


if __name__ == "__main__":
    sys.exit(run("backtest_jobs_test", main, ("--gateway", "--engine", "--captures", "--work")))
