"""AMQP over WebSocket on the HTTPS port (the AMQP WebSocket Binding, subprotocol `AMQPWSB10`), as the Azure IoT C
and C# SDKs dial it on 443 where 5671 is blocked. uamqp 1.6.11 (uAMQP-C, the C SDK's AMQP stack with its own
WebSocket layer; it asks for `/$servicebus/websocket/`) sends and receives through it; raw upgrades show the C SDK's
path `/$iothub/websocket`, the subprotocol and the framing, and what hostile frames get."""
import base64
import json
import os
import re
import socket
import ssl
import struct

import uamqp
from uamqp import authentication
from uamqp.constants import TransportType

from certificates import issue, make_ca
from helpers import frame, stored

SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def https_port(warden) -> int:
    return int(warden.url.rsplit(":", 1)[1])


def token_auth(warden, device_id: str, token: str, uri: str) -> authentication.SASTokenAuth:
    return authentication.SASTokenAuth(
        audience=f"localhost/devices/{device_id}", uri=uri, token=token,
        expires_at=int(re.search(r"se=(\d+)", token).group(1)), port=https_port(warden), verify=warden.ca,
        token_type=b"servicebus.windows.net:sastoken", transport_type=TransportType.AmqpOverWebsocket)


def test_the_c_sdk_stack_sends_telemetry_over_websocket_in_order(warden):
    warden.cli("device", "create", "ws-meter")
    token = warden.cli("token", "ws-meter", "--ttl", "1h")
    uri = "amqps://localhost/devices/ws-meter/messages/events"
    client = uamqp.SendClient(uri, auth=token_auth(warden, "ws-meter", token, uri))
    for n in range(20):
        client.queue_message(uamqp.Message(json.dumps({"n": n}).encode(), application_properties={"n": str(n)}))
    assert client.send_all_messages(close_on_done=True) == [uamqp.constants.MessageState.SendComplete] * 20
    messages = stored(warden, "ws-meter")
    assert [json.loads(m["body"])["n"] for m in messages] == list(range(20))
    assert messages[7]["properties"] == {"n": "7"}


def test_the_c_sdk_stack_receives_cloud_to_device_messages_over_websocket(warden):
    warden.cli("device", "create", "ws-lamp")
    token = warden.cli("token", "ws-lamp", "--ttl", "1h")
    for n in range(2):
        warden.cli("c2d", "send", "ws-lamp", "--body", f"step {n}", "--ack", "positive")
    uri = "amqps://localhost/devices/ws-lamp/messages/devicebound"
    with uamqp.ReceiveClient(uri, auth=token_auth(warden, "ws-lamp", token, uri), timeout=5000, prefetch=10) as client:
        messages = client.receive_message_batch(max_batch_size=2, timeout=10000)
        for message in messages:
            message.accept()
        bodies = [b"".join(message.get_data()) for message in messages]
    assert bodies == [b"step 0", b"step 1"]
    assert json.loads(warden.cli("c2d", "list", "ws-lamp", "--json"))["items"] == []


def test_a_forged_token_over_websocket_sends_nothing(warden):
    warden.cli("device", "create", "ws-forged")
    token = warden.cli("token", "ws-forged", "--ttl", "1h")
    forged = re.sub(r"sig=[^&]+", "sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D", token)
    uri = "amqps://localhost/devices/ws-forged/messages/events"
    client = uamqp.SendClient(uri, auth=token_auth(warden, "ws-forged", forged, uri))
    client.queue_message(uamqp.Message(b"not from the device"))
    try:
        results = client.send_all_messages(close_on_done=True)
    except Exception as error:  # uamqp raises its own AuthenticationException
        results = [error]
    assert uamqp.constants.MessageState.SendComplete not in results
    assert stored(warden, "ws-forged") == []


def upgrade(warden, path: str, protocols: str, certificate=None) -> tuple[ssl.SSLSocket, bytes]:
    """A WebSocket upgrade request on the HTTPS port (with a client certificate and key, if given); the socket
    and the answer's head."""
    context = ssl.create_default_context(cafile=warden.ca)
    if certificate:
        context.load_cert_chain(*map(str, certificate))
    tls = context.wrap_socket(socket.create_connection(("127.0.0.1", https_port(warden)), timeout=10),
                              server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    tls.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {protocols}\r\n"
                 "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(1)
        if not chunk:
            break
        head += chunk
    return tls, head


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    length = bytes([0x80 | len(payload)]) if len(payload) < 126 else b"\xfe" + struct.pack(">H", len(payload))
    return bytes([0x80 | opcode]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(tls: ssl.SSLSocket) -> tuple[int, bytes]:
    """One server frame (unmasked): its opcode and payload."""
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = tls.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data
    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", exactly(8))[0]
    return first & 0x0F, exactly(length)


def test_the_c_sdk_path_and_subprotocol_carry_amqp_in_binary_frames(warden):
    tls, head = upgrade(warden, "/$iothub/websocket", "AMQPWSB10")
    assert head.startswith(b"HTTP/1.1 101") and b"sec-websocket-protocol: amqpwsb10" in head.lower()
    tls.sendall(ws_frame(0x2, SASL_HEADER))
    opcode, payload = read_frame(tls)
    assert opcode == 0x2 and payload.startswith(SASL_HEADER)  # the header, then its mechanisms frame
    # MQTT keeps its subprotocol on the same path.
    mqtt, head = upgrade(warden, "/$iothub/websocket", "mqtt")
    assert head.startswith(b"HTTP/1.1 101")
    mqtt.close()


def test_a_text_frame_closes_an_amqp_websocket_with_1003(warden):
    tls, head = upgrade(warden, "/$servicebus/websocket/", "AMQPWSB10")
    assert head.startswith(b"HTTP/1.1 101")
    tls.sendall(ws_frame(0x1, b"AMQP"))
    opcode, payload = read_frame(tls)
    assert opcode == 0x8 and struct.unpack(">H", payload[:2])[0] == 1003
    # The server serves on.
    again, head = upgrade(warden, "/$iothub/websocket", "AMQPWSB10")
    assert head.startswith(b"HTTP/1.1 101")
    again.close()


def test_an_unknown_subprotocol_or_path_is_not_upgraded(warden):
    for path, protocols in [("/$iothub/websocket", "amqp-but-not-really"), ("/api/v1/health", "AMQPWSB10")]:
        tls, head = upgrade(warden, path, protocols)
        assert not head.startswith(b"HTTP/1.1 101"), (path, protocols, head)
        tls.close()


def attach_with_certificate(warden, device_id: str, certificate) -> bytes:
    """SASL ANONYMOUS, open, begin and a sender's attach to the device's telemetry address, over WebSocket with a
    client certificate; what the server sends until it attaches (a flow gives credit) or detaches."""
    tls, head = upgrade(warden, "/$iothub/websocket", "AMQPWSB10", certificate)
    assert head.startswith(b"HTTP/1.1 101")
    address = f"/devices/{device_id}/messages/events".encode()
    target = b"\x00\x53\x29\xc0" + bytes([len(address) + 3, 1]) + b"\xa1" + bytes([len(address)]) + address
    tls.sendall(ws_frame(0x2, SASL_HEADER + frame(0x41, b"\xa3\x09ANONYMOUS", 1, sasl=True)
                         + b"AMQP\x00\x01\x00\x00" + frame(0x10, b"\xa1\x01x\xa1\x09localhost", 2)
                         + frame(0x11, b"\x40\x43\x70\x00\x00\x00\x64\x70\x00\x00\x00\x64", 4)
                         + frame(0x12, b"\xa1\x01l\x43\x42\x40\x40\x40" + target, 7)))
    received = b""
    while b"\x00\x53\x13" not in received and b"\x00\x53\x16" not in received:
        opcode, payload = read_frame(tls)
        assert opcode == 0x2
        received += payload
    tls.close()
    return received


def test_a_certificate_presented_to_the_https_port_proves_its_device_over_websocket(warden, tmp_path):
    make_ca(tmp_path, "fleet-ca")
    warden.cli("ca", "add", "fleet", "--certificate", str(tmp_path / "fleet-ca.pem"))
    proof, _ = issue(tmp_path, "fleet-ca", warden.cli("ca", "verification-code", "fleet"), "proof")
    warden.cli("ca", "verify", "fleet", "--certificate", str(proof))
    warden.cli("device", "create", "truck-7", "--auth", "x509-ca")
    accepted = attach_with_certificate(warden, "truck-7", issue(tmp_path, "fleet-ca", "truck-7", "truck-7"))
    assert b"\x00\x53\x13" in accepted and b"amqp:unauthorized-access" not in accepted
    # A certificate of the CA for another id does not prove truck-7.
    refused = attach_with_certificate(warden, "truck-7", issue(tmp_path, "fleet-ca", "truck-8", "impostor"))
    assert b"amqp:unauthorized-access" in refused


def test_the_policy_tells_amqp_over_websocket_apart(warden, tmp_path):
    """A statement with `protocols: [amqp-ws]` refuses telemetry over WebSocket only; on 5671 it is `amqp`."""
    warden.cli("device", "create", "ws-policy")
    token = warden.cli("token", "ws-policy", "--ttl", "1h")
    document = tmp_path / "policy.json"
    document.write_text(json.dumps({"statements": [
        {"id": "no-websocket-telemetry", "effect": "deny", "principals": {"devices": ["*"]}, "actions": ["publish"],
         "resources": ["devices/+/messages/events/#"], "conditions": {"protocols": ["amqp-ws"]}}]}))
    warden.cli("policy", "apply", str(document))
    uri = "amqps://localhost/devices/ws-policy/messages/events"
    over_websocket = uamqp.SendClient(uri, auth=token_auth(warden, "ws-policy", token, uri))
    over_websocket.queue_message(uamqp.Message(b"refused"))
    assert over_websocket.send_all_messages(close_on_done=True) == [uamqp.constants.MessageState.SendFailed]
    direct = authentication.SASTokenAuth(
        audience="localhost/devices/ws-policy", uri=uri, token=token,
        expires_at=int(re.search(r"se=(\d+)", token).group(1)), port=warden.amqp, verify=warden.ca,
        token_type=b"servicebus.windows.net:sastoken")
    over_tls = uamqp.SendClient(uri, auth=direct)
    over_tls.queue_message(uamqp.Message(b"stored"))
    assert over_tls.send_all_messages(close_on_done=True) == [uamqp.constants.MessageState.SendComplete]
    assert [m["body"] for m in stored(warden, "ws-policy")] == ["stored"]


def test_amqp_over_websocket_counts_against_the_endpoints_connections(warden_factory):
    """With room for one AMQP connection, a second upgrade is closed with 1013 (try again later)."""
    warden = warden_factory({"amqp.max-connections": "1"})
    first, head = upgrade(warden, "/$iothub/websocket", "AMQPWSB10")
    assert head.startswith(b"HTTP/1.1 101")
    second, head = upgrade(warden, "/$iothub/websocket", "AMQPWSB10")
    assert head.startswith(b"HTTP/1.1 101")
    opcode, payload = read_frame(second)
    assert opcode == 0x8 and struct.unpack(">H", payload[:2])[0] == 1013
    first.close()
