"""Writes ProtonCaptures.swift: bytes that python-qpid-proton 0.40.0 (a third-party AMQP 1.0 stack, in C)
encodes, so that WardenAMQP's decoder is checked against an encoder it does not share. Run once, by hand:
    python3 -m venv /tmp/venv-proton && /tmp/venv-proton/bin/pip install python-qpid-proton==0.40.0
    /tmp/venv-proton/bin/python Tests/WardenAMQPTests/Captures/capture.py
It also writes the AMQP fuzz target's seeds (Fuzz/Corpus/amqp/: a first byte choosing stream, message or
value, a second byte the read size). The output is committed; nothing runs this at build or test time."""
import pathlib
import uuid

from proton import (Data, Message, symbol, ubyte, ushort, uint, ulong, byte, short, int32, char, timestamp,
                    Described, Array, UNDESCRIBED, Connection, Transport, Endpoint, Collector)

HERE = pathlib.Path(__file__).resolve().parent
captures = []


def data_of(value) -> bytes:
    d = Data()
    d.put_object(value)
    return d.encode()


values = {
    "null": None, "true": True, "false": False, "ubyte": ubyte(200), "ushort": ushort(65000),
    "uint0": uint(0), "smalluint": uint(7), "uint": uint(4_000_000_000), "ulong0": ulong(0),
    "smallulong": ulong(9), "ulong": ulong(2**63 + 5), "byte": byte(-5), "short": short(-300),
    "smallint": int32(-7), "int": int32(-70000), "smalllong": -3, "long": -(2**40), "double": 1.5,
    "char": char("✓"), "timestamp": timestamp(1_800_000_000_123), "uuid": uuid.UUID("12345678-9abc-def0-1122-334455667788"),
    "binary": b"\x00\x01\xff", "string": "héllo", "long_string": "x" * 300, "symbol": symbol("amqp:accepted:list"),
    "list": [uint(1), "two", [None, True]], "map": {symbol("k"): "v", "n": ulong(3)},
    "symbol_array": Array(UNDESCRIBED, Data.SYMBOL, symbol("MSSBCBS"), symbol("ANONYMOUS")),
    "described": Described(ulong(0x24), []),
}
for name, value in values.items():
    captures.append((f"value_{name}", data_of(value)))

message = Message(
    id="msg-1", correlation_id=uuid.UUID("00000000-0000-0000-0000-000000000042"), content_type="application/json",
    content_encoding="utf-8", reply_to="cbs", address="$cbs", subject="s", creation_time=1_800_000_000.5,
    properties={"operation": "put-token", "type": "servicebus.windows.net:sastoken", "n": 7},
    annotations={symbol("iothub-interface-id"): "dtmi:x;1"}, durable=True, ttl=60.0,
    body=b'{"temperature": 21.5}')
captures.append(("message_data", message.encode()))
captures.append(("message_value_string", Message(body="SharedAccessSignature sr=x&sig=y&se=1").encode()))


def pump(a: Transport, b: Transport, log: list):
    """Moves bytes between two in-memory transports until both are quiet; logs what the client wrote."""
    while True:
        moved = False
        for source, sink, is_client in ((a, b, True), (b, a, False)):
            pending = source.pending()
            if pending > 0:
                out = source.peek(pending)
                source.pop(pending)
                if is_client:
                    log.append(out)
                sink.push(out)
                moved = True
        if not moved:
            return


client, server = Transport(), Transport(Transport.SERVER)
client_connection, server_connection = Connection(), Connection()
client_connection.container = "device-1"
client_connection.hostname = "hub.example"
server_collector = Collector()
server_connection.collect(server_collector)
client.bind(client_connection)
server.bind(server_connection)
client_log = []
client_connection.open()
session = client_connection.session()
session.open()
sender = session.sender("telemetry")
sender.target.address = "amqps://hub.example/devices/device-1/messages/events"
sender.open()
pump(client, server, client_log)
server_connection.open()
for s in [server_connection.session_head(0)]:
    s.open()
link = server_connection.link_head(0)
link.open()
link.flow(10)
pump(client, server, client_log)
delivery = sender.delivery(b"tag-1")
sender.send(Message(body=b"21.5", properties={"a": "1"}).encode())
sender.advance()
pump(client, server, client_log)
captures.append(("client_frames", b"".join(client_log)))

lines = ["// Written by Captures/capture.py (python-qpid-proton 0.40.0); do not edit.", "",
         "enum ProtonCaptures {"]
for name, blob in captures:
    camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
    lines.append(f"    static let {camel}: [UInt8] = [")
    for start in range(0, len(blob), 16):
        chunk = ", ".join(f"0x{b:02X}" for b in blob[start:start + 16])
        lines.append(f"        {chunk},")
    lines.append("    ]")
lines.append("}")
(HERE.parent / "ProtonCaptures.swift").write_text("\n".join(lines) + "\n")
seeds = HERE.parents[2] / "Fuzz" / "Corpus" / "amqp"
seeds.mkdir(parents=True, exist_ok=True)
named = dict(captures)
for name, prefix, capture in [("stream", b"\x00\xff", "client_frames"), ("stream-small-reads", b"\x00\x02", "client_frames"),
                              ("message", b"\x01\x00", "message_data"), ("cbs-token", b"\x01\x00", "message_value_string"),
                              ("list", b"\x02\x00", "value_list"), ("map", b"\x02\x00", "value_map"),
                              ("symbols", b"\x02\x00", "value_symbol_array")]:
    (seeds / name).write_bytes(prefix + named[capture])
print("wrote", len(captures), "captures")


def frames_after_begin(stream: bytes) -> bytes:
    """The frames a client sent after its header, `open` and `begin`: what follows the AMQP connection
    fuzzer's own prologue (which authenticates `dev-1` and begins a session on channel 0)."""
    assert stream[:8] == b"AMQP\x00\x01\x00\x00"
    position, skipped = 8, 0
    while skipped < 2:
        position += int.from_bytes(stream[position:position + 4], "big")
        skipped += 1
    return stream[position:]


def device_stream(build) -> bytes:
    """What a proton client writes while `build(session)` attaches links and sends; the server side grants
    every link credit."""
    client, server = Transport(), Transport(Transport.SERVER)
    client_connection, server_connection = Connection(), Connection()
    client_connection.container = "dev-1"
    client_connection.hostname = "hub.example"
    client.bind(client_connection)
    server.bind(server_connection)
    log = []
    client_connection.open()
    session = client_connection.session()
    session.open()
    send = build(session)
    pump(client, server, log)
    server_connection.open()
    server_connection.session_head(0).open()
    link = server_connection.link_head(0)
    while link:
        link.open()
        if link.is_receiver:
            link.flow(10)
        link = link.next(0)
    pump(client, server, log)
    send()
    pump(client, server, log)
    return b"".join(log)


def sending(link, message: Message):
    def send():
        link.delivery(b"tag-1")
        link.send(message.encode())
        link.advance()
    return send


def telemetry(session):
    sender = session.sender("telemetry")
    sender.target.address = "amqps://hub.example/devices/dev-1/messages/events"
    sender.open()
    return sending(sender, Message(body=b"21.5", properties={"a": "1"}, annotations={symbol("iothub-app-x"): "y"}))


def cloud_to_device(session):
    receiver = session.receiver("c2d")
    receiver.source.address = "amqps://hub.example/devices/dev-1/messages/devicebound"
    receiver.open()
    return lambda: receiver.flow(5)


def twin(session):
    correlation = {symbol("com.microsoft:channel-correlation-id"): "twin:fuzz"}
    sender, receiver = session.sender("twin-sender"), session.receiver("twin-receiver")
    for link in (sender, receiver):
        link.properties = correlation
        (link.target if link is sender else link.source).address = "amqps://hub.example/devices/dev-1/twin"
        link.open()
    return sending(sender, Message(correlation_id="r-1", body=b"{\"firmware\": \"1.2\"}",
                                   annotations={symbol("operation"): "PATCH", symbol("resource"): "/properties/reported"}))


def methods(session):
    correlation = {symbol("com.microsoft:channel-correlation-id"): "methods:fuzz"}
    receiver, sender = session.receiver("methods-receiver"), session.sender("methods-sender")
    for link in (receiver, sender):
        link.properties = correlation
        (link.target if link is sender else link.source).address = "amqps://hub.example/devices/dev-1/methods/devicebound"
        link.open()
    return sending(sender, Message(correlation_id=uuid.UUID(int=7), body=b"{}",
                                   properties={"IoThub-status": 200}))


def claims_based_security(session):
    sender, receiver = session.sender("cbs-sender"), session.receiver("cbs-receiver")
    sender.target.address, receiver.source.address = "$cbs", "$cbs"
    sender.open()
    receiver.open()
    return sending(sender, Message(
        body="SharedAccessSignature sr=hub.example%2Fdevices%2Fdev-1&sig=AAAA&se=4102444800", reply_to="cbs",
        id="put-1", properties={"operation": "put-token", "type": "servicebus.windows.net:sastoken",
                                        "name": "hub.example/devices/dev-1"}))


# The AMQP connection fuzzer's seeds (Fuzz/Corpus/amqpconnection/): a first byte choosing whether the stream
# follows the fuzzer's prologue (1) or starts the connection (0), a second byte the read size.
connection_seeds = HERE.parents[2] / "Fuzz" / "Corpus" / "amqpconnection"
connection_seeds.mkdir(parents=True, exist_ok=True)
(connection_seeds / "unauthenticated-telemetry").write_bytes(b"\x00\xff" + named["client_frames"])
(connection_seeds / "cbs-put-token").write_bytes(b"\x00\x40" + device_stream(claims_based_security))
for name, build in [("telemetry", telemetry), ("cloud-to-device", cloud_to_device), ("twin", twin),
                    ("methods", methods), ("cbs-after-plain", claims_based_security)]:
    (connection_seeds / name).write_bytes(b"\x01\xff" + frames_after_begin(device_stream(build)))
print("wrote the connection fuzzer's seeds")
