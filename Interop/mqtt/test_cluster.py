"""Three nodes on one PostgreSQL and a NATS cluster (issue 18), started by `scripts/cluster.sh`: what is
registered, changed, revoked or published on one node holds on the others, for third-party clients (paho) and the
CLI. The cluster's ports are fixed (8443-8445, 8883-8885, 4222-4224, 55440); the module starts it once."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

import hub
from test_cloud_to_device import device_https, receive
from test_service_principals import api, service_client

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


SCRIPT = str(ROOT / "scripts/cluster.sh")


def metric(node: Node, name: str) -> float:
    """The sum of a metric's samples on `node`."""
    _, _, body = hub.api(node, "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def ready(node: Node) -> bool:
    status, _, _ = hub.https(node, "GET", "/readyz", {})
    return status == 200


def pid(node: Node, what: str) -> int:
    return int((node.data_dir.parent / f"{what}.pid").read_text())


def subscribed(client: hub.Client, *filters: str):
    """Subscribes `client` to each filter at QoS 1 and waits for the SUBACKs, which must grant it."""
    for filter in filters:
        _, mid = client.paho.subscribe(filter, qos=1)
        assert hub.wait_until(lambda: mid in client.subacks)
        assert not any(code.is_failure for code in client.subacks[mid]), (filter, client.subacks[mid])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def connected_device(node: Node, creator: Node, prefix: str, *attributes: str,
                     version=mqtt.MQTTv311) -> tuple[str, hub.Client]:
    """A device registered through `creator` and connected to `node`: its id and client."""
    device_id = unique(prefix)
    hub.create_device(creator, device_id, *attributes)
    client = hub.device_client(node, device_id, version)
    assert client.start(node.mqtt["mqtts"], host="localhost") == 0
    return device_id, client


def plant_device(node: Node, creator: Node, version=mqtt.MQTTv5) -> hub.Client:
    return connected_device(node, creator, "unit", "--attribute", "role=plant", version=version)[1]


def backend(node: Node) -> tuple[str, str]:
    """A service policy made through `node`'s API: its name and primary key."""
    name = unique("backend")
    policy = api(node, "POST", "/api/v1/tenants/default/shared-access-policies",
                 {"name": name, "permissions": ["serviceConnect"]})
    return name, policy["keys"]["primaryKey"]


def test_telemetry_from_a_device_on_one_node_reaches_a_service_on_another(cluster):
    a, b, c = cluster
    # Registered on one node, used on the others at once: the registry's events crossed.
    device_id = unique("meter")
    hub.create_device(c, device_id)
    name, key = backend(a)
    device = hub.device_client(a, device_id)
    assert device.start(a.mqtt["mqtts"], host="localhost") == 0
    service = service_client(b, name, key, unique("reader"))
    assert service.start(b.mqtt["mqtts"], host="localhost") == 0
    subscribed(service, f"devices/{device_id}/messages/events/#")
    time.sleep(0.2)  # the subscription's interest reaches NATS and its routes

    for n in range(20):
        device.paho.publish(f"devices/{device_id}/messages/events/", f"reading {n}", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: len(service.messages) == 20)
    assert service.payloads() == [f"reading {n}".encode() for n in range(20)]
    # Each exactly once, though the service's subscription matched through two of its node's NATS subjects.
    time.sleep(0.3)
    assert len(service.messages) == 20
    device.stop()
    service.stop()


def test_disabling_a_device_on_one_node_closes_its_connection_on_another_within_a_second(cluster):
    a, b, c = cluster
    device_id, device = connected_device(a, a, "valve")
    started = time.monotonic()
    c.cli("device", "disable", device_id)
    assert device.disconnected.wait(5)
    elapsed = time.monotonic() - started
    # The CLI's own start and request are inside this figure; the notice and the store read take milliseconds.
    assert elapsed < 1.5, f"closed after {elapsed:.2f} s"
    device.paho.loop_stop()
    # And it stays out on every node.
    for node in cluster:
        again = hub.device_client(node, device_id)
        assert again.start(node.mqtt["mqtts"], host="localhost").value == 0x87  # 3.1.1: not authorized
        again.paho.loop_stop()


def test_every_node_tells_which_devices_are_connected_wherever_they_are(cluster):
    a, b, c = cluster
    device_id, device = connected_device(a, b, "presence")

    def shown(node: Node) -> dict:
        status, _, body = hub.api(node, f"/api/v1/tenants/default/devices/{device_id}")
        assert status == 200, body
        return json.loads(body)

    for node in (a, b, c):
        assert shown(node)["connectionState"] == "connected", node
    status, _, body = hub.api(c, "/api/v1/tenants/default/devices?limit=1000")
    listed = {item["deviceId"]: item for item in json.loads(body)["items"]}
    assert listed[device_id]["connectionState"] == "connected" and "lastActivityAt" in listed[device_id]
    device.stop()
    assert hub.wait_until(lambda: all(shown(node)["connectionState"] == "disconnected" for node in (a, b, c)))
    assert shown(b)["lastActivityAt"] >= listed[device_id]["lastActivityAt"]


def test_sys_figures_count_the_clients_of_every_node(cluster):
    """A service on each node reads `$SYS/broker/clients/connected`: every node publishes the cluster's count (its
    own clients and the others' last figures), so the three agree; on its own, node 3 would count only its one."""
    a, b, c = cluster
    name, key = backend(a)
    watchers = []
    for node in (a, b, c):
        watcher = service_client(node, name, key, unique("sys"))
        assert watcher.start(node.mqtt["mqtts"], host="localhost") == 0
        subscribed(watcher, "$SYS/broker/clients/connected")
        watchers.append(watcher)
    devices = [connected_device(node, a, "sys")[1] for node in (a, b)]

    def counts() -> list[int]:
        latest = [watcher.payloads("$SYS/broker/clients/connected")[-1:] for watcher in watchers]
        return [int(value[0]) if value else -1 for value in latest]

    # Each node publishes every 10 s (`mqtt.sys-interval`); the first round after the connections may count part.
    assert hub.wait_until(lambda: len(set(counts())) == 1 and counts()[0] >= 5, timeout=45), counts()
    for client in watchers + devices:
        client.stop()


def test_the_live_feed_on_one_node_carries_a_device_connected_to_another(cluster):
    """The API's server-sent events on node 2 carry what a device on node 1 commits: node 2 announces that it
    follows the device, node 1 sends notices of its commits, node 2 reads them from the store."""
    a, b, _ = cluster
    device_id, device = connected_device(a, a, "meter")
    events = []

    def follow():
        for event in hub.stream(b, f"/api/v1/tenants/default/devices/{device_id}/telemetry/stream"):
            events.append(event)
            if json.loads(event[1])["body"] == "two":
                return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    # Until node 1 hears of the follower (at once, unless the announcement is lost: then at its renewal).
    for attempt in range(100):
        device.paho.publish(f"devices/{device_id}/messages/events/", f"warm {attempt}", qos=1).wait_for_publish(10)
        if hub.wait_until(lambda: events, timeout=0.2):
            break
    for text in ["one", "two"]:
        device.paho.publish(f"devices/{device_id}/messages/events/", text, qos=1).wait_for_publish(10)
    reader.join(15)
    device.stop()
    bodies = [json.loads(data)["body"] for _, data in events]
    assert bodies[-2:] == ["one", "two"], bodies
    numbers = [int(event_id) for event_id, _ in events]
    assert numbers == sorted(set(numbers)), numbers


def test_a_ban_made_on_one_node_closes_the_device_on_another(cluster):
    a, b, c = cluster
    device_id, device = connected_device(b, a, "pump")
    a.cli("ban", "add", "--device", device_id, "--reason", "cluster test")
    assert device.disconnected.wait(5)
    device.paho.loop_stop()
    again = hub.device_client(c, device_id)
    assert again.start(c.mqtt["mqtts"], host="localhost").value != 0
    again.paho.loop_stop()


@pytest.fixture(scope="module")
def plant_policy(cluster, tmp_path_factory):
    """An authorization policy applied on node 3: devices with `role: plant` share `plant/#`, in shared
    subscriptions too. Nodes 1 and 2 enforce it from the notice alone."""
    path = tmp_path_factory.mktemp("policy") / "plant.json"
    path.write_text(json.dumps({"statements": [
        {"id": "plant-share", "effect": "allow", "principals": {"attributes": {"role": "plant"}},
         "actions": ["publish", "subscribe", "receive"], "resources": ["plant/#", "$share/+/plant/#"]}]}))
    cluster[2].cli("policy", "apply", str(path))


def test_an_api_key_made_through_one_node_works_on_another_until_revoked(cluster):
    a, b, _ = cluster
    created = api(a, "POST", "/api/v1/tenants/default/api-keys",
                  {"name": unique("dashboard"), "permissions": ["registry.read"]})
    path = "/api/v1/tenants/default/devices"

    def status(node):
        return hub.https(node, "GET", path, {"Authorization": f"Bearer {created['key']}"})[0]

    # Node 2 learns of the key from node 1's notice (it reads people and keys again from the store).
    assert hub.wait_until(lambda: status(b) == 200, timeout=5)
    api(b, "DELETE", f"/api/v1/tenants/default/api-keys/{created['id']}")
    assert hub.wait_until(lambda: status(a) == 401, timeout=5)
    assert status(b) == 401


def test_guesses_spread_over_the_nodes_raise_the_alert_one_node_would(cluster):
    """Twenty-one refused connections from one address, seven on each node (each below the threshold of 20 on its
    own): the nodes share their counts every second, so the sum raises the address alert."""
    a, b, c = cluster
    device_id = unique("victim")
    hub.create_device(a, device_id)
    source = "127.0.0.7"
    for attempt in range(21):
        node = (a, b, c)[attempt % 3]
        client = hub.device_client(node, device_id, password=f"SharedAccessSignature sr=x&sig=guess{attempt}&se=9")
        code = client.start(node.mqtt["mqtts"], host="localhost", bind_address=source)
        client.paho.loop_stop()
        assert code != 0
        if attempt % 3 == 2:
            time.sleep(0.4)  # a share (every second) goes out while the guesses go on

    def raised() -> bool:
        alerts = json.loads(b.cli("defender", "alerts", "--json"))["items"]
        return any(alert["subject"] == f"address {source}" for alert in alerts)

    assert hub.wait_until(raised, timeout=10)


def test_a_retained_message_reaches_a_later_subscriber_on_another_node(cluster, plant_policy):
    a, b, c = cluster
    topic = f"plant/{unique('line')}/state"
    publisher = plant_device(a, b)
    info = publisher.paho.publish(topic, b"running", qos=1, retain=True)
    info.wait_for_publish(10)
    assert hub.wait_until(lambda: info.mid in publisher.pubacks)
    assert publisher.pubacks[info.mid].value == 0x10  # accepted, no subscribers yet
    time.sleep(0.3)
    reader = plant_device(c, a)
    reader.paho.subscribe(topic, qos=1)
    assert hub.wait_until(lambda: reader.payloads() == [b"running"])
    assert reader.messages[0].retain
    publisher.stop()
    reader.stop()


def test_retained_messages_published_on_two_nodes_at_once_end_the_same_on_every_node(cluster, plant_policy):
    """Two nodes take a retained message for the same topic at the same moment, for thirty topics: each node
    keeps the latest by its stamp (time, node), so every node ends with the same message per topic."""
    a, b, c = cluster
    base = f"plant/{unique('race')}"
    topics = [f"{base}/{n}" for n in range(30)]
    publishers = {"a": plant_device(a, a), "b": plant_device(b, a)}
    start = threading.Barrier(len(publishers))

    def publish(name: str):
        client = publishers[name]
        start.wait()
        infos = [client.paho.publish(topic, name.encode(), qos=1, retain=True) for topic in topics]
        for info in infos:
            info.wait_for_publish(10)

    threads = [threading.Thread(target=publish, args=(name,)) for name in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    time.sleep(0.5)
    held = []
    for node in (a, b, c):
        reader = plant_device(node, a)
        reader.paho.subscribe(f"{base}/#", qos=1)
        assert hub.wait_until(lambda: len(reader.messages) >= len(topics))
        time.sleep(0.2)
        held.append({message.topic: message.payload for message in reader.messages})
        reader.stop()
    assert all(len(h) == len(topics) for h in held), [len(h) for h in held]
    assert held[0] == held[1] == held[2], [
        topic for topic in topics if len({h[topic] for h in held}) > 1]
    for client in publishers.values():
        client.stop()


def test_a_subscriber_with_overlapping_filters_gets_one_copy_from_another_node(cluster, plant_policy):
    a, b, _ = cluster
    base = f"plant/{unique('site')}"
    subscriber = plant_device(b, a)
    subscribed(subscriber, f"{base}/#", f"{base}/+/temperature", f"{base}/hall/temperature")
    time.sleep(0.2)
    publisher = plant_device(a, b)
    for n in range(10):
        publisher.paho.publish(f"{base}/hall/temperature", str(n), qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: len(subscriber.messages) >= 10)
    time.sleep(0.3)
    # MQTT 5 with overlapping subscriptions: one delivery per message (the subscriptions' options merged).
    assert subscriber.payloads() == [str(n).encode() for n in range(10)]
    publisher.stop()
    subscriber.stop()


def test_a_shared_group_gets_each_message_once_across_nodes(cluster, plant_policy):
    a, b, c = cluster
    base = f"plant/{unique('jobs')}"
    members = [plant_device(a, a), plant_device(b, a)]
    for member in members:
        subscribed(member, f"$share/workers/{base}/#")
    watcher = plant_device(b, a)
    subscribed(watcher, f"{base}/#")
    time.sleep(0.3)

    def taken():
        return sum(len(member.messages) for member in members)

    # Node 3 has no member: NATS gives each message to one node of the group, which gives it to its member.
    publisher = plant_device(c, a)
    for n in range(40):
        publisher.paho.publish(f"{base}/{n}", str(n), qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: taken() >= 40 and len(watcher.messages) >= 40)
    time.sleep(0.3)
    assert sorted(p for member in members for p in member.payloads()) == sorted(str(n).encode() for n in range(40))
    assert all(member.messages for member in members), [len(member.messages) for member in members]
    # The plain subscription on a member's node got every message as well, once.
    assert sorted(watcher.payloads()) == sorted(str(n).encode() for n in range(40))
    # Node 1 has a member: that member takes what is published there, and no other node's does.
    before = [len(member.messages) for member in members]
    local = plant_device(a, a)
    for n in range(10):
        local.paho.publish(f"{base}/local/{n}", b"here", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: taken() >= sum(before) + 10)
    time.sleep(0.3)
    assert [len(member.messages) for member in members] == [before[0] + 10, before[1]]
    for client in members + [watcher, publisher, local]:
        client.stop()


def test_a_message_sent_through_one_node_reaches_the_device_on_another_and_leaves_every_queue(cluster):
    a, b, c = cluster
    device_id, device = connected_device(a, c, "valve")
    subscribed(device, f"devices/{device_id}/messages/devicebound/#")
    b.cli("c2d", "send", device_id, "--body", "open", "--ack", "full")
    assert hub.wait_until(lambda: device.payloads() == [b"open"])
    # The device's PUBACK completed it on node 1; nodes 2 and 3 let their copies go.
    path = f"/api/v1/tenants/default/devices/{device_id}/c2d"
    for node in cluster:
        assert hub.wait_until(lambda: json.loads(hub.api(node, path)[2])["items"] == []), node.number
    # One feedback record, whichever node is asked.
    def records(node):
        _, _, body = hub.api(node, "/api/v1/tenants/default/c2d-feedback")
        return [r for r in json.loads(body)["items"] if r["deviceId"] == device_id]
    assert hub.wait_until(lambda: [r["statusCode"] for r in records(c)] == ["Success"])
    device.stop()


def test_an_https_device_receives_on_one_node_and_settles_on_another(cluster):
    """Behind a load balancer each request of an HTTPS device may reach another node: the lock is stored with
    the message, so the node that gets the DELETE settles it whether or not it has followed the receive yet."""
    a, b, c = cluster
    device_id = unique("meter")
    hub.create_device(c, device_id)
    c.cli("c2d", "send", device_id, "--body", "read", "--ack", "full")
    path = f"/api/v1/tenants/default/devices/{device_id}/c2d"

    def received(node) -> dict:
        """The first receive on `node` that gets the message: its headers and body."""
        got = []

        def once():
            status, headers, body = receive(node, device_id)
            if status == 200:
                got.append(headers | {"body": body})
            return got
        assert hub.wait_until(once), node.number
        return got[0]

    first = received(a)
    assert first["body"] == b"read" and first["iothub-deliverycount"] == "0", first
    # Abandoned through node 2, which may not have followed the lock yet: it finds it in the store.
    status, _, _ = device_https(b, device_id, "POST", f"/deviceBound/{first['etag'].strip(chr(34))}/abandon")
    assert status == 204
    second = received(c)
    assert second["iothub-deliverycount"] == "1", second
    # Node 3's lock holds on node 2 too; a token no node gave out settles nothing.
    assert hub.wait_until(lambda: [m["state"] for m in json.loads(hub.api(b, path)[2])["items"]] == ["invisible"])
    status, _, problem = device_https(b, device_id, "DELETE", "/deviceBound/" + "0" * 32)
    assert status == 412 and json.loads(problem)["code"] == "c2d.lock_lost"
    status, _, _ = device_https(a, device_id, "DELETE", f"/deviceBound/{second['etag'].strip(chr(34))}")
    assert status == 204
    for node in cluster:
        assert hub.wait_until(lambda: json.loads(hub.api(node, path)[2])["items"] == []), node.number

    def records(node):
        _, _, body = hub.api(node, "/api/v1/tenants/default/c2d-feedback")
        return [r["statusCode"] for r in json.loads(body)["items"] if r["deviceId"] == device_id]
    assert hub.wait_until(lambda: records(b) == ["Success"])


def test_a_client_id_connecting_to_another_node_takes_the_session_over(cluster, plant_policy):
    a, b, c = cluster
    device_id, first = connected_device(a, a, "unit", "--attribute", "role=plant", version=mqtt.MQTTv5)
    topic = f"plant/{unique('cell')}/cmd"
    subscribed(first, topic)
    # The same ClientId on node 2: node 1 closes its connection (5.0: 0x8E Session taken over) and drops its
    # copy, so what is published afterwards reaches the client once, on node 2.
    second = hub.device_client(b, device_id, mqtt.MQTTv5)
    assert second.start(b.mqtt["mqtts"], host="localhost") == 0
    assert first.disconnected.wait(5)
    assert first.disconnect_reason.value == 0x8E
    first.paho.loop_stop()
    subscribed(second, topic)
    time.sleep(0.3)
    publisher = plant_device(c, a)
    publisher.paho.publish(topic, b"to the node it is on", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: second.payloads() == [b"to the node it is on"])
    time.sleep(0.3)
    assert second.payloads() == [b"to the node it is on"] and first.payloads() == []
    publisher.stop()
    second.stop()


def queued_session(holder: Node, through: Node) -> tuple[str, str]:
    """A plant device with a persistent 3.1.1 session on `holder`, subscribed to a fresh topic, then gone, and five
    QoS 1 messages published for it through `through` while it is away: its id and the topic."""
    device_id = unique("unit")
    hub.create_device(through, device_id, "--attribute", "role=plant")
    topic = f"plant/{unique('cell')}/cmd"
    client = hub.device_client(holder, device_id, clean=False)
    assert client.start(holder.mqtt["mqtts"], host="localhost") == 0
    subscribed(client, topic)
    client.stop()
    time.sleep(0.3)
    publisher = plant_device(through, through)
    for n in range(5):
        publisher.paho.publish(topic, f"queued {n}", qos=1).wait_for_publish(10)
    publisher.stop()
    return device_id, topic


def test_a_persistent_session_moves_to_another_node_with_its_queued_messages(cluster, plant_policy):
    a, b, c = cluster
    # Queued in the session on node 1 (and stored there) while the client is away.
    device_id, topic = queued_session(a, c)
    time.sleep(0.5)
    # Back on node 2: node 1 releases the session, node 2 takes it from the store before the CONNACK.
    back = hub.device_client(b, device_id, clean=False)
    assert back.start(b.mqtt["mqtts"], host="localhost") == 0
    assert back.connack[1].session_present
    assert hub.wait_until(lambda: len(back.messages) == 5)
    assert back.payloads() == [f"queued {n}".encode() for n in range(5)]
    # Its subscription moved too: what is published now reaches it on node 2, once.
    publisher = plant_device(c, c)
    publisher.paho.publish(topic, b"live", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: len(back.messages) == 6)
    time.sleep(0.3)
    assert back.payloads()[5:] == [b"live"]
    assert metric(b, 'warden_cluster_sessions_moved_total{outcome="released"}') >= 1
    # And node 1 holds no copy: a CONNECT there moves it back, still present.
    back.stop()
    again = hub.device_client(a, device_id, clean=False)
    assert again.start(a.mqtt["mqtts"], host="localhost") == 0
    assert again.connack[1].session_present
    time.sleep(0.3)
    assert again.payloads() == []
    again.stop()
    publisher.stop()


def test_a_twin_changed_through_one_node_is_the_same_on_every_node(cluster):
    a, b, c = cluster
    device_id, device = connected_device(a, a, "thermo")
    subscribed(device, "$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#")
    device.paho.publish(f"$iothub/twin/PATCH/properties/reported/?$rid=1", b'{"temperature": 21}', qos=1)
    # The desired patch goes through node 2; the device on node 1 hears of it.
    status, _, body = hub.api(b, f"/api/v1/tenants/default/devices/{device_id}/twin/desired", "PATCH",
                              {"mode": "eco"})
    assert status == 200, body
    assert hub.wait_until(lambda: any(m.topic.startswith("$iothub/twin/PATCH/properties/desired/")
                                      for m in device.messages))
    patch = next(m for m in device.messages if m.topic.startswith("$iothub/twin/PATCH/properties/desired/"))
    assert json.loads(patch.payload) == {"mode": "eco", "$version": 1}

    def properties(node):
        return json.loads(hub.api(node, f"/api/v1/tenants/default/devices/{device_id}/twin")[2])["properties"]
    for node in cluster:
        assert hub.wait_until(lambda: properties(node)["desired"].get("mode") == "eco"
                              and properties(node)["reported"].get("temperature") == 21), node.number
    device.stop()


def test_desired_patches_through_every_node_at_once_all_count(cluster):
    """Eight patches of one twin's desired properties at the same time through the three nodes' APIs, none of
    which has heard of the others' yet: each applies over the stored section, so every property is there, the
    version counts every patch, and each answer carries a version of its own."""
    a, _, _ = cluster
    device_id = unique("twin-race")
    assert hub.api(a, "/api/v1/tenants/default/devices", "POST", {"deviceId": device_id})[0] == 201
    answers: list[tuple[int, dict]] = []

    def patch(index: int):
        node = cluster[index % 3]
        status, _, body = hub.api(node, f"/api/v1/tenants/default/devices/{device_id}/twin/desired", "PATCH",
                                  {f"p{index}": index})
        answers.append((status, json.loads(body)))
    threads = [threading.Thread(target=patch, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 8, answers
    assert sorted(body["properties"]["desired"]["$version"] for _, body in answers) == list(range(1, 9))
    def desired(node):
        twin = json.loads(hub.api(node, f"/api/v1/tenants/default/devices/{device_id}/twin")[2])
        return twin["properties"]["desired"]
    for node in cluster:
        assert hub.wait_until(lambda: desired(node)["$version"] == 8), (node.number, desired(node))
        assert {key: value for key, value in desired(node).items() if not key.startswith("$")} \
            == {f"p{index}": index for index in range(8)}, node.number


def test_a_direct_method_through_one_node_reaches_the_device_on_another(cluster):
    a, b, c = cluster
    device_id, device = connected_device(a, a, "pump")
    subscribed(device, "$iothub/methods/POST/#")

    def answer(client, userdata, message):
        rid = message.topic.split("$rid=")[1]
        client.publish(f"$iothub/methods/res/200/?$rid={rid}", json.dumps({"echo": json.loads(message.payload)}),
                       qos=1)
    device.paho.message_callback_add("$iothub/methods/POST/#", answer)
    path = f"/api/v1/tenants/default/devices/{device_id}/methods/reboot"
    status, _, body = hub.api(b, path, "POST", {"payload": {"delay": 2}, "responseTimeoutInSeconds": 10})
    assert status == 200, body
    assert json.loads(body) == {"status": 200, "payload": {"echo": {"delay": 2}}}
    device.stop()
    # Connected nowhere: every other node says so, and the call is 404 at once rather than a timeout.
    started = time.monotonic()
    status, _, body = hub.api(c, path, "POST", {"payload": {}, "responseTimeoutInSeconds": 30})
    assert status == 404 and json.loads(body)["code"] == "method.device_offline", body
    assert time.monotonic() - started < 10


# The failure tests come last: they stop parts of the module's cluster.

def test_nats_lost_and_back_nodes_reconnect_and_nothing_is_lost_silently(cluster, plant_policy):
    a, b, _ = cluster
    directory = a.data_dir.parent
    # Node 1 talks to NATS server 1; stop it: node 1 moves to another server and routes again.
    os.kill(pid(a, "nats-1"), signal.SIGTERM)
    assert hub.wait_until(lambda: metric(a, "warden_nats_connections_total") >= 2, timeout=15)
    assert hub.wait_until(lambda: ready(a))
    subscriber = plant_device(b, a)
    topic = f"plant/{unique('after')}/x"
    subscriber.paho.subscribe(topic, qos=1)
    time.sleep(0.3)
    publisher = plant_device(a, b)
    publisher.paho.publish(topic, b"through another server", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: subscriber.payloads() == [b"through another server"])

    # Every server gone: /readyz says so, and what node 1 cannot send is counted, never silently lost.
    watched_id = unique("meter")
    hub.create_device(b, watched_id)
    watched = hub.device_client(a, watched_id)
    assert hub.wait_until(lambda: watched.start(a.mqtt["mqtts"], host="localhost") == 0)
    valve_id, valve = connected_device(a, b, "valve")
    subscribed(valve, f"devices/{valve_id}/messages/devicebound/#", "$iothub/twin/PATCH/properties/desired/#")
    kept, cleared = f"plant/{unique('kept')}/state", f"plant/{unique('cleared')}/state"
    publisher.paho.publish(cleared, b"before the gap", qos=1, retain=True).wait_for_publish(10)
    time.sleep(0.3)
    for n in (2, 3):
        os.kill(pid(a, f"nats-{n}"), signal.SIGTERM)
    assert hub.wait_until(lambda: not ready(a), timeout=15)
    dropped = metric(a, "warden_nats_messages_dropped_total")
    publisher.paho.publish(topic, b"into the gap", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: metric(a, "warden_nats_messages_dropped_total") > dropped)
    # Retained messages taken on node 1 in the gap: node 2 reads them from the store once back.
    publisher.paho.publish(kept, b"retained in the gap", qos=1, retain=True).wait_for_publish(10)
    publisher.paho.publish(cleared, b"", qos=1, retain=True).wait_for_publish(10)
    # Disabled through node 2 while no notice can travel: node 1 reads the store again once NATS is back, and
    # closes the device's connection then.
    b.cli("device", "disable", watched_id)
    # A message and a desired change for a device on node 1, through node 2: node 1 reads them once back.
    b.cli("c2d", "send", valve_id, "--body", "sent in the gap")
    status, _, body = hub.api(b, f"/api/v1/tenants/default/devices/{valve_id}/twin/desired", "PATCH",
                              {"mode": "gap"})
    assert status == 200, body
    time.sleep(0.5)
    assert not watched.disconnected.is_set() and valve.messages == []
    for n in (1, 2, 3):
        subprocess.run([SCRIPT, "start-nats", str(directory), str(n)], check=True, timeout=30)
    assert hub.wait_until(lambda: ready(a) and ready(b), timeout=15)
    assert watched.disconnected.wait(10)
    watched.paho.loop_stop()
    assert hub.wait_until(lambda: len(valve.messages) == 2), [m.topic for m in valve.messages]
    desired = next(m for m in valve.messages if m.topic.startswith("$iothub/twin/PATCH/properties/desired/"))
    assert json.loads(desired.payload) == {"mode": "gap", "$version": 1}
    assert valve.payloads(next(m.topic for m in valve.messages if "devicebound" in m.topic)) == [b"sent in the gap"]
    valve.stop()
    reader = plant_device(b, a)
    subscribed(reader, kept, cleared)
    assert hub.wait_until(lambda: reader.payloads() == [b"retained in the gap"])
    time.sleep(0.3)
    assert [m.topic for m in reader.messages] == [kept]
    reader.stop()
    time.sleep(0.3)  # node 2's subscription reaches the server it came back to
    publisher.paho.publish(topic, b"after the gap", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: subscriber.payloads() == [b"through another server", b"after the gap"])
    publisher.stop()
    subscriber.stop()


def test_postgresql_lost_and_back_durable_writes_wait_or_are_refused_and_routing_goes_on(cluster, plant_policy):
    """PostgreSQL stopped: a QoS 1 telemetry message waits for its commit (no PUBACK), the API refuses changes with
    503 `store.unavailable` and /readyz says not ready once a commit failed, routing that stores nothing goes on
    between nodes; PostgreSQL back: the nodes recover by themselves and the waiting message is acknowledged and
    stored."""
    a, b, _ = cluster
    directory = a.data_dir.parent
    subscriber = plant_device(b, a)
    topic = f"plant/{unique('storeless')}/x"
    subscribed(subscriber, topic)
    publisher = plant_device(a, b)
    meter_id, meter = connected_device(a, a, "meter")
    subprocess.run([SCRIPT, "stop-postgres", str(directory)], check=True, timeout=60)
    try:
        waiting = meter.paho.publish(f"devices/{meter_id}/messages/events/", b"kept through the gap", qos=1)
        assert hub.wait_until(lambda: not ready(a), timeout=20)
        status, _, body = hub.api(a, f"/api/v1/tenants/default/devices/{meter_id}/c2d", "POST", {"body": "x"})
        assert status == 503 and json.loads(body)["code"] == "store.unavailable", body
        assert not waiting.is_published()
        publisher.paho.publish(topic, b"routed meanwhile", qos=0)
        assert hub.wait_until(lambda: b"routed meanwhile" in subscriber.payloads())
    finally:
        subprocess.run([SCRIPT, "start-postgres", str(directory)], check=True, timeout=60)
    assert hub.wait_until(lambda: ready(a) and ready(b), timeout=30)
    waiting.wait_for_publish(30)
    assert waiting.is_published()

    def bodies():
        status, _, body = hub.api(b, f"/api/v1/tenants/default/devices/{meter_id}/telemetry")
        return [m["body"] for m in json.loads(body)["items"]] if status == 200 else []
    assert hub.wait_until(lambda: bodies() == ["kept through the gap"], timeout=10)
    for client in (meter, publisher, subscriber):
        client.stop()


def test_a_node_killed_its_devices_go_on_elsewhere_with_nothing_acknowledged_lost(cluster, plant_policy):
    a, b, c = cluster
    # A persistent session on node 3 with messages queued for it while its client is away.
    subscriber_id, _ = queued_session(c, a)
    device_id, device = connected_device(c, a, "meter")
    for n in range(50):
        info = device.paho.publish(f"devices/{device_id}/messages/events/", f"reading {n}", qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    os.kill(pid(c, "node-3"), signal.SIGKILL)
    assert device.disconnected.wait(10)
    device.paho.loop_stop()
    # The device's SDK would reconnect to another address behind the load balancer: node 2.
    again = hub.device_client(b, device_id)
    assert again.start(b.mqtt["mqtts"], host="localhost") == 0
    again.paho.publish(f"devices/{device_id}/messages/events/", "reading 50", qos=1).wait_for_publish(10)
    again.stop()
    # A page holds numbers given out at least two seconds ago (another node may still be committing an earlier
    # one): the last reading appears after that.
    def bodies():
        status, _, body = hub.api(a, f"/api/v1/tenants/default/devices/{device_id}/telemetry?limit=100")
        assert status == 200, body
        return sorted(m["body"] for m in json.loads(body)["items"])
    assert hub.wait_until(lambda: len(bodies()) >= 51, timeout=10)
    assert bodies() == sorted(f"reading {n}" for n in range(51))
    # The subscriber resumes its session on node 1: node 3 cannot answer, so after its silence the session is
    # taken as node 3 last committed it, queue and all.
    back = hub.device_client(a, subscriber_id, clean=False)
    assert back.start(a.mqtt["mqtts"], host="localhost") == 0
    assert back.connack[1].session_present
    assert hub.wait_until(lambda: len(back.messages) == 5)
    assert back.payloads() == [f"queued {n}".encode() for n in range(5)]
    assert metric(a, 'warden_cluster_sessions_moved_total{outcome="unanswered"}') >= 1
    back.stop()
