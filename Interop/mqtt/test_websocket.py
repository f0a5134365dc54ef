"""MQTT over WebSocket on the HTTPS port (issue 3, "Listeners"): paths `/mqtt` and `/$iothub/websocket`,
subprotocol `mqtt`, with paho-mqtt 2.2.0's WebSocket transport; the API keeps working on the same port."""
import http.client
import ssl
import urllib.error
import urllib.request

import paho.mqtt.client as mqtt
import pytest

import hub


def https_port(warden) -> int:
    return int(warden.url.rsplit(":", 1)[1])


@pytest.mark.parametrize("path", ["/mqtt", "/$iothub/websocket?iothub-no-client-cert=true"])
def test_device_over_websocket(warden, path):
    hub.create_device(warden, "meter-1")
    client = hub.Client("meter-1", mqtt.MQTTv311, transport="websockets")
    client.paho.ws_set_options(path=path)
    client.paho.username_pw_set(hub.username("meter-1"), hub.token(warden, "meter-1"))
    client.paho.tls_set(ca_certs=warden.ca)
    assert client.start(https_port(warden), host="localhost") == 0
    result, mid = client.paho.subscribe("devices/meter-1/messages/devicebound/#", qos=1)
    assert hub.wait_until(lambda: mid in client.subacks)
    client.paho.publish("devices/meter-1/messages/devicebound/ws", b"over websocket", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: client.payloads() == [b"over websocket"])
    client.stop()

    # The API on the same port still answers.
    context = ssl.create_default_context(cafile=warden.ca)
    with urllib.request.urlopen(warden.url + "/healthz", context=context) as response:
        assert response.status == 200


def test_other_paths_and_subprotocols_are_not_upgraded(warden):
    """Only MQTT paths with subprotocol `mqtt` switch protocols; any other upgrade request ends without 101."""
    context = ssl.create_default_context(cafile=warden.ca)
    for path, protocol in (("/chat", "mqtt"), ("/mqtt", "chat")):
        request = urllib.request.Request(
            warden.url + path,
            headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": protocol})
        try:
            with urllib.request.urlopen(request, context=context) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except http.client.RemoteDisconnected:
            status = None
        assert status != 101
