"""The Azure IoT device SDK (azure-iot-device 2.14.0, unmodified) connects to Warden's broker over MQTT/TLS and
over MQTT/WebSocket (`/$iothub/websocket`) with the connection string `warden` hands out, and sends telemetry,
which the hub stores with its properties (read back with `warden telemetry --json`).

The SDK always dials port 8883 (443 for WebSocket); the test redirects paho's connect to the ports this server
picked, and changes nothing else.
"""
import json
import threading
from unittest import mock

import paho.mqtt.client as paho
import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/azure/requirements.txt)")
from azure.iot.device import IoTHubDeviceClient, Message  # noqa: E402

PLAIN = {"mqtt.plain.enabled": "true", "mqtt.plain.port": 0, "mqtt.plain.anonymous": "subscribe"}


@pytest.mark.parametrize("websockets", [False, True])
def test_sdk_connects_and_sends_telemetry(warden_factory, websockets):
    warden = warden_factory(PLAIN)
    warden.cli("device", "create", "sdk-device")
    connection_string = warden.cli("device", "connection-string", "sdk-device")
    ports = {8883: warden.mqtt["mqtts"], 443: int(warden.url.rsplit(":", 1)[1])}

    received = []
    arrived = threading.Event()
    watcher = paho.Client(client_id="watcher")
    watcher.on_message = lambda client, userdata, message: (received.append(message), arrived.set())
    watcher.connect("127.0.0.1", warden.mqtt["mqtt"])
    watcher.subscribe("devices/sdk-device/messages/events/#", qos=1)
    watcher.loop_start()

    original_connect = paho.Client.connect

    def connect_to_this_server(self, host, port=1883, *args, **kwargs):
        return original_connect(self, host, ports.get(port, port), *args, **kwargs)

    with mock.patch.object(paho.Client, "connect", connect_to_this_server):
        with open(warden.ca) as ca:
            client = IoTHubDeviceClient.create_from_connection_string(
                connection_string, server_verification_cert=ca.read(), websockets=websockets)
        client.connect()
        message = Message('{"temperature": 21.5}', message_id="m-1", content_encoding="utf-8",
                          content_type="application/json")
        message.custom_properties["alert"] = "high & rising"
        client.send_message(message)
        client.shutdown()

    assert arrived.wait(15)
    assert received[0].payload == b'{"temperature": 21.5}'
    assert "alert=high%20%26%20rising" in received[0].topic
    watcher.loop_stop()

    # send_message returned after the PUBACK, so the message is already stored.
    stored = [json.loads(line) for line in warden.cli("telemetry", "sdk-device", "--json").splitlines()]
    assert len(stored) == 1
    assert stored[0]["body"] == '{"temperature": 21.5}' and stored[0]["bodyEncoding"] == "utf-8"
    assert stored[0]["systemProperties"] == {
        "messageId": "m-1", "contentType": "application/json", "contentEncoding": "utf-8"}
    assert stored[0]["properties"] == {"alert": "high & rising"}
    assert stored[0]["deviceId"] == "sdk-device" and stored[0]["authMethod"] == "sas"
