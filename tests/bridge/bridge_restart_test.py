#!/usr/bin/env python3
"""qf-bridge across a nats-server restart: the live engine runs on qf-venue's synthetic market, the
bridge publishes 1 s bars into the JetStream stream QF_<INSTANCE>_BARS; a durable pull consumer
acknowledges some bars (acks confirmed by the server); nats-server is stopped and started again on
the same port and store. While it is down the bridge counts unsent messages and the engine goes on;
afterwards the bridge reconnects by itself and the consumer resumes right after its last ack,
then receives bars published after the restart.

Usage: bridge_restart_test.py --build-dir BUILD --work DIR
"""
import argparse
import functools
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import qf_testkit  # noqa: E402
from qf_testkit import case_procs, fresh_dir, monitor_json, sim_engine, write_config  # noqa: E402
from venue_client import start_venue  # noqa: E402
from nats_client import Nats, start_nats_server  # noqa: E402

ARGS = None
poll = functools.partial(qf_testkit.poll, interval=0.1)


def stream_seq(m):
    """The stream sequence of a JetStream delivery ($JS.ACK.<stream>.<consumer>.<n>.<sseq>.<cseq>...)."""
    return int(m.reply.split(".")[5])


class BridgeRestart(unittest.TestCase):
    def setUp(self):
        self.instance = f"brrst{os.getpid()}"
        self.work = fresh_dir(os.path.join(ARGS.work, self.instance))
        self.bin = os.path.join(ARGS.build_dir, "bin")
        self.procs = case_procs(self, self.work, grace=20.0, instance=self.instance)

    def test_the_bridge_reconnects_and_a_durable_consumer_resumes_after_its_last_ack(self):
        store = os.path.join(self.work, "nats")
        nats, port = start_nats_server(self.procs, store)
        venue = start_venue(self.procs, os.path.join(self.bin, "qf-venue"), "--venue", "binance", "--synthetic",
                            "--symbols", "BTCUSDT", "--rate", "200")
        config = write_config(
            os.path.join(self.work, "live.toml"), engine=sim_engine(self.instance),
            venues=[{"venue": "binance-spot", "ws_url": venue.ws_url, "rest_url": venue.http_url}],
            instruments=[{"venue": "binance-spot", "symbol": "BTCUSDT", "price_decimals": 2, "qty_decimals": 8}],
            bridge={"enabled": True, "nats_url": f"nats://127.0.0.1:{port}", "reconnect_min_ms": 50,
                    "reconnect_max_ms": 500, "stream_max_msgs": 100000})
        self.procs.start([os.path.join(self.bin, "qf-engine"), "--config", config], name="engine", read=None)
        bridge = self.procs.start([os.path.join(self.bin, "qf-bridge"), "--config", config], name="bridge",
                                  read="stderr")
        bridge.wait_line(r"JetStream streams ready", "the bridge's streams", timeout=60)
        stream = f"qf_{self.instance}_BARS"  # <prefix>_<instance>_BARS
        client = Nats(port)
        info = client.js(f"STREAM.INFO.{stream}")
        self.assertNotIn("error", info, info)
        self.assertEqual(info["config"]["max_msgs"], 100000)
        self.assertEqual(info["config"]["storage"], "file")
        durable = "resume"
        created = client.js(f"CONSUMER.DURABLE.CREATE.{stream}.{durable}",
                            {"stream_name": stream, "config": {"durable_name": durable, "ack_policy": "explicit",
                                                               "deliver_policy": "all"}})
        self.assertNotIn("error", created, created)

        first = []

        def fetch_and_ack():  # every delivery is acknowledged (confirmed by the server) as it comes
            for m in client.fetch(stream, durable, 3 - len(first), timeout=1.0):
                self.assertIsNotNone(client.request(m.reply, b"+ACK"), "the server confirms the ack")
                first.append(m)
            return len(first)
        poll(fetch_and_ack, "three bars in the stream", timeout=60, until=lambda n: n >= 3)
        for m in first:
            self.assertTrue(m.subject.startswith(f"qf.{self.instance}.bar.1s.binance-spot.BTCUSDT"), m.subject)
            self.assertEqual(m.json()["interval"], "1s")
        self.assertEqual([stream_seq(m) for m in first], [1, 2, 3])
        last_acked = stream_seq(first[-1])
        self.assertEqual(client.js(f"CONSUMER.INFO.{stream}.{durable}")["ack_floor"]["stream_seq"], last_acked)
        client.close()

        before = monitor_json(os.path.join(self.bin, "qf-monitor"), self.instance)
        self.procs.stop(nats)  # SIGTERM: nats-server shuts down cleanly (its exit status is 1 then)
        self.assertIsNotNone(nats.poll())
        # Down: the bridge keeps going and counts what it cannot send; the engine keeps processing.
        bridge.wait_line(r"NATS disconnected", "the bridge to notice NATS is gone", timeout=30)
        poll(lambda: monitor_json(os.path.join(self.bin, "qf-monitor"), self.instance)["events_processed"]
             > before["events_processed"], "the engine to go on while NATS is down", timeout=30)

        nats, _ = start_nats_server(self.procs, store, port=port)
        bridge.wait_line(r"NATS reconnected", "the bridge to reconnect", timeout=60)
        client = Nats(port)
        stats_sid = client.subscribe(f"qf.{self.instance}.bridge.stats")
        client.sync()

        def stats():
            m = client.next_msg(timeout=2.0)
            return m.json() if m is not None and m != "PONG" and m.sid == stats_sid else None
        s = poll(stats, "a bridge.stats message after the reconnect", timeout=30,
                 until=lambda v: v is not None and v["reconnects"] >= 1)
        self.assertGreater(s["unsent"], 0, s)
        self.assertTrue(s["connected"], s)
        self.assertEqual(s["ticks_lost"], 0, s)
        self.assertEqual(client.js(f"CONSUMER.INFO.{stream}.{durable}")["ack_floor"]["stream_seq"], last_acked,
                         "the consumer's ack floor survived the restart")
        resumed = poll(lambda: client.fetch(stream, durable, 5, timeout=1.0), "bars after the restart",
                       timeout=60, until=lambda ms: len(ms) >= 1)
        self.assertEqual(stream_seq(resumed[0]), last_acked + 1, "resumes right after the last ack")
        newest = poll(lambda: client.js(f"STREAM.INFO.{stream}")["state"]["last_seq"], "bars published after the restart",
                      timeout=30, until=lambda seq: seq > stream_seq(resumed[-1]))
        print(f"bridge_restart_test: acked to {last_acked}, resumed at {stream_seq(resumed[0])}, stream at {newest}; "
              f"bridge {json.dumps(s)}", file=sys.stderr)
        client.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for a in ("--build-dir", "--work"):
        p.add_argument(a, required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])
