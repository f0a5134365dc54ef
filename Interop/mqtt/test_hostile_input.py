"""Hostile input (issue 13): what one device with its own key, one signed-in user or one network peer sends
must never stop the hub. Each test sends what once crashed or hung the process, then proves that the hub
still serves a well-behaved client (and the process is still running)."""
import base64
import hashlib
import hmac
import select
import socket
import ssl
import threading
import time
import urllib.parse

import paho.mqtt.client as mqtt

import hub
import wire


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


def websocket_upgrade(warden, source: str = "127.0.0.1") -> tuple[bytes, bytes, ssl.SSLSocket]:
    """A WebSocket upgrade to /mqtt with subprotocol mqtt from `source`: the answer's head, any bytes after it,
    and the socket."""
    raw = socket.create_connection(("127.0.0.1", https_port(warden)), timeout=10, source_address=(source, 0))
    connection = ssl.create_default_context(cafile=warden.ca).wrap_socket(raw, server_hostname="localhost")
    connection.sendall(b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                       b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(1024)
        if not chunk:
            break
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    return head, rest, connection


def test_one_address_flooding_mqtt_and_websocket_does_not_lock_out_others(warden_factory):
    """Connections from one address beyond its burst are closed before TLS on 8883 and with WebSocket close
    code 1013 (try again later) on 8443, while a device from another address connects over both."""
    warden = warden_factory({"mqtt.connect-rate-per-ip": 1, "mqtt.connect-burst-per-ip": 5})
    hub.create_device(warden, "calm-1")
    # The first five (in the order the server accepts them) wait for CONNECT; the rest are closed at once.
    flood = [socket.create_connection(("127.0.0.1", warden.mqtt["mqtts"]), timeout=1) for _ in range(10)]
    assert sum(closed(connection) for connection in flood) == 5, "connections beyond the burst stayed open"
    # Upgrades back to back (each answer is read later, so the bucket has no time to refill meanwhile).
    upgrades = [websocket_upgrade(warden) for _ in range(12)]
    refused = []
    for head, frame, connection in upgrades:
        assert head.startswith(b"HTTP/1.1 101"), head
        connection.settimeout(1)
        try:
            while len(frame) < 4:
                chunk = connection.recv(16)
                if not chunk:
                    break
                frame += chunk
        except TimeoutError:
            pass
        refused.append(frame[:1] == b"\x88" and frame[2:4] == (1013).to_bytes(2, "big"))
        connection.close()
    assert any(refused), "no WebSocket upgrade was refused with 1013"
    device = hub.device_client(warden, "calm-1")
    assert device.start(warden.mqtt["mqtts"], bind_address="127.0.0.2") == 0
    device.stop()
    over_websocket = hub.Client("calm-1", transport="websockets")
    over_websocket.paho.ws_set_options(path="/mqtt")
    over_websocket.paho.username_pw_set(hub.username("calm-1"), hub.token(warden, "calm-1"))
    over_websocket.paho.tls_set(ca_certs=warden.ca)
    assert over_websocket.start(https_port(warden), host="localhost", bind_address="127.0.0.2") == 0
    over_websocket.stop()
    assert_still_serving(warden)


def test_mqtt_connections_that_never_speak_are_closed(warden_factory):
    """Slowloris on 8883: no ClientHello, or a handshake and no CONNECT, is closed after the connect timeout,
    while a device connects and publishes meanwhile."""
    warden = warden_factory({"mqtt.connect-timeout": 2})
    hub.create_device(warden, "busy-1")
    silent = [socket.create_connection(("127.0.0.1", warden.mqtt["mqtts"]), timeout=10) for _ in range(20)]
    context = ssl.create_default_context(cafile=warden.ca)
    handshaken = context.wrap_socket(socket.create_connection(("127.0.0.1", warden.mqtt["mqtts"]), timeout=10),
                                     server_hostname="localhost")
    device = hub.device_client(warden, "busy-1")
    assert device.start(warden.mqtt["mqtts"]) == 0
    device.paho.publish("devices/busy-1/messages/events/", b"meanwhile", qos=1).wait_for_publish(10)
    for connection in silent + [handshaken]:
        assert closed(connection), "a connection that never sent CONNECT outlived the connect timeout"
    assert device.connected.is_set() and device.disconnect_reason is None
    device.stop()
    assert_still_serving(warden)


def still_open(connection: socket.socket) -> bool:
    """Whether the server has neither closed nor reset it by now (without waiting)."""
    connection.setblocking(False)
    try:
        return connection.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False


def mqtt_limit_hits(warden, limit: str) -> float:
    _, _, body = hub.api(warden, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("warden_mqtt_limit_hits_total") and f'limit="{limit}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_silent_mqtt_connections_are_bounded_per_address_and_in_total(warden_factory):
    """Many silent connections to 8883 from 1,500 loopback addresses (measured before: 3,000 such connections
    all stayed open and enough of them exhaust the process's file descriptors). Beyond the per-address and the
    total pending limits they are closed at accept, before TLS, and a connected device is not disturbed."""
    warden = warden_factory({"mqtt.max-pending-per-ip": 4, "mqtt.max-pending": 1000, "mqtt.connect-timeout": 60})
    port = warden.mqtt["mqtts"]
    hub.create_device(warden, "steady-1")
    device = hub.device_client(warden, "steady-1")
    assert device.start(port, bind_address="127.1.0.1") == 0
    # One address: one of five silent connections is closed at once (which one depends on the event loops).
    same = [socket.create_connection(("127.0.0.1", port), timeout=1) for _ in range(5)]
    time.sleep(0.5)
    assert sum(still_open(connection) for connection in same) == 4
    # 1,500 addresses, one each: the total holds 1,000 (the four above included) and closes the rest.
    spread = []
    for index in range(1500):
        address = f"127.0.{10 + index // 250}.{1 + index % 250}"
        spread.append(socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(address, 0)))
    time.sleep(1)
    open_now = sum(still_open(connection) for connection in spread)
    assert open_now == 996, f"{open_now} silent connections held instead of 996"
    assert mqtt_limit_hits(warden, "pending_per_ip") == 1
    assert mqtt_limit_hits(warden, "pending_total") == 504
    device.paho.publish("devices/steady-1/messages/events/", b"meanwhile", qos=1).wait_for_publish(10)
    assert device.connected.is_set() and device.disconnect_reason is None
    # When the silent connections go, their places free at once: a new device connects.
    for connection in same + spread:
        connection.close()
    hub.create_device(warden, "steady-2")
    time.sleep(1)
    late = hub.device_client(warden, "steady-2")
    assert late.start(port, bind_address="127.1.0.2") == 0
    late.stop()
    device.stop()
    assert_still_serving(warden)


def test_a_body_that_trickles_in_is_cut_off_at_the_request_timeout(warden_factory):
    """A body sent a byte at a time, each inside the idle timeout, once held its connection forever."""
    warden = warden_factory({"https.request-timeout": 3, "https.idle-timeout": 2})
    token = (warden.data_dir / "admin.token").read_text().strip()
    with tls_socket(warden) as connection:
        connection.sendall(f"POST /api/v1/tenants/default/devices HTTP/1.1\r\nHost: localhost\r\n"
                           f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: 100\r\n\r\n".encode())
        started = time.monotonic()
        try:
            for _ in range(20):
                connection.sendall(b" ")
                time.sleep(1)
            cut = False
        except OSError:
            cut = True
        assert cut or closed(connection), "a trickling body outlived the request timeout"
        assert time.monotonic() - started < 15
    assert_still_serving(warden)


def test_a_client_that_sends_without_reading_is_not_read_until_it_reads(warden_factory):
    """PINGREQs from a client that never reads: each PINGRESP queued for it once grew the hub's memory with what
    the client sent (50 MB of PINGREQs: +55 MB resident, and the client never had to wait). Now, once its
    answers fill the socket's buffers, the hub reads nothing more from it until it reads; then it goes on."""
    warden = warden_factory({"mqtt.plain.enabled": "true", "mqtt.plain.port": 0,
                             "mqtt.plain.anonymous": "publish-subscribe"})
    flood = socket.create_connection(("127.0.0.1", warden.mqtt["mqtt"]), timeout=10)
    # Small buffers on this side, so that the hub's (its socket's, ~4 MiB here, and its own) fill first.
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    flood.sendall(wire.connect("flood", keep_alive=600))
    assert flood.recv(4) == b"\x20\x02\x00\x00"
    flood.setblocking(False)
    pings = memoryview(b"\xc0\x00" * 32768)

    sent = 0

    def send_until_stalled(limit: int) -> int:
        """Sends PINGREQs until the hub takes nothing for 3 s or `limit` bytes went in all; returns the total."""
        nonlocal sent
        progress = time.monotonic()
        while sent < limit and time.monotonic() - progress < 3:
            if select.select([], [flood], [], 0.5)[1]:
                try:
                    sent += flood.send(pings[sent % len(pings):])
                    progress = time.monotonic()
                except BlockingIOError:
                    pass
        return sent

    assert send_until_stalled(64 * 1024 * 1024) < 64 * 1024 * 1024, "the hub read on from a client reading nothing"
    assert mqtt_limit_hits(warden, "unread_client") >= 1
    # Another client is served meanwhile.
    assert_still_serving(warden)
    # The client reads its answers from now on: the hub reads from it again.
    received = []

    def drain():
        while True:
            if not select.select([flood], [], [], 1)[0]:
                continue
            try:
                chunk = flood.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not chunk:
                return
            received.append(len(chunk))

    threading.Thread(target=drain, daemon=True).start()
    target = sent + 64 * 1024
    assert send_until_stalled(target) == target
    assert sum(received) > 0
    flood.shutdown(socket.SHUT_RDWR)
    flood.close()
