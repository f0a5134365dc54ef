"""Telemetry (issue 4): what devices publish on `devices/{id}/messages/events/{bag}` is stored with its
properties before the PUBACK (a SIGKILL right after loses none of it), read back through the API as pages,
JSON Lines, CSV and server-sent events, and a Will or RETAIN becomes a property."""
import csv
import io
import json
import threading

import paho.mqtt.client as mqtt
import pytest

import hub

TELEMETRY = "/api/v1/tenants/default/devices/{}/telemetry"


def stored(warden, device_id: str, query: str = "") -> list[dict]:
    status, _, body = hub.api(warden, TELEMETRY.format(device_id) + query)
    assert status == 200, body
    return json.loads(body)["items"]


def test_acknowledged_telemetry_survives_sigkill_with_its_properties(warden_factory):
    warden = warden_factory()
    hub.create_device(warden, "meter-1")
    device = hub.device_client(warden, "meter-1")
    device.start(warden.mqtt["mqtts"])
    for n in range(200):
        info = device.paho.publish(f"devices/meter-1/messages/events/%24.mid=m{n}&n={n}", f"reading {n}", qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    # Every PUBACK is in: all 200 are committed.
    warden.kill()
    device.paho.loop_stop()

    restarted = warden_factory()
    first = stored(restarted, "meter-1", "?limit=150")
    status, _, body = hub.api(restarted, TELEMETRY.format("meter-1") + "?limit=150")
    cursor = json.loads(body)["nextCursor"]
    rest = stored(restarted, "meter-1", f"?limit=150&cursor={cursor}")
    messages = first + rest
    assert [m["body"] for m in messages] == [f"reading {n}" for n in range(200)]
    assert [m["systemProperties"]["messageId"] for m in messages] == [f"m{n}" for n in range(200)]
    assert [m["properties"]["n"] for m in messages] == [str(n) for n in range(200)]
    sequence = [m["sequenceNumber"] for m in messages]
    assert sequence == sorted(sequence) and len(set(sequence)) == 200

    # Numbering continues after the restart.
    again = hub.device_client(restarted, "meter-1")
    again.start(restarted.mqtt["mqtts"])
    again.paho.publish("devices/meter-1/messages/events/", "after", qos=1).wait_for_publish(10)
    again.stop()
    assert stored(restarted, "meter-1", "?from=1h&limit=1000")[-1]["sequenceNumber"] > sequence[-1]


def test_export_as_json_lines_and_csv(warden):
    hub.create_device(warden, "meter-2")
    device = hub.device_client(warden, "meter-2")
    device.start(warden.mqtt["mqtts"])
    device.paho.publish("devices/meter-2/messages/events/note=a%2Cb", 'say "hi"', qos=1).wait_for_publish(10)
    device.paho.publish("devices/meter-2/messages/events/", bytes([0xFF, 0x00]), qos=1).wait_for_publish(10)
    device.stop()

    status, headers, body = hub.api(warden, TELEMETRY.format("meter-2") + "/export?format=jsonl")
    assert status == 200 and headers["Content-Type"] == "application/jsonl"
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert [line["body"] for line in lines] == ['say "hi"', "/wA="]
    assert [line["bodyEncoding"] for line in lines] == ["utf-8", "base64"]

    status, headers, body = hub.api(warden, TELEMETRY.format("meter-2") + "/export?format=csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["body"] for row in rows] == ['say "hi"', "/wA="]
    assert json.loads(rows[0]["properties"]) == {"note": "a,b"}

    status, _, body = hub.api(warden, TELEMETRY.format("meter-2") + "/export?format=xml")
    assert status == 400 and json.loads(body)["code"] == "request.invalid_query"
    status, _, body = hub.api(warden, TELEMETRY.format("meter-2") + "?from=yesterday")
    assert status == 400 and "ISO 8601" in json.loads(body)["detail"]
    status, _, body = hub.api(warden, TELEMETRY.format("ghost"))
    assert status == 404 and json.loads(body)["code"] == "device.not_found"


def test_new_telemetry_streams_as_server_sent_events_after_a_replay(warden):
    hub.create_device(warden, "meter-3")
    device = hub.device_client(warden, "meter-3")
    device.start(warden.mqtt["mqtts"])
    device.paho.publish("devices/meter-3/messages/events/", "before", qos=1).wait_for_publish(10)
    first = stored(warden, "meter-3")[0]["sequenceNumber"]

    events = []
    opened = threading.Event()

    def follow():
        for event in hub.stream(warden, TELEMETRY.format("meter-3") + f"/stream?after={first - 1}"):
            events.append(event)
            opened.set()
            if len(events) == 3:
                return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10)  # the replayed message
    for text in ["live 1", "live 2"]:
        device.paho.publish("devices/meter-3/messages/events/", text, qos=1).wait_for_publish(10)
    reader.join(10)
    device.stop()
    assert [json.loads(data)["body"] for _, data in events] == ["before", "live 1", "live 2"]
    assert [int(event_id) for event_id, _ in events] == [json.loads(data)["sequenceNumber"] for _, data in events]


def test_a_will_and_a_retained_message_become_properties(warden_factory):
    warden = warden_factory({"mqtt.plain.enabled": "true", "mqtt.plain.port": 0,
                             "mqtt.plain.anonymous": "subscribe"})
    hub.create_device(warden, "meter-4")
    watcher = hub.Client("watcher", mqtt.MQTTv5)
    watcher.start(warden.mqtt["mqtt"])
    watcher.paho.subscribe("devices/meter-4/messages/events/#", qos=1)
    device = hub.device_client(warden, "meter-4")
    device.paho.will_set("devices/meter-4/messages/events/", "gone", qos=1)
    device.start(warden.mqtt["mqtts"])
    device.paho.publish("devices/meter-4/messages/events/", "kept?", qos=1, retain=True).wait_for_publish(10)
    device.paho.socket().close()  # an unclean end: the Will is published
    assert hub.wait_until(lambda: len(watcher.messages) == 2)

    messages = stored(warden, "meter-4")
    assert [m["body"] for m in messages] == ["kept?", "gone"]
    assert messages[0]["properties"] == {"mqtt-retain": "true"}
    assert messages[1]["properties"] == {"iothub-MessageType": "Will"}
    # Routed with the stamps as MQTT 5 user properties, and not retained (Azure dialect).
    stamps = dict(watcher.messages[1].properties.UserProperty)
    assert stamps["iothub-MessageType"] == "Will" and stamps["iothub-connection-device-id"] == "meter-4"
    assert int(stamps["iothub-sequencenumber"]) == messages[1]["sequenceNumber"]
    late = hub.Client("late", mqtt.MQTTv5)
    late.start(warden.mqtt["mqtt"])
    late.paho.subscribe("devices/meter-4/messages/events/#", qos=1)
    assert not hub.wait_until(lambda: late.messages, timeout=1)
    late.stop()
    watcher.stop()


def test_a_property_bag_that_does_not_parse_closes_a_311_connection(warden):
    hub.create_device(warden, "meter-5")
    device = hub.device_client(warden, "meter-5")
    device.start(warden.mqtt["mqtts"])
    device.paho.publish("devices/meter-5/messages/events/a=%zz", "bad", qos=1)
    assert device.disconnected.wait(10)
    assert stored(warden, "meter-5") == []
