#!/usr/bin/env python3
"""End-to-end latency benchmark: qf-venue --synthetic -> qf-engine (live mode, real sockets on
127.0.0.1), read from the engine's own histograms (qf-monitor --json), and a peer on the same stream.

Each cell is a fresh venue + engine (a fresh instance, so its histograms cover exactly that
cell) for one profile, threads mode, venue rate and reader condition:
  profile  untuned   today's setup, nothing pinned
           tuned     the engine's hot thread on CPU 1 with SCHED_FIFO (qf-engine --tuned), every
                     other process (venue, gateway, monitor, clients, this harness) on CPU 0
  threads  inline | split   ([engine] threads)
  readers  none      nothing attached
           monitor   qf-monitor full screen at --interval 50 in a private tmux server
           ws        qf-gateway with N WebSocket clients (node bench/e2e/ws_load.js) at the gateway's 20 Hz
           both      monitor + gateway + clients
           bridge    nats-server -js (free port, temp store) + qf-bridge forwarding the tick journal;
                     its publish rate (msg/s into NATS) comes from its bridge.stats messages
Readers are attached before the engine starts, so the whole engine life is under that condition.
The condition order alternates from cell to cell so a noisy spell on this shared machine does not
land on one condition only. Per cell: the engine syncs every book, then two snapshots `--seconds`
apart give the sustained rate (feed message counters); latency percentiles are the engine's
since-start histograms (sync included, a few hundred events).
The peer: ccxt's Binance websocket client (bench/peers/ccxt_peer.js, every URL forced to and
checked against 127.0.0.1) on a fresh venue at each --peer-rates rate, timed inside its process
from frame received to book updated; printed against our receive_to_publish at the same rate.

  bench/e2e/e2e_bench.py [--build-dir build] [--profiles untuned,tuned] [--threads inline,split]
                         [--rates 10000,100000,max] [--conditions none,both] [--seconds 3]
                         [--peer-rates 10000,100000] [--clients 200] [--idle backoff|spin]
                         [--rounds 1] [--out bench/results]
Writes bench/results/e2e.json and prints the tables (bench.sh also keeps them in e2e.txt).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
STAGES = ["parse", "queue", "process", "receive_to_publish"]
QUANTS = ["p50", "p90", "p99", "p999", "max"]


def log(msg):
    print(f"e2e_bench: {msg}", file=sys.stderr, flush=True)


def poll(cond, what, timeout=60.0, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}; last: {last!r}")


def terminate(p):
    """SIGTERM, then SIGKILL after 20 s."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Trial:
    def __init__(self, args, rate, cond, tag, profile="untuned", threads="inline"):
        self.args, self.rate, self.cond = args, rate, cond
        self.profile, self.threads = profile, threads
        # tuned: the engine's hot thread on CPU 1 with SCHED_FIFO (qf-engine --tuned), every other
        # process (venue, gateway, monitor, clients, this harness) on CPU 0, as scripts/run.sh --tuned.
        self.cpu0 = ["taskset", "-c", "0"] if profile == "tuned" else []
        self.instance = f"qfbench{os.getpid()}{tag}"
        self.dir = tempfile.mkdtemp(prefix=f"{self.instance}-")
        self.bin = os.path.join(args.build_dir, "bin")
        self.procs = []  # (name, Popen), stopped newest first
        self.tmux = None
        self.bridge_stats = None  # cond "bridge": a NATS connection subscribed to bridge.stats

    def spawn(self, name, argv, **kw):
        logf = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(argv if name == "engine" else self.cpu0 + argv, stderr=logf, **kw)
        self.procs.append((name, p))
        return p

    def monitor_json(self):
        out = subprocess.run([os.path.join(self.bin, "qf-monitor"), "--instance", self.instance, "--json"],
                             capture_output=True, text=True, timeout=30, check=True)
        return json.loads(out.stdout)

    def run(self):
        a = self.args
        venue = self.spawn("venue", [os.path.join(self.bin, "qf-venue"), "--venue", "binance", "--port", "0",
                                     "--synthetic", "--symbols", ",".join(SYMBOLS), "--rate", self.rate,
                                     "--seed", "7"], stdout=subprocess.PIPE, text=True)
        line = venue.stdout.readline()
        m = re.search(r"listening (ws://127\.0\.0\.1:\d+) (http://127\.0\.0\.1:\d+)", line)
        if not m:
            raise RuntimeError(f"qf-venue: {line!r}")
        ws_url, http_url = m.group(1), m.group(2)
        config = os.path.join(self.dir, "bench.toml")
        with open(config, "w") as f:
            f.write(f'[engine]\ninstance = "{self.instance}"\nmode = "sim"\nidle = "{a.idle}"\nthreads = "{self.threads}"\nlock_memory = false\n\n'
                    f'[gateway]\nport = 0\npush_hz = {a.push_hz}\n\n'
                    f'[[venues]]\nvenue = "binance-spot"\nws_url = "{ws_url}"\nrest_url = "{http_url}"\n'
                    'depth_stream = "depth@100ms"\n\n')
            for s in SYMBOLS:
                f.write(f'[[instruments]]\nvenue = "binance-spot"\nsymbol = "{s}"\nprice_decimals = 2\n'
                        'qty_decimals = 8\n\n')
        ws_clients = None
        if self.cond == "bridge":
            self.start_bridge(config)
        if self.cond in ("ws", "both"):
            gw = self.spawn("gateway", [os.path.join(self.bin, "qf-gateway"), "--config", config, "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
            gl = gw.stdout.readline()
            gm = re.search(r"listening (http://127\.0\.0\.1:\d+)", gl)
            if not gm:
                raise RuntimeError(f"qf-gateway: {gl!r}")
            ws_clients = self.spawn("ws_load", [a.node, os.path.join(ROOT, "bench/e2e/ws_load.js"),
                                                gm.group(1).replace("http", "ws") + "/ws", str(a.clients)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            ready = ws_clients.stdout.readline()
            if '"ready"' not in ready:
                raise RuntimeError(f"ws_load: {ready!r}")
        if self.cond in ("monitor", "both"):
            self.tmux = f"qfbench{os.getpid()}"
            subprocess.run(["tmux", "-L", self.tmux, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50",
                            f"{' '.join(self.cpu0)} {os.path.join(self.bin, 'qf-monitor')} --instance {self.instance} --interval {a.monitor_ms}"],
                           check=True)
        engine = self.spawn("engine", [os.path.join(self.bin, "qf-engine"), "--config", config,
                                       *(["--tuned"] if self.profile == "tuned" else [])])

        def all_live():
            s = self.monitor_json()
            if engine.poll() is not None:
                raise RuntimeError(f"qf-engine exited {engine.returncode}")
            ok = s["status"] == "running" and len(s["instruments"]) == len(SYMBOLS) and \
                all(i["health"] == "live" for i in s["instruments"])
            return s if ok else None
        poll(all_live, "every book live", timeout=60)
        first = self.monitor_json()
        b1 = self.bridge_stat() if self.bridge_stats else None
        t0 = time.monotonic()
        time.sleep(a.seconds)  # the measurement window itself, not a synchronisation
        second = self.monitor_json()
        dt = time.monotonic() - t0
        if b1 is not None:
            b2 = self.bridge_stat(after=b1)
            secs = (b2["mono_ns"] - b1["mono_ns"]) / 1e9
            self.bridge_result = {"publish_per_s": (b2["published"] - b1["published"]) / secs,
                                  "ticks_per_s": (b2["ticks"] - b1["ticks"]) / secs, "ticks_lost": b2["ticks_lost"],
                                  "unsent": b2["unsent"]}
        with urllib.request.urlopen(http_url + "/venue/stats", timeout=5) as r:
            vstats = json.loads(r.read())
        ws_result = None
        if ws_clients is not None:
            ws_clients.stdin.close()
            ws_result = json.loads(ws_clients.stdout.readline() or "null")
        return self.result(first, second, dt, vstats, ws_result)

    def start_bridge(self, config):
        sys.path.insert(0, os.path.join(ROOT, "tests", "bridge"))
        sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
        from nats_client import Nats
        from qf_testkit import free_port
        port = free_port()
        self.spawn("nats-server", ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                                   os.path.join(self.dir, "nats")])

        def up():
            try:
                Nats(port, timeout=1.0).close()
                return True
            except OSError:
                return False
        poll(up, "nats-server", timeout=30)
        with open(config, "a") as f:
            f.write(f'[bridge]\nenabled = true\nnats_url = "nats://127.0.0.1:{port}"\n')
        self.spawn("bridge", [os.path.join(self.bin, "qf-bridge"), "--config", config], stdout=subprocess.DEVNULL)
        self.bridge_stats = Nats(port)
        self.bridge_stats.subscribe(f"qf.{self.instance}.bridge.stats")
        self.bridge_stats.sync()

    def bridge_stat(self, after=None):
        """The next bridge.stats message (newer than `after`)."""
        while True:
            m = self.bridge_stats.next_msg(timeout=5.0)
            if m is None:
                raise RuntimeError("no bridge.stats message within 5 s")
            if m == "PONG":
                continue
            s = json.loads(m.data)
            s.setdefault("mono_ns", time.monotonic_ns())  # a bridge without the field: time of receipt
            if after is None or s["mono_ns"] > after["mono_ns"]:
                return s

    def result(self, first, second, dt, vstats, ws_result):
        f1, f2 = first["feeds"][0], second["feeds"][0]
        lat = {s: {q: second["latency_ns"][s][q] for q in ["count", *QUANTS]} for s in STAGES}
        health = {i["symbol"]: i["health"] for i in second["instruments"]}
        return {
            "profile": self.profile, "threads": self.threads, "profile_seen": second.get("profile"),
            "rate": self.rate, "condition": self.cond, "seconds": round(dt, 3),
            "messages_per_s": (f2["messages"] - f1["messages"]) / dt,
            "events_per_s": (second["events_processed"] - first["events_processed"]) / dt,
            "messages": f2["messages"], "drops": f2["drops"], "gaps": f2["gaps"], "resyncs": f2["resyncs"],
            "parse_errors": f2["parse_errors"], "reconnects": f2["reconnects"],
            "ring_high_water": f2["ring_high_water"],
            "instrument_gaps": sum(i["gaps"] for i in second["instruments"]),
            "health": health, "venue_sent": vstats.get("messages_sent"),
            "venue_slow_consumers": vstats.get("slow_consumers"),
            "latency_ns": lat, "ws": ws_result, "bridge": getattr(self, "bridge_result", None),
        }

    def stop(self):
        if self.bridge_stats:
            self.bridge_stats.close()
        if self.tmux:
            subprocess.run(["tmux", "-L", self.tmux, "kill-server"], capture_output=True)
        for _, p in reversed(self.procs):
            terminate(p)
        for seg in ("state", "control"):
            try:
                os.unlink(f"/dev/shm/qf.{self.instance}.{seg}")
            except FileNotFoundError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def us(ns):
    """Microseconds, one decimal below 10 ms."""
    return f"{ns / 1000:.1f}" if ns < 10_000_000 else f"{ns / 1000:.0f}"


def table(results):
    head = f"{'profile':>7} {'threads':>7} {'rate':>7} {'readers':>7} {'msg/s':>8} {'drops':>5} {'gaps':>4}"
    key = lambda r: f"{r['profile']:>7} {r['threads']:>7} {r['rate']:>7} {r['condition']:>7}"
    rows = [head + "  " + "  ".join(f"{s + ' p50/p90/p99/p99.9/max (us)':<44}" for s in ["process", "receive_to_publish"])]
    for r in results:
        cells = []
        for s in ["process", "receive_to_publish"]:
            cells.append(f"{'/'.join(us(r['latency_ns'][s][q]) for q in QUANTS):<44}")
        rows.append(f"{key(r)} {r['messages_per_s']:>8.0f} {r['drops']:>5} "
                    f"{r['gaps'] + r['instrument_gaps']:>4}  " + "  ".join(cells))
    rows.append("")
    rows.append(f"{'profile':>7} {'threads':>7} {'rate':>7} {'readers':>7}  "
                + "  ".join(f"{s + ' p50/p90/p99/p99.9/max (us)':<40}" for s in ["parse", "queue"]))
    for r in results:
        rows.append(f"{key(r)}  " + "  ".join(
            f"{'/'.join(us(r['latency_ns'][s][q]) for q in QUANTS):<40}" for s in ["parse", "queue"]))
    return "\n".join(rows)


def ratios(results):
    """Median over rounds of p99(condition) / p99(none) per profile, threads and rate, for the
    core (process) and receive-to-publish stages."""
    out = {}
    for r in results:
        if r["condition"] == "none":
            continue
        base = [b for b in results if b["rate"] == r["rate"] and b["condition"] == "none"
                and b["profile"] == r["profile"] and b["threads"] == r["threads"]]
        for stage in ("process", "receive_to_publish"):
            vals = [r["latency_ns"][stage]["p99"] / b["latency_ns"][stage]["p99"] for b in base
                    if b["latency_ns"][stage]["p99"]]
            if vals:
                out.setdefault(f"{r['profile']}:{r['threads']}:{r['rate']}:{r['condition']}:{stage}", []).extend(vals)
    return {k: sorted(v)[len(v) // 2] for k, v in out.items()}


LOCAL_URL = re.compile(r"^(ws|http)://127\.0\.0\.1:\d+(/|$)")


def run_peer(a, rate):
    """The ccxt peer on a fresh qf-venue stream at `rate`: its handleMessage time per depth message."""
    bin_dir = os.path.join(a.build_dir, "bin")
    logf = tempfile.TemporaryFile(mode="w+")
    venue = subprocess.Popen([os.path.join(bin_dir, "qf-venue"), "--venue", "binance", "--port", "0", "--synthetic",
                              "--symbols", ",".join(SYMBOLS), "--rate", rate, "--seed", "7"],
                             stdout=subprocess.PIPE, stderr=logf, text=True)
    try:
        line = venue.stdout.readline()
        m = re.search(r"listening (ws://127\.0\.0\.1:\d+) (http://127\.0\.0\.1:\d+)", line)
        if not m or not LOCAL_URL.match(m.group(1)) or not LOCAL_URL.match(m.group(2)):
            raise RuntimeError(f"qf-venue (peer): {line!r}")
        out = subprocess.run([a.node, os.path.join(ROOT, "bench/peers/ccxt_peer.js"), m.group(1), m.group(2),
                              str(a.seconds), *SYMBOLS], capture_output=True, text=True, timeout=a.seconds + 90)
        if out.returncode != 0:
            raise RuntimeError(f"ccxt_peer exited {out.returncode}: {out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        for k in ("ws_url", "rest_url"):
            if not LOCAL_URL.match(r[k]):  # the peer checks every URL itself; the harness checks again
                raise RuntimeError(f"ccxt peer {k} is not local: {r[k]}")
        r["rate"] = rate
        return r
    finally:
        terminate(venue)


def peer_lines(results, peers):
    rows = [f"{'rate':>7} {'ours':<15} {'ours r2p p50/p99 (us)':>22} {'ccxt p50/p99 (us)':>18} {'ccxt/ours p50':>13} {'p99':>7}"]
    for pr in peers:
        for prof in ("untuned", "tuned"):
            for th in ("inline", "split"):
                ours = [r for r in results if r["rate"] == pr["rate"] and r["condition"] == "none"
                        and r["profile"] == prof and r["threads"] == th]
                if not ours:
                    continue
                o = ours[0]["latency_ns"]["receive_to_publish"]
                rows.append(f"{pr['rate']:>7} {prof + ' ' + th:<15} {us(o['p50']) + ' / ' + us(o['p99']):>22} "
                            f"{us(pr['p50_ns']) + ' / ' + us(pr['p99_ns']):>18} "
                            f"{pr['p50_ns'] / max(o['p50'], 1):>13.1f} {pr['p99_ns'] / max(o['p99'], 1):>7.1f}")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    p.add_argument("--rates", default="10000,100000,max")
    p.add_argument("--seconds", type=float, default=3.0, help="measurement window of one cell")
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--push-hz", type=float, default=20.0)
    p.add_argument("--monitor-ms", type=int, default=50)
    p.add_argument("--idle", default="backoff", choices=["spin", "backoff", "sleep"])
    p.add_argument("--profiles", default="untuned,tuned", help="untuned, tuned (scripts/run.sh --tuned) or both")
    p.add_argument("--threads", default="inline,split", help="[engine] threads of the cells: inline, split or both")
    p.add_argument("--conditions", default="none,both", help="reader conditions of every cell (none, monitor, ws, both, bridge)")
    p.add_argument("--peer-rates", default="10000,100000", help="rates of the ccxt peer ('' for none)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--node", default=shutil.which("node") or "node")
    p.add_argument("--out", default=os.path.join(ROOT, "bench/results"))
    a = p.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)

    plan = []
    k = 0
    for rnd in range(a.rounds):
        for prof in a.profiles.split(","):
            for th in a.threads.split(","):
                for rate in a.rates.split(","):
                    conds = a.conditions.split(",")
                    if (k + rnd) % 2:
                        conds = conds[::-1]
                    k += 1
                    plan += [(prof, th, rate, c) for c in conds]
    peer_rates = [r for r in a.peer_rates.split(",") if r]
    log(f"{len(plan)} trials of {a.seconds:g} s + {len(peer_rates)} ccxt peer runs (idle = {a.idle}, {a.clients} "
        f"WebSocket clients at {a.push_hz:g} Hz, monitor every {a.monitor_ms} ms)")
    all_cpus = os.sched_getaffinity(0)
    results = []
    for n, (prof, th, rate, cond) in enumerate(plan):
        t = Trial(a, rate, cond, n, prof, th)
        os.sched_setaffinity(0, {0} if prof == "tuned" else all_cpus)
        try:
            log(f"trial {n + 1}/{len(plan)}: {prof} {th}, rate {rate}, readers {cond}")
            r = t.run()
            results.append(r)
            log(f"  {r['messages_per_s']:.0f} msg/s, process p99 {us(r['latency_ns']['process']['p99'])} us, "
                f"receive_to_publish p50/p99 {us(r['latency_ns']['receive_to_publish']['p50'])}/"
                f"{us(r['latency_ns']['receive_to_publish']['p99'])} us, drops {r['drops']}, "
                f"gaps {r['gaps'] + r['instrument_gaps']}, profile seen {r['profile_seen']}")
        finally:
            t.stop()
            os.sched_setaffinity(0, all_cpus)
    peers = []
    for rate in peer_rates:
        log(f"ccxt peer: rate {rate}")
        peers.append(run_peer(a, rate))
        log(f"  ccxt {peers[-1]['ccxt']}: {peers[-1]['messages']} depth messages, p50/p99 "
            f"{us(peers[-1]['p50_ns'])}/{us(peers[-1]['p99_ns'])} us (handleMessage alone "
            f"{us(peers[-1]['handle_p50_ns'])}/{us(peers[-1]['handle_p99_ns'])} us)")

    rat = ratios(results)
    summary = {
        "idle": a.idle, "seconds_per_trial": a.seconds, "clients": a.clients, "push_hz": a.push_hz,
        "monitor_interval_ms": a.monitor_ms, "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
        "results": results, "p99_ratios": rat, "ccxt_peer": peers,
    }
    os.makedirs(a.out, exist_ok=True)
    out = os.path.join(a.out, "e2e.json")
    with open(out, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"e2e: idle = {a.idle}, {a.seconds:g} s per cell, readers 'both' = qf-gateway with {a.clients} WebSocket "
          f"clients at {a.push_hz:g} Hz + qf-monitor every {a.monitor_ms} ms; load average {os.getloadavg()[0]:.2f}")
    print(table(results))
    print()
    print("p99 with readers / without, same profile, threads and rate (median over rounds):")
    for k in sorted(rat):
        print(f"  {k:<52} {rat[k]:.3f}")
    for r in results:
        if r.get("bridge"):
            b = r["bridge"]
            print(f"bridge ({r['profile']} {r['threads']} rate {r['rate']}): {b['publish_per_s']:.0f} msg/s into NATS, "
                  f"{b['ticks_per_s']:.0f} journal ticks/s, ticks lost {b['ticks_lost']}, unsent {b['unsent']}")
    if peers:
        print()
        print(f"ccxt peer (ccxt {peers[0]['ccxt']}, frame received in its client's onMessage -> book updated after "
              "handleMessage, JSON.parse included) against our receive_to_publish, no reader:")
        print(peer_lines(results, peers))
    print("JSON: " + out)


if __name__ == "__main__":
    main()
