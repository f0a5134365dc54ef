"""The Azure IoT device SDK (azure-iot-device 2.14.0, unmodified) connects to Warden's broker over MQTT/TLS and
over MQTT/WebSocket (`/$iothub/websocket`) with the connection string `warden` hands out, and sends telemetry,
which the hub stores with its properties (read back with `warden telemetry --json`).

The SDK always dials port 8883 (443 for WebSocket); the test redirects paho's connect to the ports this server
picked, and changes nothing else.
"""
import json
import subprocess
import threading
import time
from unittest import mock

import paho.mqtt.client as paho
import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/azure/requirements.txt)")
from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse, X509  # noqa: E402

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


def sdk_client(warden, connection_string: str, websockets: bool = False, **kwargs):
    """The SDK's client, with paho's connect sent to this server's ports."""
    ports = {8883: warden.mqtt["mqtts"], 443: int(warden.url.rsplit(":", 1)[1])}
    original_connect = paho.Client.connect

    def connect_to_this_server(self, host, port=1883, *args, **kw):
        return original_connect(self, host, ports.get(port, port), *args, **kw)

    patcher = mock.patch.object(paho.Client, "connect", connect_to_this_server)
    patcher.start()
    with open(warden.ca) as ca:
        if "x509" in kwargs:
            client = IoTHubDeviceClient.create_from_x509_certificate(
                hostname="localhost", device_id=kwargs["device_id"], x509=kwargs["x509"],
                server_verification_cert=ca.read(), websockets=websockets)
        else:
            client = IoTHubDeviceClient.create_from_connection_string(
                connection_string, server_verification_cert=ca.read(), websockets=websockets)
    return client, patcher


def eventually(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def exercise_hub_features(warden, client, device_id: str):
    """Cloud-to-device, twin and direct methods through the SDK's own API."""
    messages, desired = [], []
    message_arrived, desired_arrived = threading.Event(), threading.Event()
    client.on_message_received = lambda message: (messages.append(message), message_arrived.set())
    client.on_twin_desired_properties_patch_received = lambda patch: (desired.append(patch), desired_arrived.set())

    def on_method(request):
        if request.name == "reboot":
            response = MethodResponse.create_from_method_request(request, 200, {"rebooted": request.payload["delay"]})
        else:
            response = MethodResponse.create_from_method_request(request, 404, {"unknown": request.name})
        client.send_method_response(response)

    client.on_method_request_received = on_method
    client.connect()

    warden.cli("c2d", "send", device_id, "--body", "hello device", "--property", "k=v w", "--message-id", "m-1",
               "--ack", "full")
    assert message_arrived.wait(15)
    assert messages[0].data == b"hello device"
    assert messages[0].message_id == "m-1" and messages[0].custom_properties == {"k": "v w"}
    # On a cluster the record is the device's node's, and pages hold what is settled (2 s): it may come later.
    assert eventually(lambda: [(f["originalMessageId"], f["statusCode"])
                               for f in json.loads(warden.cli("c2d", "feedback", "--json"))] == [("m-1", "Success")])

    twin = client.get_twin()
    assert twin == {"desired": {"$version": 0}, "reported": {"$version": 0}}
    client.patch_twin_reported_properties({"firmware": "1.2", "battery": {"level": 80, "charging": True}})
    client.patch_twin_reported_properties({"battery": {"charging": None}})
    twin = client.get_twin()
    assert twin["reported"] == {"firmware": "1.2", "battery": {"level": 80}, "$version": 2}

    shown = json.loads(warden.cli("twin", "set-desired", device_id, '{"interval": 30}', "--json"))
    assert shown["properties"]["desired"]["interval"] == 30
    assert desired_arrived.wait(15)
    assert desired[0] == {"interval": 30, "$version": 1}

    answer = json.loads(warden.cli("method", "invoke", device_id, "reboot", "--payload", '{"delay": 5}', "--json"))
    assert answer == {"status": 200, "payload": {"rebooted": 5}}
    answer = json.loads(warden.cli("method", "invoke", device_id, "dance", "--json"))
    assert answer["status"] == 404
    client.shutdown()


@pytest.mark.parametrize("websockets", [False, True])
def test_sdk_receives_c2d_uses_its_twin_and_answers_methods(warden, websockets):
    warden.cli("device", "create", "sdk-hub")
    client, patcher = sdk_client(warden, warden.cli("device", "connection-string", "sdk-hub"), websockets)
    try:
        exercise_hub_features(warden, client, "sdk-hub")
    finally:
        patcher.stop()
    # The device is gone: a method call is refused at once.
    result = warden.run_cli("method", "invoke", "sdk-hub", "reboot")
    assert result.returncode == 66 and "method.device_offline" in result.stderr


@pytest.mark.parametrize("websockets", [False, True])
def test_sdk_with_an_x509_device_certificate(warden, tmp_path, websockets):
    """Over WebSocket the certificate is the HTTPS port's TLS client certificate, as IoT Hub takes it on 443."""
    key, certificate = tmp_path / "device.key", tmp_path / "device.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", "/CN=sdk-x509"],
                   check=True, capture_output=True)
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-fingerprint", "-sha256"],
                                 check=True, capture_output=True, text=True).stdout
    thumbprint = fingerprint.split("=", 1)[1].strip().replace(":", "")
    warden.cli("device", "create", "sdk-x509", "--auth", "x509-thumbprint", "--thumbprint", thumbprint)
    client, patcher = sdk_client(warden, "", websockets, device_id="sdk-x509",
                                 x509=X509(cert_file=str(certificate), key_file=str(key)))
    try:
        client.connect()
        client.send_message("from a certificate")
        client.disconnect()
        exercise_hub_features(warden, client, "sdk-x509")
    finally:
        patcher.stop()
    stored = [json.loads(line) for line in warden.cli("telemetry", "sdk-x509", "--json").splitlines()]
    assert [m["body"] for m in stored] == ["from a certificate"]
    assert stored[0]["authMethod"] == "x509-thumbprint"
