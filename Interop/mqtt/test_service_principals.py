"""Backend services over MQTT (issue 3, "Authentication at CONNECT" (d), "Authorization"): a tenant shared
access policy with `serviceConnect` is the cloud side of every device. The SAS token is computed here from the
published Azure format, independently of Warden's own signer."""
import base64
import hashlib
import hmac
import json
import ssl
import time
import urllib.parse
import urllib.request

import paho.mqtt.client as mqtt

import hub


def api(warden, method: str, path: str, body=None):
    token = (warden.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(
        warden.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=warden.ca)) as response:
        data = response.read()
        return json.loads(data) if data else None


def service_token(resource: str, policy: str, key: str, ttl: int = 3600) -> str:
    expiry = int(time.time()) + ttl
    encoded = urllib.parse.quote(resource, safe="")
    signature = base64.b64encode(
        hmac.new(base64.b64decode(key), f"{encoded}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    return (f"SharedAccessSignature sr={encoded}&sig={urllib.parse.quote(signature, safe='')}"
            f"&se={expiry}&skn={policy}")


def service_client(warden, policy: str, key: str, client_id: str) -> hub.Client:
    client = hub.Client(client_id, mqtt.MQTTv5)
    client.paho.username_pw_set(f"localhost/$service/{policy}/?api-version=2021-04-12",
                                service_token("localhost", policy, key))
    client.paho.tls_set(ca_certs=warden.ca)
    return client


def test_service_receives_telemetry_and_sends_cloud_to_device(warden):
    policy = api(warden, "POST", "/api/v1/tenants/default/shared-access-policies",
                 {"name": "backend", "permissions": ["serviceConnect"]})
    key = policy["keys"]["primaryKey"]
    hub.create_device(warden, "meter-1")
    device = hub.device_client(warden, "meter-1", mqtt.MQTTv5)
    device.start(warden.mqtt["mqtts"], host="localhost")
    result, mid = device.paho.subscribe("devices/meter-1/messages/devicebound/#", qos=1)
    assert hub.wait_until(lambda: mid in device.subacks)

    # A service choosing the device's ClientId gets its own session; the device stays connected.
    service = service_client(warden, "backend", key, "meter-1")
    assert service.start(warden.mqtt["mqtts"], host="localhost") == 0
    result, mid = service.paho.subscribe("$share/workers/devices/+/messages/events/#", qos=1)
    assert hub.wait_until(lambda: mid in service.subacks)
    assert [code.value for code in service.subacks[mid]] == [1]

    device.paho.publish("devices/meter-1/messages/events/", b"21.5", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: service.payloads() == [b"21.5"])
    service.paho.publish("devices/meter-1/messages/devicebound/", b"reboot", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: device.payloads() == [b"reboot"])
    spoof = service.paho.publish("devices/meter-1/messages/events/", b"forged", qos=1)
    assert hub.wait_until(lambda: spoof.mid in service.pubacks)
    assert service.pubacks[spoof.mid].value == 0x87
    assert not device.disconnected.is_set()

    api(warden, "DELETE", "/api/v1/tenants/default/shared-access-policies/backend")
    assert service.disconnected.wait(10)
    assert service.disconnect_reason.value == 0x98
    service.paho.loop_stop()
    device.stop()


def test_policy_without_service_connect_and_wrong_key_are_refused(warden):
    reader = api(warden, "POST", "/api/v1/tenants/default/shared-access-policies",
                 {"name": "reader", "permissions": ["registryRead"]})
    client = service_client(warden, "reader", reader["keys"]["primaryKey"], "app")
    assert client.start(warden.mqtt["mqtts"], host="localhost").value == 0x87
    client.paho.loop_stop()
    wrong = base64.b64encode(b"x" * 32).decode()
    client = service_client(warden, "reader", wrong, "app")
    assert client.start(warden.mqtt["mqtts"], host="localhost").value == 0x86
    client.paho.loop_stop()


def test_service_receives_cloud_to_device_feedback(warden):
    policy = api(warden, "POST", "/api/v1/tenants/default/shared-access-policies",
                 {"name": "backend", "permissions": ["serviceConnect"]})
    service = service_client(warden, "backend", policy["keys"]["primaryKey"], "feedback-reader")
    service.start(warden.mqtt["mqtts"], host="localhost")
    result, mid = service.paho.subscribe("$iothub/feedback/#", qos=1)
    assert hub.wait_until(lambda: mid in service.subacks)
    assert [code.value for code in service.subacks[mid]] == [1]

    hub.create_device(warden, "valve-9")
    device = hub.device_client(warden, "valve-9")
    device.start(warden.mqtt["mqtts"])
    device.paho.subscribe("devices/valve-9/messages/devicebound/#", qos=1)
    api(warden, "POST", "/api/v1/tenants/default/devices/valve-9/c2d",
        {"body": "open", "messageId": "m-9", "ack": "positive"})
    assert hub.wait_until(lambda: device.payloads() == [b"open"])
    assert hub.wait_until(lambda: len(service.messages) == 1)
    message = service.messages[0]
    assert message.topic == "$iothub/feedback/valve-9"
    assert message.properties.ContentType == "application/vnd.microsoft.iothub.feedback.json"
    [record] = json.loads(message.payload)
    assert record["originalMessageId"] == "m-9" and record["statusCode"] == "Success"
    assert record["deviceId"] == "valve-9"
    device.stop()
    service.stop()
