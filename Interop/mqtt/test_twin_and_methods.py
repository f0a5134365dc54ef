"""Twins and methods with a plain MQTT client (issue 4): what the Azure SDK never sends — a malformed reported
patch, an unknown `$iothub/` topic, a method the device leaves unanswered — gets a clear answer."""
import json

import paho.mqtt.client as mqtt

import hub


def test_bad_reported_patches_get_400_and_change_nothing(warden):
    hub.create_device(warden, "twin-1")
    device = hub.device_client(warden, "twin-1")
    device.start(warden.mqtt["mqtts"])
    result, mid = device.paho.subscribe("$iothub/twin/res/#", qos=1)
    assert hub.wait_until(lambda: mid in device.subacks)
    for rid, body in [(1, b"not json"), (2, b"[1, 2]"), (3, b'{"$version": 5}'), (4, b'{"ok": true}')]:
        device.paho.publish(f"$iothub/twin/PATCH/properties/reported/?$rid={rid}", body, qos=1)
    assert hub.wait_until(lambda: len(device.messages) == 4)
    topics = sorted(m.topic for m in device.messages)
    assert topics == ["$iothub/twin/res/204/?$rid=4&$version=1", "$iothub/twin/res/400/?$rid=1",
                      "$iothub/twin/res/400/?$rid=2", "$iothub/twin/res/400/?$rid=3"]
    status, _, twin = hub.api(warden, "/api/v1/tenants/default/devices/twin-1/twin")
    assert json.loads(twin)["properties"]["reported"]["ok"] is True
    assert json.loads(twin)["properties"]["reported"]["$version"] == 1
    device.stop()


def test_an_unanswered_method_times_out_with_504(warden):
    hub.create_device(warden, "twin-2")
    device = hub.device_client(warden, "twin-2")
    device.start(warden.mqtt["mqtts"])
    result, mid = device.paho.subscribe("$iothub/methods/POST/#", qos=1)
    assert hub.wait_until(lambda: mid in device.subacks)
    status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/twin-2/methods/reboot", "POST",
                              {"payload": {"delay": 1}, "responseTimeoutInSeconds": 5})
    assert status == 504 and json.loads(body)["code"] == "method.timeout"
    assert device.messages[0].topic.startswith("$iothub/methods/POST/reboot/?$rid=")
    assert json.loads(device.messages[0].payload) == {"delay": 1}
    # A late answer is dropped, and the connection stays up.
    device.paho.publish(device.messages[0].topic.replace("POST/reboot", "res/200"),
                        b"{}", qos=1).wait_for_publish(10)
    assert not device.disconnected.is_set()
    device.stop()


def test_an_unknown_iothub_topic_is_refused(warden):
    hub.create_device(warden, "twin-3")
    device = hub.device_client(warden, "twin-3", mqtt.MQTTv5)
    device.start(warden.mqtt["mqtts"])
    info = device.paho.publish("$iothub/twin/GETX/?$rid=1", b"", qos=1)
    assert hub.wait_until(lambda: info.mid in device.pubacks)
    assert device.pubacks[info.mid].value in (0x87, 0x90)
    device.stop()
