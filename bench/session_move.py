"""How long a CONNECT that resumes a persistent session waits for its CONNACK on a cluster (issue 18): resumed on
the node that holds it, moved from another live node, and taken over from a node that was killed (its 2 s
silence). Each figure is one paho client's CONNECT to CONNACK over TLS, handshake included, 3.1.1, clean session 0.

    scripts/cluster.sh up /tmp/cluster
    .venv-mqtt/bin/python bench/session_move.py /tmp/cluster      # kills node 3 at the end
    scripts/cluster.sh down /tmp/cluster
"""
import json
import os
import pathlib
import signal
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "Interop/mqtt"))
import hub  # noqa: E402
import test_cluster as cluster  # noqa: E402

directory = pathlib.Path(sys.argv[1])
a, b, c = [cluster.Node(directory, n) for n in (1, 2, 3)]
policy = directory / "bench-policy.json"
policy.write_text(json.dumps({"statements": [
    {"id": "bench", "effect": "allow", "principals": {"attributes": {"role": "bench"}},
     "actions": ["publish", "subscribe", "receive"], "resources": ["bench/#"]}]}))
c.cli("policy", "apply", str(policy))


def connack(node, device_id):
    """Connects `device_id` to `node` (clean session 0): the milliseconds to CONNACK; the client is stopped."""
    client = hub.device_client(node, device_id, clean=False)
    started = time.monotonic()
    assert client.start(node.mqtt["mqtts"], host="localhost") == 0
    elapsed = (time.monotonic() - started) * 1000
    present = client.connack[1].session_present
    client.stop()
    return elapsed, present


def persistent(node, prefix):
    """A device with a persistent session on `node`, subscribed to `bench/x`, disconnected."""
    device_id = cluster.unique(prefix)
    hub.create_device(a, device_id, "--attribute", "role=bench")
    client = hub.device_client(node, device_id, clean=False)
    assert client.start(node.mqtt["mqtts"], host="localhost") == 0
    cluster.subscribed(client, "bench/x")
    client.stop()
    return device_id


def report(name, figures):
    print(f"{name:<28} n={len(figures):<3} median {statistics.median(figures):7.1f} ms   max {max(figures):7.1f} ms")


same, moved, killed = [], [], []
for device_id in [persistent(a, "resume") for _ in range(20)]:
    elapsed, present = connack(a, device_id)
    assert present
    same.append(elapsed)
    elapsed, present = connack(b, device_id)
    assert present
    moved.append(elapsed)
orphans = [persistent(c, "orphan") for _ in range(5)]
time.sleep(0.5)
os.kill(int((directory / "node-3.pid").read_text()), signal.SIGKILL)
for device_id in orphans:
    elapsed, present = connack(a, device_id)
    assert present
    killed.append(elapsed)
report("resumed on its node", same)
report("moved from a live node", moved)
report("taken from a killed node", killed)
