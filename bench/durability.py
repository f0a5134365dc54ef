#!/usr/bin/env python3
"""Durable against durable (issue 17, item 3): Warden's persistent sessions beside mosquitto with persistence on,
each broker started afresh per round on 127.0.0.1:1883, clients Warden did not write.

    .venv-mqtt/bin/python bench/durability.py [--rounds 3] [--duration 8] [--offline 3] [--kill-after 3]

Two measurements per broker and round:
- Throughput: mqtt-load (bench/loader/mqtt-load.c) with 10 QoS 1 pairs whose subscribers hold persistent
  sessions (clean session 0) and are away for the first --offline seconds of the measured period, so that the
  broker queues their messages, then come back and drain. "in" is PUBACKs per second, with their p99 (Warden
  acknowledges after the commit); "out" is what the subscribers received per second.
- Loss at kill -9: a paho-mqtt subscriber with a persistent session subscribes and leaves; a paho-mqtt publisher
  publishes numbered QoS 1 messages (up to 100 unacknowledged) and after --kill-after seconds the broker is
  killed with SIGKILL. The broker restarts on the same files, the subscriber resumes its session and collects
  until nothing arrives for 3 s. "lost" counts messages whose PUBACK the publisher had and that never arrived.

mosquitto runs twice: with its default autosave (persistence true, autosave_interval 1800: the database is written
every 30 minutes and at a clean exit) and with autosave_interval 1 (written every second). Both raise
max_queued_messages (mosquitto: 0, no limit; Warden: mqtt.max-queued-messages 10,000,000) so that no queue limit
drops what the subscribers miss while away.
"""
import argparse
import importlib.machinery
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = pathlib.Path(__file__).resolve().parent.parent
compare = importlib.machinery.SourceFileLoader("compare", str(ROOT / "bench/compare")).load_module()

MOSQUITTO = """per_listener_settings true
listener 1883 127.0.0.1
allow_anonymous true
persistence true
persistence_location {folder}/
autosave_interval {autosave}
max_queued_messages 0
log_type error
"""
BROKERS = {
    "warden": None,
    "mosquitto (autosave 1800 s)": 1800,
    "mosquitto (autosave 1 s)": 1,
}
TOPIC = "durable/loss"


def start(broker: str, folder: pathlib.Path) -> subprocess.Popen:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        raise SystemExit("something else listens on 127.0.0.1:1883 already")
    except OSError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    if broker == "warden":
        environment = dict(os.environ, WARDEN_MQTT_MAX_QUEUED_MESSAGES="10000000",
                           WARDEN_MQTT_MAX_QUEUED_BYTES=str(1 << 30))
        process = subprocess.Popen(
            [compare.BIN / "warden", "serve", "--config", ROOT / "bench/warden.yaml", "--data-dir", folder / "data"],
            stdout=open(folder / "warden.out", "a"), stderr=subprocess.STDOUT, env=environment)
    else:
        # mosquitto started as root drops to its own user, which must write its database here.
        folder.chmod(0o777)
        configuration = folder / "mosquitto.conf"
        configuration.write_text(MOSQUITTO.format(folder=folder, autosave=BROKERS[broker]))
        process = subprocess.Popen(["mosquitto", "-c", configuration], stdout=subprocess.DEVNULL,
                                   stderr=open(folder / "mosquitto.err", "a"))
    try:
        compare.wait_for_port(1883, timeout=60)
    except RuntimeError:
        process.kill()
        log = folder / ("warden.out" if broker == "warden" else "mosquitto.err")
        raise RuntimeError(f"{broker} did not start in {folder}: {log.read_text()[-600:]}")
    return process


def throughput(loader: pathlib.Path, duration: int, offline: int, pid: int) -> dict:
    cpu_before, _ = compare.broker_usage(pid)
    result = subprocess.run(
        [loader, "--port", "1883", "--shape", "pairs", "--clients", "10", "--qos", "1", "--persistent",
         "--offline", str(offline), "--duration", str(duration), "--warm-up", "2", "--topic-prefix", "durable/"],
        capture_output=True, text=True, timeout=duration + 120)
    if result.returncode != 0:
        return {"failed": result.stderr.strip()[-200:]}
    cpu_after, rss = compare.broker_usage(pid)
    run = json.loads(result.stdout)
    return {"in": run["acknowledged"] / run["seconds"], "out": run["received_per_second"],
            "p99": run["latency_us"]["p99"] / 1000, "cpu": cpu_after - cpu_before, "rss": rss / 1024}


def client(client_id: str, clean: bool) -> mqtt.Client:
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                       protocol=mqtt.MQTTv311)
    paho.max_inflight_messages_set(100)
    paho.max_queued_messages_set(0)
    return paho


def connect(paho: mqtt.Client):
    connected = threading.Event()
    paho.on_connect = lambda c, u, flags, code, p: connected.set()
    paho.connect("127.0.0.1", 1883, keepalive=60)
    paho.loop_start()
    if not connected.wait(10):
        raise RuntimeError("no CONNACK")


def loss(broker: str, folder: pathlib.Path, kill_after: float) -> dict:
    """Numbered QoS 1 messages to a persistent session that is away; kill -9; what the session gets after."""
    process = start(broker, folder)
    subscriber = client("durable-subscriber", clean=False)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
    connect(subscriber)
    subscriber.subscribe(TOPIC, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("no SUBACK")
    subscriber.disconnect()
    subscriber.loop_stop()

    publisher = client("durable-publisher", clean=True)
    lock = threading.Condition()
    outstanding: dict[int, int] = {}
    acknowledged: set[int] = set()

    early: set[int] = set()  # PUBACKs that came before publish() returned their packet id

    def on_publish(c, u, mid, code, p):
        with lock:
            if mid in outstanding:
                acknowledged.add(outstanding.pop(mid))
            else:
                early.add(mid)
            lock.notify()

    publisher.on_publish = on_publish
    connect(publisher)
    deadline = time.monotonic() + kill_after
    number = 0
    while time.monotonic() < deadline:
        with lock:
            while len(outstanding) >= 100:
                lock.wait(1)
        # Not under the lock: paho calls on_publish holding its own lock, which publish() takes too.
        info = publisher.publish(TOPIC, str(number).encode(), qos=1)
        with lock:
            if info.mid in early:
                early.discard(info.mid)
                acknowledged.add(number)
            else:
                outstanding[info.mid] = number
        number += 1
    process.send_signal(signal.SIGKILL)
    process.wait()
    publisher.loop_stop()
    with lock:
        acknowledged_at_kill = set(acknowledged)
    time.sleep(0.5)

    process = start(broker, folder)
    received: list[int] = []
    subscriber = client("durable-subscriber", clean=False)
    subscriber.on_message = lambda c, u, message: received.append(int(message.payload))
    connect(subscriber)
    last = (-1, time.monotonic())
    while time.monotonic() - last[1] < 3:
        if len(received) != last[0]:
            last = (len(received), time.monotonic())
        time.sleep(0.1)
    subscriber.disconnect()
    subscriber.loop_stop()
    compare.stop(process)
    distinct = set(received)
    return {"published": number, "acknowledged": len(acknowledged_at_kill), "received": len(distinct),
            "lost": len(acknowledged_at_kill - distinct), "duplicates": len(received) - len(distinct)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--offline", type=int, default=3)
    parser.add_argument("--kill-after", type=float, default=3)
    args = parser.parse_args()
    subprocess.run(["swift", "build", "-q", "-c", "release", "--scratch-path", ROOT / ".build-release",
                    "--product", "warden"], cwd=ROOT, check=True)
    runs = {broker: [] for broker in BROKERS}
    losses = {broker: [] for broker in BROKERS}
    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o755)  # mosquitto, started as root, writes its database below as its own user
        loader = compare.build_loader(pathlib.Path(scratch))
        for round_number in range(args.rounds):
            for broker in BROKERS:
                folder = pathlib.Path(scratch) / f"{broker.split()[0]}-{BROKERS[broker]}-{round_number}"
                process = start(broker, folder / "throughput")
                try:
                    runs[broker].append(throughput(loader, args.duration, args.offline, process.pid))
                finally:
                    compare.stop(process)
                losses[broker].append(loss(broker, folder / "loss", args.kill_after))
    lines = [
        f"Medians of {args.rounds} alternating rounds; throughput: {args.duration} s with the subscribers away for "
        f"the first {args.offline} s; loss: kill -9 after {args.kill_after:g} s of publishing (every round listed).",
        "",
        "| broker | acknowledged msg/s | PUBACK p99 ms | delivered msg/s | broker CPU s | RSS MiB | "
        "at kill -9: acknowledged / received after restart / lost |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for broker in BROKERS:
        done = [r for r in runs[broker] if "failed" not in r]
        figures = (" | ".join(f"{statistics.median(r[key] for r in done):,.{digits}f}"
                              for key, digits in [("in", 0), ("p99", 2), ("out", 0), ("cpu", 1), ("rss", 0)])
                   if done else f"failed: {runs[broker][0]['failed']} | | | |")
        kills = ", ".join(f"{r['acknowledged']:,} / {r['received']:,} / **{r['lost']:,}**" for r in losses[broker])
        lines.append(f"| {broker} | {figures} | {kills} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
