"""Devices authenticate at CONNECT over TLS with SAS tokens (issue 3, "Authentication at CONNECT"), checked with
paho-mqtt 2.2.0, mosquitto's clients and exact CONNACK bytes."""
import socket
import ssl
import subprocess
import time

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

import hub
import wire


def connack_bytes(warden, client_id: str, user: str, password: str, version: int = 4) -> bytes:
    connection = wire.Connection(warden.mqtt["mqtts"], ca=warden.ca)
    connection.send(wire.connect(client_id, version=version, username=user, password=password))
    first, body = connection.read()
    assert first == 0x20
    connection.close()
    return body


def test_device_connects_publishes_and_subscribes_in_its_namespace(warden):
    hub.create_device(warden, "meter-1")
    for version in (mqtt.MQTTv311, mqtt.MQTTv5):
        client = hub.device_client(warden, "meter-1", version)
        assert client.start(warden.mqtt["mqtts"], host="localhost") == 0
        result, mid = client.paho.subscribe("devices/meter-1/messages/devicebound/#", qos=1)
        assert result == 0 and hub.wait_until(lambda: mid in client.subacks)
        assert [code.value for code in client.subacks[mid]] == [1]
        info = client.paho.publish("devices/meter-1/messages/devicebound/x", b"hello", qos=1)
        info.wait_for_publish(10)
        assert hub.wait_until(lambda: client.payloads() == [b"hello"])
        client.stop()


def test_a_refused_connection_closes_without_waiting_for_the_clients_close_notify(warden):
    """CONNACK, then the server's close_notify and its FIN, at once: like mosquitto, Warden does not wait for the
    client's close_notify (swift-nio-ssl would, up to 5 s; ten thousand connections ended by one policy change
    then waited on ten thousand clients)."""
    connection = wire.TransportView(warden.mqtt["mqtts"], ca=warden.ca)
    connection.send(wire.connect("ghost", username=hub.username("ghost"), password="SharedAccessSignature sr=x"))
    plaintext, close_notify = connection.read_until_fin(timeout=3)
    connection.close()
    assert plaintext == bytes([0x20, 0x02, 0x00, 0x04]) and close_notify


def test_wrong_key_and_unknown_device_get_the_same_answer(warden):
    hub.create_device(warden, "meter-1")
    good = hub.token(warden, "meter-1")
    tampered = good.replace("sig=", "sig=AAAA")
    user = hub.username("meter-1")
    # 3.1.1 return code 4 (bad user name or password) for both, byte for byte.
    assert connack_bytes(warden, "meter-1", user, tampered) == b"\x00\x04"
    assert connack_bytes(warden, "ghost", hub.username("ghost"), good.replace("meter-1", "ghost")) == b"\x00\x04"
    # 5.0 reason 0x86.
    assert connack_bytes(warden, "meter-1", user, tampered, version=5)[:2] == b"\x00\x86"


def test_disabled_device_is_not_authorized(warden):
    hub.create_device(warden, "meter-1")
    token = hub.token(warden, "meter-1")
    warden.cli("device", "disable", "meter-1")
    assert connack_bytes(warden, "meter-1", hub.username("meter-1"), token) == b"\x00\x05"
    assert connack_bytes(warden, "meter-1", hub.username("meter-1"), token, version=5)[:2] == b"\x00\x87"


def test_client_id_must_be_the_device_and_wildcards_widen_nothing(warden):
    hub.create_device(warden, "meter-1")
    token = hub.token(warden, "meter-1")
    for client_id in ("+", "#", "meter-2"):
        assert connack_bytes(warden, client_id, hub.username("meter-1"), token) == b"\x00\x05"


def test_denied_publish_and_subscribe(warden):
    hub.create_device(warden, "meter-1")
    client = hub.device_client(warden, "meter-1", mqtt.MQTTv5)
    client.start(warden.mqtt["mqtts"], host="localhost")
    result, mid = client.paho.subscribe("devices/meter-2/#", qos=1)
    assert hub.wait_until(lambda: mid in client.subacks)
    assert [code.value for code in client.subacks[mid]] == [0x87]
    info = client.paho.publish("devices/meter-2/messages/events/", b"x", qos=1)
    assert hub.wait_until(lambda: info.mid in client.pubacks)
    assert client.pubacks[info.mid].value == 0x87
    client.stop()

    # 3.1.1 cannot say no in PUBACK: the connection closes.
    old = hub.device_client(warden, "meter-1", mqtt.MQTTv311)
    old.start(warden.mqtt["mqtts"], host="localhost")
    result, mid = old.paho.subscribe("devices/meter-2/#", qos=1)
    assert hub.wait_until(lambda: mid in old.subacks)
    assert [code.value for code in old.subacks[mid]] == [0x80]
    old.paho.publish("devices/meter-2/messages/events/", b"x", qos=1)
    assert old.disconnected.wait(10)
    old.paho.loop_stop()


def test_disabling_a_connected_device_closes_its_connection(warden):
    hub.create_device(warden, "meter-1")
    client = hub.device_client(warden, "meter-1", mqtt.MQTTv5)
    client.start(warden.mqtt["mqtts"], host="localhost")
    started = time.monotonic()
    warden.cli("device", "disable", "meter-1")
    assert client.disconnected.wait(10)
    print(f"revocation took {time.monotonic() - started:.3f} s including the CLI round trip")
    assert client.disconnect_reason.value == 0x98
    client.paho.loop_stop()


def test_rotating_the_key_closes_the_connection(warden):
    hub.create_device(warden, "meter-1")
    client = hub.device_client(warden, "meter-1", mqtt.MQTTv311)
    client.start(warden.mqtt["mqtts"], host="localhost")
    warden.cli("device", "rotate-key", "meter-1")
    assert client.disconnected.wait(10)
    client.paho.loop_stop()


def test_second_connection_takes_the_session_over(warden):
    hub.create_device(warden, "meter-1")
    first = hub.device_client(warden, "meter-1", mqtt.MQTTv5)
    first.start(warden.mqtt["mqtts"], host="localhost")
    second = hub.device_client(warden, "meter-1", mqtt.MQTTv5)
    second.start(warden.mqtt["mqtts"], host="localhost")
    assert first.disconnected.wait(10)
    assert first.disconnect_reason.value == 0x8E
    first.paho.loop_stop()
    assert second.paho.is_connected()
    second.stop()


def test_connection_closes_when_the_token_expires(warden):
    hub.create_device(warden, "meter-1")
    client = hub.device_client(warden, "meter-1", mqtt.MQTTv5, password=hub.token(warden, "meter-1", ttl="3s"))
    client.start(warden.mqtt["mqtts"], host="localhost")
    assert client.disconnected.wait(15)
    assert client.disconnect_reason.value == 0x87
    client.paho.loop_stop()


def test_reauthentication_with_auth_keeps_the_connection(warden):
    hub.create_device(warden, "meter-1")
    connection = wire.Connection(warden.mqtt["mqtts"], ca=warden.ca)
    props = wire.properties([wire.string_property(0x15, "SAS")])
    connection.send(
        wire.connect("meter-1", version=5, username=hub.username("meter-1"),
                     password=hub.token(warden, "meter-1", ttl="3s"), keep_alive=0, props=props))
    first, body = connection.read()
    assert (first, body[:2]) == (0x20, b"\x00\x00")
    connection.send(wire.auth(0x19, "SAS", hub.token(warden, "meter-1", ttl="1h")))
    first, body = connection.read()
    assert (first, body[0]) == (0xF0, 0x00)
    # Past the first token's expiry the connection still answers PINGREQ.
    connection.socket.settimeout(6)
    time.sleep(4)
    connection.send(wire.packet(0xC0, b""))
    assert connection.read() == (0xD0, b"")
    connection.close()


def test_unknown_authentication_method_is_refused(warden):
    hub.create_device(warden, "meter-1")
    connection = wire.Connection(warden.mqtt["mqtts"], ca=warden.ca)
    props = wire.properties([wire.string_property(0x15, "SCRAM-SHA-1")])
    connection.send(wire.connect("meter-1", version=5, username=hub.username("meter-1"), props=props))
    first, body = connection.read()
    assert (first, body[:2]) == (0x20, b"\x00\x8c")
    connection.close()


def test_mosquitto_clients_with_sas(warden_factory):
    """mosquitto_pub publishes as a device over TLS with a SAS token; mosquitto_sub watches as an anonymous
    client of the plain loopback listener, which shares the default tenant's topics."""
    warden = warden_factory({"mqtt.plain.enabled": "true", "mqtt.plain.port": 0,
                             "mqtt.plain.anonymous": "subscribe"})
    hub.create_device(warden, "meter-1")
    subscriber = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(warden.mqtt["mqtt"]), "-t", "devices/+/messages/events/#",
         "-C", "1", "-W", "30", "-q", "1", "-v"],
        stdout=subprocess.PIPE, text=True)
    anonymous = hub.Client("watcher")
    anonymous.start(warden.mqtt["mqtt"])
    result, mid = anonymous.paho.subscribe("devices/+/messages/events/#", qos=1)
    assert hub.wait_until(lambda: mid in anonymous.subacks)
    # The subscriber is in once a second anonymous client's subscription is acknowledged after it started.
    time.sleep(0.5)
    publish = subprocess.run(
        ["mosquitto_pub", "-h", "localhost", "-p", str(warden.mqtt["mqtts"]), "--cafile", warden.ca, "-i", "meter-1",
         "-u", hub.username("meter-1"), "-P", hub.token(warden, "meter-1"), "-V", "mqttv311",
         "-t", "devices/meter-1/messages/events/", "-m", "from mosquitto", "-q", "1"],
        capture_output=True, text=True, timeout=30)
    assert publish.returncode == 0, publish.stderr
    output, _ = subscriber.communicate(timeout=40)
    assert output.strip() == "devices/meter-1/messages/events/ from mosquitto"
    assert hub.wait_until(lambda: anonymous.payloads() == [b"from mosquitto"])
    anonymous.stop()


def test_anonymous_clients_are_refused_on_tls_and_may_not_publish_when_subscribe_only(warden_factory):
    warden = warden_factory({"mqtt.plain.enabled": "true", "mqtt.plain.port": 0,
                             "mqtt.plain.anonymous": "subscribe"})
    connection = wire.Connection(warden.mqtt["mqtts"], ca=warden.ca)
    connection.send(wire.connect("anyone"))
    assert connection.read() == (0x20, b"\x00\x04")
    connection.close()
    client = hub.Client("anyone", mqtt.MQTTv5)
    client.start(warden.mqtt["mqtt"])
    info = client.paho.publish("a/b", b"x", qos=1)
    assert hub.wait_until(lambda: info.mid in client.pubacks)
    assert client.pubacks[info.mid].value == 0x87
    client.stop()


def test_x509_thumbprint_device_connects_with_its_certificate(warden, tmp_path):
    key, certificate = tmp_path / "device.key", tmp_path / "device.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", "/CN=cam-1"],
        check=True, capture_output=True)
    fingerprint = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-fingerprint", "-sha256"],
        check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    warden.cli("device", "create", "cam-1", "--auth", "x509-thumbprint", "--thumbprint", fingerprint)

    client = hub.Client("cam-1", mqtt.MQTTv311)
    client.paho.username_pw_set(hub.username("cam-1"))
    client.paho.tls_set(ca_certs=warden.ca, certfile=str(certificate), keyfile=str(key))
    assert client.start(warden.mqtt["mqtts"], host="localhost") == 0
    client.stop()

    # A client offering to resume its TLS session gets a full handshake, in which it presents its certificate
    # again (a resumed one would present none, and the device would be refused): the server hands out no ticket
    # (TLS 1.3 and 1.2) and keeps no session id (1.2).
    for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        context = ssl.create_default_context(cafile=warden.ca)
        context.maximum_version = version
        context.load_cert_chain(str(certificate), str(key))
        session = None
        for attempt in range(2):
            with context.wrap_socket(socket.create_connection(("127.0.0.1", warden.mqtt["mqtts"]), timeout=10),
                                     server_hostname="localhost", session=session) as tls:
                tls.sendall(wire.connect("cam-1", username=hub.username("cam-1")))
                assert tls.recv(4) == b"\x20\x02\x00\x00", (version, attempt)
                assert not tls.session_reused and tls.version() == version.name.replace("_", ".")
                session = tls.session
        assert session is not None and not session.has_ticket

    # The same device without its certificate is refused as bad credentials.
    stranger = hub.Client("cam-1", mqtt.MQTTv5)
    stranger.paho.username_pw_set(hub.username("cam-1"))
    stranger.paho.tls_set(ca_certs=warden.ca)
    assert stranger.start(warden.mqtt["mqtts"], host="localhost").value == 0x86
    stranger.paho.loop_stop()

    # Deleting the device closes its live connection.
    live = hub.Client("cam-1", mqtt.MQTTv5)
    live.paho.username_pw_set(hub.username("cam-1"))
    live.paho.tls_set(ca_certs=warden.ca, certfile=str(certificate), keyfile=str(key))
    live.start(warden.mqtt["mqtts"], host="localhost")
    warden.cli("device", "delete", "cam-1")
    assert live.disconnected.wait(10)
    assert live.disconnect_reason.value == 0x98
    live.paho.loop_stop()
