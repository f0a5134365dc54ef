"""The tenant's authorization policy (issue 14), applied with the CLI and obeyed by unmodified paho-mqtt clients
on 3.1.1 and 5.0: attribute- and group-based allows, a deny overriding an allow, source-address conditions,
audit-only versions that do not enforce, and rollback restoring what was in force."""
import json

import paho.mqtt.client as mqtt
import pytest

import hub

# 3.1.1 SUBACK failure 0x80; 5.0 reason code 0x87 (Not authorized).
REFUSED_SUBSCRIPTION = {mqtt.MQTTv311: 0x80, mqtt.MQTTv5: 0x87}


def apply(warden, tmp_path, document: dict, name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2))
    return warden.cli("policy", "apply", str(path))


def connect(warden, device_id: str, version: int) -> hub.Client:
    client = hub.device_client(warden, device_id, version)
    assert client.start(warden.mqtt["mqtts"], host="localhost") == 0
    return client


def subscribe(client: hub.Client, topic: str) -> int:
    result, mid = client.paho.subscribe(topic, qos=1)
    assert hub.wait_until(lambda: mid in client.subacks)
    return client.subacks[mid][0].value


FLOORS = {"statements": [
    {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
     "actions": ["publish", "subscribe", "receive"], "resources": ["floors/${device.attr.floor}/#"]},
    {"id": "lab-share", "effect": "allow", "principals": {"groups": ["lab"]},
     "actions": ["publish", "subscribe", "receive"], "resources": ["groups/${device.group}/#"]},
    {"id": "lost-units", "effect": "deny", "principals": {"devices": ["unit-2*"]}, "actions": ["connect"]},
]}


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_attributes_and_groups_share_topics_and_deny_wins(warden, tmp_path, version):
    hub.create_device(warden, "unit-1", "--attribute", "role=sensor", "--attribute", "floor=3")
    hub.create_device(warden, "unit-3", "--attribute", "role=sensor", "--attribute", "floor=4")
    hub.create_device(warden, "unit-20", "--attribute", "role=sensor", "--attribute", "floor=3")
    hub.api(warden, "/api/v1/tenants/default/groups", "POST", {"name": "lab", "members": ["unit-1", "unit-3"]})
    assert "version 1 is in force" in apply(warden, tmp_path, FLOORS)

    listener = connect(warden, "unit-1", version)
    assert subscribe(listener, "floors/3/#") == 1
    assert subscribe(listener, "groups/lab/#") == 1
    assert subscribe(listener, "floors/4/#") == REFUSED_SUBSCRIPTION[version]
    assert subscribe(listener, "groups/other/#") == REFUSED_SUBSCRIPTION[version]

    other_floor = connect(warden, "unit-3", version)
    assert subscribe(other_floor, "floors/3/#") == REFUSED_SUBSCRIPTION[version]
    other_floor.paho.publish("groups/lab/hello", b"from unit-3", qos=1)
    assert hub.wait_until(lambda: listener.payloads("groups/lab/hello") == [b"from unit-3"])

    # unit-20 matches the allowing attributes, but the deny wins: it cannot connect at all.
    lost = hub.device_client(warden, "unit-20", version)
    # paho reports 3.1.1's CONNACK return code 5 and 5.0's reason code 0x87 by the same name.
    assert str(lost.start(warden.mqtt["mqtts"], host="localhost")) == "Not authorized"
    lost.paho.loop_stop()
    for client in (listener, other_floor):
        client.stop()


def test_source_address_conditions(warden, tmp_path):
    hub.create_device(warden, "probe", "--attribute", "role=probe")
    document = {"statements": [
        {"id": "lab-network", "effect": "allow", "principals": {"attributes": {"role": "probe"}},
         "actions": ["subscribe"], "resources": ["lab/#"], "conditions": {"source-addresses": ["10.0.0.0/8"]}},
        {"id": "loopback", "effect": "allow", "principals": {"attributes": {"role": "probe"}},
         "actions": ["subscribe"], "resources": ["local/#"],
         "conditions": {"source-addresses": ["127.0.0.0/8", "::1/128"], "protocols": ["mqtt"]}},
    ]}
    apply(warden, tmp_path, document)
    client = connect(warden, "probe", mqtt.MQTTv5)
    assert subscribe(client, "lab/x") == 0x87
    assert subscribe(client, "local/x") == 1
    client.stop()
    explained = json.loads(warden.cli(
        "policy", "explain", "--device", "probe", "--action", "subscribe", "--topic", "lab/x",
        "--context", "source-address=10.1.2.3", "--json"))
    assert explained["decision"] == "allow" and explained["statement"] == "lab-network"


def test_audit_only_does_not_enforce_and_rollback_restores(warden, tmp_path):
    hub.create_device(warden, "unit-1", "--attribute", "role=sensor", "--attribute", "floor=3")
    apply(warden, tmp_path, FLOORS)
    trial = {"tolerance": "audit-only", "statements": [
        {"id": "no-floors", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["subscribe"],
         "resources": ["floors/#"]},
    ]}
    assert "tried (audit-only)" in apply(warden, tmp_path, trial, "trial.json")
    client = connect(warden, "unit-1", mqtt.MQTTv5)
    assert subscribe(client, "floors/3/a") == 1  # the enforced version 1 still decides
    explained = json.loads(warden.cli(
        "policy", "explain", "--device", "unit-1", "--action", "subscribe", "--topic", "floors/3/a", "--json"))
    assert explained["decision"] == "allow" and explained["policyVersion"] == 1
    assert explained["tried"] == {"decision": "deny", "statement": "no-floors",
                                  "reasons": ["statement 'no-floors' denies it"], "policyVersion": 2}
    # The audit log shows what the tried version would have refused; nothing was refused.
    def trial_records():
        query = json.loads(warden.cli("audit", "query", "--tenant", "default", "--action", "device.subscribe", "--json"))
        return [r for r in query["items"] if r.get("reason") == "audit_only_denied"]
    assert hub.wait_until(lambda: len(trial_records()) == 1)
    record = trial_records()[0]
    assert record["outcome"] == "success" and record["target"] == "floors/3/a" and record["actor"] == "unit-1"
    assert record["details"]["policy.version"] == "2" and record["details"]["policy.statement"] == "no-floors"

    apply(warden, tmp_path, {"statements": []}, "empty.json")  # version 3: the floors are gone
    assert subscribe(client, "floors/3/b") == 0x87
    assert hub.wait_until(lambda: any(
        r["target"] == "floors/3/b" and r["details"]["policy.version"] == "3" for r in json.loads(warden.cli(
            "audit", "query", "--tenant", "default", "--outcome", "denied", "--json"))["items"]))
    assert "version 4" in warden.cli("policy", "rollback", "1")
    assert subscribe(client, "floors/3/c") == 1
    versions = json.loads(warden.cli("policy", "versions", "--json"))["items"]
    assert [(v["version"], v.get("restoredFrom"), v["auditOnly"]) for v in versions] == [
        (4, 1, False), (3, None, False), (2, None, True), (1, None, False)]
    client.stop()


def test_bad_documents_are_refused_with_the_field(warden, tmp_path):
    for document, field in [
        ({"statements": [{"id": "x", "effect": "allow", "principals": {"devices": ["a"]}, "actions": ["fly"]}]},
         "statements[0].actions[0]"),
        ({"statements": [{"id": "x", "effect": "allow", "principals": {}, "actions": ["publish"]}]},
         "statements[0].principals"),
        ({"tolerance": "lax"}, "tolerance"),
        ({"statements": [], "extra": 1}, "document"),
    ]:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(document))
        result = warden.run_cli("policy", "apply", str(path))
        assert result.returncode == 65, result.stderr
        assert field in result.stderr and "policy_document.invalid" in result.stderr
    assert json.loads(warden.cli("policy", "versions", "--json"))["items"] == []


LIVE = {"statements": [
    {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
     "actions": ["subscribe", "receive"], "resources": ["floors/${device.attr.floor}/#"]},
    {"id": "feeder", "effect": "allow", "principals": {"devices": ["feeder"]}, "actions": ["publish"],
     "resources": ["floors/#"]},
]}


def test_live_changes_narrow_and_close_connections(warden, tmp_path):
    hub.create_device(warden, "unit-1", "--attribute", "role=sensor", "--attribute", "floor=3")
    hub.create_device(warden, "feeder")
    apply(warden, tmp_path, LIVE)
    listener = connect(warden, "unit-1", mqtt.MQTTv5)
    feeder = connect(warden, "feeder", mqtt.MQTTv5)
    assert subscribe(listener, "floors/3/#") == 1
    feeder.paho.publish("floors/3/t", b"one", qos=1)
    assert hub.wait_until(lambda: listener.payloads("floors/3/t") == [b"one"])

    # The device's attribute changes: its floor-3 subscription no longer holds and is removed at once.
    warden.cli("device", "update", "unit-1", "--attribute", "floor=4")
    feeder.paho.publish("floors/3/t", b"two", qos=1)
    assert hub.wait_until(lambda: len(feeder.pubacks) == 2)
    assert subscribe(listener, "floors/4/#") == 1
    feeder.paho.publish("floors/4/t", b"three", qos=1)
    assert hub.wait_until(lambda: listener.payloads("floors/4/t") == [b"three"])
    assert listener.payloads("floors/3/t") == [b"one"]
    assert hub.wait_until(lambda: any(
        r["target"] == "floors/3/#" for r in json.loads(warden.cli(
            "audit", "query", "--tenant", "default", "--action", "device.subscribe", "--outcome", "denied",
            "--json"))["items"]))

    # A new version that denies the device's connection closes it: DISCONNECT 0x87 with the reference id.
    lost = dict(LIVE, statements=LIVE["statements"] + [
        {"id": "lost", "effect": "deny", "principals": {"devices": ["unit-1"]}, "actions": ["connect"]}])
    apply(warden, tmp_path, lost, "lost.json")
    assert listener.disconnected.wait(1.0), "the connection was not closed within a second"
    assert listener.disconnect_reason.value == 0x87
    assert feeder.connected.is_set() and not feeder.disconnected.is_set()
    for client in (listener, feeder):
        client.paho.loop_stop()


def test_a_publish_allowed_before_a_change_is_decided_again_after_it(warden, tmp_path):
    """A connection keeps the topics it may publish to while nothing a decision reads changes: after the device's
    attribute changes, or a new version, the next PUBLISH over the same connection is decided again."""
    hub.create_device(warden, "unit-5", "--attribute", "role=sensor", "--attribute", "floor=3")
    own_floor = {"id": "own-floor", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
                 "actions": ["publish"], "resources": ["floors/${device.attr.floor}/#"]}
    apply(warden, tmp_path, {"statements": [own_floor]})
    client = connect(warden, "unit-5", mqtt.MQTTv5)

    def publish(topic: str) -> int:
        info = client.paho.publish(topic, b"x", qos=1)
        assert hub.wait_until(lambda: info.mid in client.pubacks)
        return client.pubacks[info.mid].value

    # 0x10: allowed, and nobody subscribes.
    assert [publish("floors/3/t") for _ in range(3)] == [0x10] * 3
    warden.cli("device", "update", "unit-5", "--attribute", "floor=4")
    assert publish("floors/3/t") == 0x87
    assert publish("floors/4/t") == 0x10
    quiet = {"id": "quiet", "effect": "deny", "principals": {"devices": ["unit-5"]}, "actions": ["publish"],
             "resources": ["floors/4/#"]}
    apply(warden, tmp_path, {"statements": [own_floor, quiet]}, "quiet.json")
    assert publish("floors/4/t") == 0x87
    assert client.connected.is_set() and not client.disconnected.is_set()
    client.paho.loop_stop()


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_receive_is_checked_per_delivery(warden, tmp_path, version):
    hub.create_device(warden, "monitor", "--attribute", "role=monitor")
    hub.create_device(warden, "feeder")
    apply(warden, tmp_path, {"statements": [
        {"id": "monitor-all", "effect": "allow", "principals": {"attributes": {"role": "monitor"}},
         "actions": ["subscribe", "receive"], "resources": ["plant/#"]},
        {"id": "no-secrets", "effect": "deny", "principals": {"attributes": {"role": "monitor"}},
         "actions": ["receive"], "resources": ["plant/secret/#"]},
        {"id": "feeder", "effect": "allow", "principals": {"devices": ["feeder"]}, "actions": ["publish"],
         "resources": ["plant/#"]},
    ]})
    monitor = connect(warden, "monitor", version)
    feeder = connect(warden, "feeder", version)
    assert subscribe(monitor, "plant/#") == 1
    for topic in ("plant/secret/key", "plant/a", "plant/secret/key", "plant/b"):
        feeder.paho.publish(topic, topic.encode(), qos=1)
    assert hub.wait_until(lambda: len(monitor.messages) == 2)
    assert [m.topic for m in monitor.messages] == ["plant/a", "plant/b"]
    # One record for the topic, not one per message.
    records = lambda: [r for r in json.loads(warden.cli(
        "audit", "query", "--tenant", "default", "--action", "device.receive", "--json"))["items"]]
    assert hub.wait_until(lambda: len(records()) == 1)
    assert records()[0]["target"] == "plant/secret/key" and records()[0]["details"]["policy.statement"] == "no-secrets"
    for client in (monitor, feeder):
        client.stop()


def test_a_denial_is_explained_by_its_reference(warden, tmp_path):
    hub.create_device(warden, "unit-1", "--attribute", "role=sensor", "--attribute", "floor=3")
    apply(warden, tmp_path, FLOORS)
    client = connect(warden, "unit-1", mqtt.MQTTv5)
    # 5.0 tells the client the reference id of a refused PUBLISH.
    properties = {}
    client.paho.on_publish = lambda c, u, mid, code, p: properties.__setitem__(mid, (code, p))
    info = client.paho.publish("floors/4/temp", b"x", qos=1)
    assert hub.wait_until(lambda: info.mid in properties)
    code, acknowledgement = properties[info.mid]
    assert code.value == 0x87
    reference = acknowledgement.ReasonString.split("reference ")[1].rstrip(").")

    story = json.loads(warden.cli("policy", "explain", reference, "--json"))
    assert story["record"]["actor"] == "unit-1" and story["record"]["target"] == "floors/4/temp"
    assert story["policyVersion"] == 1 and story["record"]["details"]["protocol"] == "mqtt"
    considered = {entry["statement"]: entry["outcome"] for entry in story["replay"]["considered"]}
    assert considered["floor-share"] == "resource-outside"
    assert story["replay"]["decision"] == "deny"
    printed = warden.cli("policy", "explain", reference)
    assert "floor-share" in printed and "resource-outside" in printed and "unit-1" in printed
    missing = warden.run_cli("policy", "explain", "0123456789ab")
    assert missing.returncode == 66 and "policy_decision.not_found" in missing.stderr
    # A reference's story is what was recorded: simulation options beside it are refused, not ignored.
    mixed = warden.run_cli("policy", "explain", reference, "--context", "protocol=https")
    assert mixed.returncode == 64 and "takes no" in mixed.stderr
    client.stop()


def test_a_time_window_opening_closes_the_connection_it_denies(warden, tmp_path):
    import datetime
    import time

    hub.create_device(warden, "shift-1")
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now + datetime.timedelta(seconds=3), now + datetime.timedelta(hours=1)
    window = f"{start:%H:%M:%S}-{end:%H:%M:%S}"
    apply(warden, tmp_path, {"statements": [
        {"id": "off-shift", "effect": "deny", "principals": {"devices": ["shift-*"]}, "actions": ["connect"],
         "conditions": {"time": {"within": window, "zone": "UTC"}}}]})
    explained = json.loads(warden.cli(
        "policy", "explain", "--device", "shift-1", "--action", "connect",
        "--context", f"time={(start + datetime.timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}", "--json"))
    assert explained["decision"] == "deny" and explained["statement"] == "off-shift"

    client = connect(warden, "shift-1", mqtt.MQTTv5)  # the window is not open yet
    assert client.disconnected.wait(8), "the connection outlived the window's opening"
    closed_at = datetime.datetime.now(datetime.timezone.utc)
    assert client.disconnect_reason.value == 0x87
    assert (closed_at - start).total_seconds() < 2.0
    client.paho.loop_stop()
    time.sleep(0.2)
    refused = hub.device_client(warden, "shift-1", mqtt.MQTTv5)
    assert str(refused.start(warden.mqtt["mqtts"], host="localhost")) == "Not authorized"
    refused.paho.loop_stop()


def test_yaml_documents(warden, tmp_path):
    hub.create_device(warden, "unit-1", "--attribute", "role=sensor", "--attribute", "floor=3")
    path = tmp_path / "policy.yaml"
    path.write_text(
        "tolerance: balanced\n"
        "statements:\n"
        "  - id: floor-share\n"
        "    effect: allow\n"
        "    principals: { attributes: { role: sensor } }\n"
        "    actions: [publish, subscribe, receive]\n"
        "    resources: [\"floors/${device.attr.floor}/#\"]\n")
    assert "version 1 is in force" in warden.cli("policy", "apply", str(path))
    client = connect(warden, "unit-1", mqtt.MQTTv311)
    assert subscribe(client, "floors/3/#") == 1
    client.stop()
    assert warden.cli("policy", "show") == path.read_text().rstrip("\n")
    path.write_text("statements:\n  - id: x\n    effect: allow\n    principals: {devices: ['*']}\n    actions: [fly]\n")
    refused = warden.run_cli("policy", "apply", str(path))
    assert refused.returncode == 65 and "line 5: statements[0].actions[0]" in refused.stderr


def test_twin_reported_values_tls_and_payload_conditions_live(warden, tmp_path):
    """A device reporting old firmware loses its connection at once; TLS version and payload size decide too;
    a group may not change its reported properties (a hub action)."""
    hub.create_device(warden, "valve-1")
    hub.create_device(warden, "valve-2")
    hub.api(warden, "/api/v1/tenants/default/groups", "POST", {"name": "frozen", "members": ["valve-2"]})
    apply(warden, tmp_path, {"statements": [
        {"id": "old-firmware", "effect": "deny", "principals": {"devices": ["valve-*"]}, "actions": ["connect"],
         "conditions": {"reported": {"firmware.version": {"one-of": ["1.0", "1.1"]}}}},
        {"id": "small-telemetry", "effect": "deny", "principals": {"devices": ["valve-*"]}, "actions": ["publish"],
         "resources": ["devices/${device.id}/messages/events/#"], "conditions": {"payload-size": {"at-least": 100}}},
        {"id": "modern-tls", "effect": "allow", "principals": {"devices": ["valve-*"]}, "actions": ["subscribe"],
         "resources": ["tls13/#"], "conditions": {"tls-versions": ["1.3"]}},
        {"id": "old-tls", "effect": "allow", "principals": {"devices": ["valve-*"]}, "actions": ["subscribe"],
         "resources": ["tls12/#"], "conditions": {"tls-versions": ["1.2"]}},
        {"id": "frozen-twins", "effect": "deny", "principals": {"groups": ["frozen"]},
         "actions": ["twin.update-reported"]},
        {"id": "active-alerts", "effect": "allow", "principals": {"devices": ["valve-*"]},
         "actions": ["subscribe", "receive"], "resources": ["alerts/#"],
         "conditions": {"reported": {"mode": "active"}}},
    ]})
    client = connect(warden, "valve-1", mqtt.MQTTv5)
    assert subscribe(client, "$iothub/twin/res/#") == 1
    # paho negotiates TLS 1.3 with Warden.
    assert subscribe(client, "tls13/#") == 1
    assert subscribe(client, "tls12/#") == 0x87

    acknowledged = {}
    client.paho.on_publish = lambda c, u, mid, code, p: acknowledged.__setitem__(mid, code.value)
    small = client.paho.publish("devices/valve-1/messages/events/", b"x" * 99, qos=1)
    large = client.paho.publish("devices/valve-1/messages/events/", b"x" * 100, qos=1)
    assert hub.wait_until(lambda: small.mid in acknowledged and large.mid in acknowledged)
    assert acknowledged[small.mid] == 0 and acknowledged[large.mid] == 0x87

    def report(device: hub.Client, rid: str, firmware: str, mode: str = "active"):
        device.paho.publish(
            f"$iothub/twin/PATCH/properties/reported/?$rid={rid}",
            json.dumps({"firmware": {"version": firmware}, "mode": mode}).encode(), qos=1)

    # Before the device reports a mode, the condition is unknown: no subscription to alerts.
    assert subscribe(client, "alerts/#") == 0x87
    report(client, "1", "2.0")
    assert hub.wait_until(lambda: any(m.topic.startswith("$iothub/twin/res/204/?$rid=1") for m in client.messages))
    assert subscribe(client, "alerts/#") == 1
    # Reporting another mode narrows the connection: the subscription is removed, the connection stays.
    alerts_refused = lambda: len([r for r in json.loads(warden.cli(
        "audit", "query", "--tenant", "default", "--action", "device.subscribe", "--outcome", "denied",
        "--json"))["items"] if r["target"] == "alerts/#" and r["actor"] == "valve-1"])
    assert alerts_refused() == 1  # the subscribe before any mode was reported
    report(client, "3", "2.0", mode="idle")
    assert hub.wait_until(lambda: alerts_refused() == 2), "the subscription outlived the reported mode"
    assert not client.disconnected.is_set()
    # Reporting old firmware: the connection it may no longer hold is closed within a second.
    report(client, "2", "1.0")
    assert client.disconnected.wait(2.0), "the connection outlived the reported value that denies it"
    assert client.disconnect_reason.value == 0x87
    client.paho.loop_stop()
    refused = hub.device_client(warden, "valve-1", mqtt.MQTTv5)
    assert str(refused.start(warden.mqtt["mqtts"], host="localhost")) == "Not authorized"
    refused.paho.loop_stop()
    story = json.loads(warden.cli(
        "policy", "explain", "--device", "valve-1", "--action", "connect", "--json"))
    assert story["decision"] == "deny" and story["statement"] == "old-firmware"

    # A frozen device's reported-properties patch is refused as the hub action it is.
    frozen = connect(warden, "valve-2", mqtt.MQTTv5)
    refusals = {}
    frozen.paho.on_publish = lambda c, u, mid, code, p: refusals.__setitem__(mid, code.value)
    patch = frozen.paho.publish("$iothub/twin/PATCH/properties/reported/?$rid=9", b'{"a": 1}', qos=1)
    assert hub.wait_until(lambda: patch.mid in refusals)
    assert refusals[patch.mid] == 0x87
    denied = json.loads(warden.cli(
        "audit", "query", "--tenant", "default", "--outcome", "denied", "--json"))["items"]
    assert any(r["action"] == "device.twin.update-reported" and r["actor"] == "valve-2" for r in denied), denied
    frozen.stop()
