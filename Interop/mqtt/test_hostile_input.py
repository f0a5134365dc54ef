"""Hostile input (issue 13): what one device with its own key, one signed-in user or one network peer sends
must never stop the hub. Each test sends what once crashed or hung the process, then proves that the hub
still serves a well-behaved client (and the process is still running)."""
import base64
import hashlib
import hmac
import socket
import ssl
import time
import urllib.parse

import paho.mqtt.client as mqtt

import hub


def device_key(warden, device_id: str) -> bytes:
    fields = dict(part.split("=", 1) for part in warden.cli("device", "connection-string", device_id).split(";"))
    return base64.b64decode(fields["SharedAccessKey"])


def signed_token(warden, device_id: str, expiry: int) -> str:
    """A token the device signs itself, with whatever `se` it likes."""
    resource = urllib.parse.quote(f"localhost/devices/{device_id}", safe="")
    signature = hmac.new(device_key(warden, device_id), f"{resource}\n{expiry}".encode(), hashlib.sha256).digest()
    return (f"SharedAccessSignature sr={resource}&sig={urllib.parse.quote(base64.b64encode(signature), safe='')}"
            f"&se={expiry}")


def assert_still_serving(warden):
    assert warden.process.poll() is None, "the hub exited"
    status, _, _ = hub.api(warden, "/api/v1/tenants")
    assert status == 200
    hub.create_device(warden, f"witness-{time.monotonic_ns()}")


def https_port(warden) -> int:
    return int(warden.url.rsplit(":", 1)[1])


def test_a_token_expiring_after_year_292_billion_connects(warden):
    """`se` ≥ 2^63 once trapped converting to Int64 when the credential deadline was computed."""
    hub.create_device(warden, "far-1")
    for version in (mqtt.MQTTv311, mqtt.MQTTv5):
        for expiry in (2**63, 2**64 - 1, 20_000_000_000):
            client = hub.device_client(warden, "far-1", version, password=signed_token(warden, "far-1", expiry))
            assert client.start(warden.mqtt["mqtts"]) == 0
            client.stop()
    assert_still_serving(warden)


def twin_device(warden, device_id: str, version: int) -> hub.Client:
    """A new device, connected and listening for twin answers."""
    hub.create_device(warden, device_id)
    device = hub.device_client(warden, device_id, version)
    assert device.start(warden.mqtt["mqtts"]) == 0
    result, mid = device.paho.subscribe("$iothub/twin/res/#", qos=1)
    assert hub.wait_until(lambda: mid in device.subacks)
    return device


def test_a_twin_request_id_too_long_to_echo_is_refused(warden):
    """The answer's topic repeats `$rid`: 65,000 bytes of it once made a topic MQTT cannot encode."""
    device = twin_device(warden, "twin-rid", mqtt.MQTTv5)
    info = device.paho.publish("$iothub/twin/GET/?$rid=" + "a" * 65_000, b"", qos=1)
    assert hub.wait_until(lambda: info.mid in device.pubacks)
    assert device.pubacks[info.mid].is_failure
    device.paho.publish("$iothub/twin/GET/?$rid=7", b"", qos=1)
    assert hub.wait_until(lambda: any(m.topic == "$iothub/twin/res/200/?$rid=7" for m in device.messages))
    device.stop()
    assert_still_serving(warden)


def test_https_telemetry_properties_too_long_for_a_topic_are_refused(warden):
    hub.create_device(warden, "big-bag")
    listener = hub.device_client(warden, "big-bag")
    assert listener.start(warden.mqtt["mqtts"]) == 0
    listener.paho.subscribe("devices/big-bag/messages/events/#", qos=1)
    token = hub.token(warden, "big-bag")
    status, _, body = hub.https(warden, "POST", "/devices/big-bag/messages/events?api-version=2020-03-13",
                                {"Authorization": token, "iothub-app-x": "/" * 26_000}, b"x")
    assert status == 400, body
    status, _, _ = hub.https(warden, "POST", "/devices/big-bag/messages/events?api-version=2020-03-13",
                             {"Authorization": token, "iothub-app-x": "small"}, b"y")
    assert status == 204
    assert hub.wait_until(lambda: listener.payloads() == [b"y"])
    listener.stop()
    assert_still_serving(warden)


def test_cloud_to_device_properties_too_long_for_a_topic_are_refused(warden):
    """Stored first, delivered later: such a message once crashed the hub at every reconnect of its device."""
    hub.create_device(warden, "big-c2d")
    status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/big-c2d/c2d", "POST",
                              {"body": "", "properties": {"k": "a" * 65_460}})
    assert status == 413 and b"c2d.too_large" in body, body
    status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/big-c2d/c2d")
    assert status == 200 and b'"items":[]' in body.replace(b" ", b"")
    assert_still_serving(warden)


def test_time_ranges_beyond_any_clock_are_refused(warden):
    hub.create_device(warden, "ranges")
    for query in ("from=1e300", "from=inf", "to=1e300d", "from=nan"):
        for path in ("/api/v1/tenants/default/devices/ranges/telemetry",
                     "/api/v1/tenants/default/devices/ranges/telemetry/export", "/api/v1/audit"):
            status, _, body = hub.api(warden, f"{path}?{query}")
            assert status == 400 and b"request.invalid_query" in body, (path, query, body)
    assert_still_serving(warden)


def test_a_twin_patch_nested_deeper_than_ten_levels_is_refused(warden):
    device = twin_device(warden, "deep-twin", mqtt.MQTTv311)
    deep = '{"a":' * 12 + "1" + "}" * 12
    device.paho.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", deep, qos=1)
    device.paho.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", "[" * 60_000, qos=1)
    device.paho.publish("$iothub/twin/PATCH/properties/reported/?$rid=3", '{"fine": 1}', qos=1)
    assert hub.wait_until(lambda: len(device.messages) == 3)
    assert [m.topic.split("/?")[0] for m in device.messages] == ["$iothub/twin/res/400"] * 2 + ["$iothub/twin/res/204"]
    device.stop()
    assert_still_serving(warden)


def tls_socket(warden) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=warden.ca)
    return context.wrap_socket(socket.create_connection(("127.0.0.1", https_port(warden)), timeout=10),
                               server_hostname="localhost")


def test_a_header_block_over_the_limit_is_answered_431(warden):
    """A 200 KB header once got no answer at all: the first request's decoding error went nowhere."""
    with tls_socket(warden) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431"), answer
    with tls_socket(warden) as connection:
        connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 400")
    assert_still_serving(warden)


def closed(connection: socket.socket) -> bool:
    """Whether the server closed it (an orderly end or a reset) within the socket's timeout."""
    try:
        return connection.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def test_connections_that_never_finish_a_request_are_closed_and_bounded(warden_factory):
    """Slowloris on 8443: silent TCP connections and half-sent headers are closed after the first-request
    timeout, and one address cannot hold more than its share meanwhile."""
    warden = warden_factory({"https.first-request-timeout": 2, "https.max-pending-per-ip": 9})
    silent = [socket.create_connection(("127.0.0.1", https_port(warden)), timeout=10) for _ in range(8)]
    half = tls_socket(warden)
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    # Beyond the per-address limit a connection is closed at once (before TLS).
    extra = socket.create_connection(("127.0.0.1", https_port(warden)), timeout=10)
    assert closed(extra)
    for connection in silent + [half]:
        assert closed(connection), "a connection outlived the first-request timeout"
    assert_still_serving(warden)
