"""Writes the seed corpora of the fuzz targets other than the MQTT decoder's (run once; the files are committed).
Each seed is a small valid input, so that mutations start from the shapes that reach deep code."""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def write(folder: str, name: str, data: bytes | str):
    path = HERE / folder
    path.mkdir(exist_ok=True)
    (path / name).write_bytes(data.encode() if isinstance(data, str) else data)


def mqtt_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value % 128
        value //= 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def publish(topic: str, payload: bytes, qos: int = 1, packet_id: int = 1, v5: bool = False, props: bytes = b"") -> bytes:
    body = mqtt_string(topic) + (struct.pack(">H", packet_id) if qos else b"")
    if v5:
        body += varint(len(props)) + props
    return packet(0x30 | qos << 1, body + payload)


def subscribe(topic: str, qos: int = 1, packet_id: int = 2, v5: bool = False) -> bytes:
    return packet(0x82, struct.pack(">H", packet_id) + (b"\x00" if v5 else b"") + mqtt_string(topic) + bytes([qos]))


def unsubscribe(topic: str, packet_id: int = 3, v5: bool = False) -> bytes:
    return packet(0xA2, struct.pack(">H", packet_id) + (b"\x00" if v5 else b"") + mqtt_string(topic))


# SAS tokens, usernames, property bags, time texts.
write("sas", "device", "SharedAccessSignature sr=hub.example%2Fdevices%2Fdev-1&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&se=1800000000")
write("sas", "policy", "SharedAccessSignature sr=hub.example&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&se=1800000000&skn=service")
write("sas", "resource", "hub.example/devices/dev-1")
write("username", "azure", "hub.example/dev-1/?api-version=2021-04-12&DeviceClientType=py")
write("username", "legacy", "hub.example/dev-1/api-version=2016-11-14")
write("username", "plain", "hub.example/dev-1")
write("username", "service", "hub.example/$service/backend/?api-version=2021-04-12")
write("bag", "system", "%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8&a=1")
write("bag", "empty-value", "a=&b")
write("time", "age", "15m")
write("time", "iso", "2026-11-29T19:00:00Z")
write("time", "fraction", "2026-11-29T19:00:00.123+01:00")
write("time", "plain", "1.5e3")
# Form text: the first byte chooses percent-decoding (0), a form (1) or a page cursor (2).
write("form", "percent", b"\x00a%2Fb%E2%9C%93+c")
write("form", "token-request", b"\x01grant_type=client_credentials&client_id=svc%3A1&client_secret=s+e%2Bcret&scope=")
write("form", "cursor", b"\x02ZGV2LTAwMDE")
# Topic filter NUL topic.
write("topic", "plus", b"sport/+/player1\x00sport/tennis/player1")
write("topic", "hash", b"devices/+/messages/events/#\x00devices/d/messages/events/a=1")
write("topic", "share", b"$share/g/a/#\x00a/b")
write("topic", "system", b"#\x00$SYS/broker/uptime")
# JSON: twin patches.
write("json", "patch", '{"temperature": 21.5, "fw": {"version": "1.2.3", "slots": [1, 2, null]}, "gone": null}')
write("json", "nested", '{"a": {"b": {"c": {"d": [{"e": true}]}}}}')
write("json", "escapes", '{"k\\u00e9y": "v\\"al\\\\ue", "n": -1.5e-3}')
# Connection: version byte, read size, then what the device sends (0xFE advances the clock 30 s).
events = "devices/dev-1/messages/events/a=1&%24.ct=application%2Fjson"
v311 = (publish(events, b'{"t": 1}') + subscribe("devices/dev-1/messages/devicebound/#")
        + subscribe("$iothub/twin/res/#", packet_id=4) + publish("$iothub/twin/GET/?$rid=1", b"", packet_id=5)
        + publish("devices/dev-1/messages/devicebound/x", b"self", packet_id=6)
        + packet(0xC0, b"") + unsubscribe("devices/dev-1/messages/devicebound/#")
        + publish(events, b"two", qos=2, packet_id=7) + packet(0x62, struct.pack(">H", 7))
        + b"\xfe" + packet(0xC0, b"") + packet(0xE0, b""))
write("connection", "v311", bytes([0, 255]) + v311)
write("connection", "v311-one-byte-reads", bytes([0, 0]) + v311)
alias = b"\x23\x00\x01"  # Topic Alias 1
v5 = (publish(events, b"aliased", v5=True, props=alias) + publish("", b"by alias", packet_id=2, v5=True, props=alias)
      + subscribe("devices/dev-1/messages/devicebound/#", v5=True)
      + publish("devices/dev-1/messages/devicebound/y", b"to self", packet_id=9, v5=True)
      + packet(0x40, struct.pack(">H", 1))
      + b"\xfe\xfe" + packet(0xE0, b"\x00\x00"))
write("connection", "v5", bytes([1, 255]) + v5)
auth = packet(0xF0, b"\x19" + varint(5 + 3 + 3) + b"\x15" + mqtt_string("SAS") + b"\x16" + mqtt_string("abc"))
write("connection", "v5-auth", bytes([3, 255]) + auth + b"\xfe" + packet(0xC0, b""))
# TLS: an even first byte, a read size, then a client's first bytes (a ClientHello as Python's ssl writes it,
# TLS 1.2 and 1.3 offered); an odd first byte, then a script: each byte's value modulo 12 an operation (0 the client
# writes, 1 it flushes, 2 and 3 the server writes, 4 it flushes, 5 and 6 bytes go to the server, 7 to the client,
# 8 and 9 the server closes, 10 the client closes, 11 a byte to the server is flipped).
import ssl  # noqa: E402

hello_bio, _ = ssl.MemoryBIO(), None
client = ssl.create_default_context()
client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
connection = client.wrap_bio(ssl.MemoryBIO(), hello_bio)
try:
    connection.do_handshake()
except ssl.SSLWantReadError:
    pass
write("tls", "client-hello", bytes([0, 255]) + hello_bio.read())
handshake = bytes([5, 7, 5, 7, 5])
write("tls", "echo-then-close", bytes([1]) + handshake + bytes([12, 1, 5, 2, 7, 8, 5, 7]))
write("tls", "small-writes-then-half-close", bytes([1]) + handshake + bytes([3, 15, 27, 4, 7, 9, 10, 5]))
write("tls", "data-in-pieces-then-flip", bytes([1]) + handshake + bytes([24, 1, 6, 6, 6, 11, 7]))
