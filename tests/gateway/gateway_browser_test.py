#!/usr/bin/env python3
"""The dashboard in headless Chromium (playwright-core) against the gateway and the fake engine
(mode REPLAY, so the badge must follow the engine rather than a default): the badge, quotes
that change, the panels, equity/drawdown/positions, the composite book panel and the kill-switch state, and the
kill-switch button (token via prompt) tripping and resetting it, as the audit log shows; a
screenshot is saved in the work directory."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import check, poll, request, run, start_fake, start_gateway, write_config  # noqa: E402


def main(args, procs):
    instance = f"gwbr{os.getpid()}"
    cfg = os.path.join(args.work, "gateway.toml")
    audit = os.path.join(args.work, "audit.jsonl")
    write_config(cfg, instance, audit)
    token = "br-" + os.urandom(6).hex()
    start_fake(procs, args.fake, instance, "--mode", "replay", "--step-ms", "50")
    gw, port = start_gateway(procs, args.gateway, cfg, token=token)
    poll(lambda: json.loads(request(port, "GET", "/api/health")[2])["mode"] == "REPLAY", "engine running")
    shot = os.path.join(args.work, "dashboard.png")
    env = dict(os.environ, NODE_PATH=args.node_modules)
    res = subprocess.run([args.node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser.js"),
                          f"http://127.0.0.1:{port}/", "REPLAY", shot, token], env=env, capture_output=True, text=True,
                         timeout=240)
    lines = res.stdout.strip().splitlines()
    check(lines, f"browser printed nothing: {res.stderr[-2000:]}")
    r = json.loads(lines[-1])
    check(r["ok"] and res.returncode == 0, f"browser: {r} {res.stderr[-1000:]}")
    check(r["first"] != r["second"] and r["health"] == "gap", f"browser saw {r}")
    check(os.path.getsize(shot) > 10000, "screenshot written")
    c = r["composite"]
    check(c["included"] == "2/3" and c["excluded"] == "excluded: not_live" and c["levels"] == 3
          and c["best_ask"].endswith("@ coinbase:ETH-USD"), f"composite panel {c}")
    check(r["tripped"] == "done: changed; kill switch reduce-only", f"button result {r['tripped']}")
    with open(audit) as f:
        lines = [json.loads(line) for line in f]
    check([(l["action"], l["result"]) for l in lines] ==
          [("risk kill-switch reduce-only", "done"), ("risk kill-switch off", "done")], f"audit {lines}")
    print(f"ok: dashboard: {r}; screenshot {shot}")


if __name__ == "__main__":
    sys.exit(run("gateway_browser_test", main, ("--gateway", "--fake", "--node", "--node-modules", "--work")))
