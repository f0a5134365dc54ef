"""Hostile AMQP input against the real binary, over TLS with raw bytes: what no AMQP library would send.
Each case ends with the connection closed, the condition named where the connection had opened, and the
server still serving."""
import socket
import ssl
import struct
import time

import pytest

from helpers import frame

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0", "amqp.authentication-timeout": "2"}


def connect(warden) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=warden.ca)
    raw = socket.create_connection(("127.0.0.1", warden.amqp), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def read_all(tls: ssl.SSLSocket) -> bytes:
    """Everything the server sends until it closes (or 10 s pass)."""
    received = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = tls.recv(65536)
        except (ssl.SSLError, ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        received += chunk
    return received


def opened(warden) -> ssl.SSLSocket:
    """SASL ANONYMOUS, AMQP header, open: a connection that has no device yet."""
    tls = connect(warden)
    tls.sendall(b"AMQP\x03\x01\x00\x00" + frame(0x41, b"\xa3\x09ANONYMOUS", 1, sasl=True))
    tls.sendall(b"AMQP\x00\x01\x00\x00" + frame(0x10, b"\xa1\x01x", 1))
    return tls


@pytest.mark.parametrize("attack, condition", [
    # Not AMQP at all: the server answers with the header it speaks and closes.
    (lambda w: b"GET / HTTP/1.1\r\n\r\n", None),
    # A frame claiming a gigabyte, before SASL is done.
    (lambda w: b"AMQP\x03\x01\x00\x00" + struct.pack(">IBBH", 1 << 30, 2, 1, 0), None),
    # A session on a channel past channel-max.
    (lambda w: frame(0x11, b"\x40\x43\x70\x00\x00\x00\x64\x70\x00\x00\x00\x64", 4, channel=9),
     b"amqp:resource-limit-exceeded"),
    # A transfer on a link never attached.
    (lambda w: frame(0x11, b"\x40\x43\x70\x00\x00\x00\x64\x70\x00\x00\x00\x64", 4)
     + frame(0x14, b"\x52\x05\x43\xa0\x01t", 3), b"amqp:session:unattached-handle"),
    # A list claiming more elements than its bytes hold.
    (lambda w: struct.pack(">IBBH", 14, 2, 0, 0) + b"\x00\x53\x11\xc0\x01\xff", b"amqp:decode-error"),
])
def test_hostile_bytes_close_the_connection_and_the_server_serves_on(warden_factory, attack, condition):
    warden = warden_factory(SETTINGS)
    tls = opened(warden) if condition else connect(warden)
    tls.sendall(attack(warden))
    answer = read_all(tls)
    if condition:
        assert condition in answer
    else:
        assert answer.startswith(b"AMQP")
    # Another connection is served as before.
    again = connect(warden)
    again.sendall(b"AMQP\x03\x01\x00\x00")
    assert again.recv(8) == b"AMQP\x03\x01\x00\x00"


def test_a_connection_that_authenticates_no_device_is_closed(warden_factory):
    warden = warden_factory(SETTINGS)
    tls = opened(warden)
    started = time.monotonic()
    answer = read_all(tls)
    assert b"amqp:unauthorized-access" in answer and time.monotonic() - started < 9


def test_heartbeats_come_at_most_once_a_second_whatever_the_client_asks(warden_factory):
    warden = warden_factory(SETTINGS)
    tls = connect(warden)
    # open with idle-time-out 1 ms: heartbeats every half millisecond would spin the server.
    tls.sendall(b"AMQP\x03\x01\x00\x00" + frame(0x41, b"\xa3\x09ANONYMOUS", 1, sasl=True))
    tls.sendall(b"AMQP\x00\x01\x00\x00" + frame(0x10, b"\xa1\x01x\x40\x40\x40\x52\x01", 5))
    received = b""
    tls.settimeout(0.2)
    deadline = time.monotonic() + 1.9
    while time.monotonic() < deadline:
        try:
            received += tls.recv(65536)
        except (socket.timeout, ssl.SSLError):
            pass
    heartbeats = received.count(struct.pack(">IBBH", 8, 2, 0, 0))
    assert b"\x00\x53\x10" in received and 1 <= heartbeats <= 2


def read_until(tls: ssl.SSLSocket, wanted: bytes) -> bytes:
    """What the server sends until `wanted` appears in it (or 10 s pass)."""
    received = b""
    deadline = time.monotonic() + 10
    while wanted not in received and time.monotonic() < deadline:
        chunk = tls.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_a_disposition_spanning_every_delivery_id_settles_nothing_and_the_session_goes_on(warden_factory):
    warden = warden_factory(SETTINGS)
    tls = opened(warden)
    begin = frame(0x11, b"\x40\x43\x70\x00\x00\x00\x64\x70\x00\x00\x00\x64", 4)
    # role receiver, first 0, last 2^32-1, unsettled, accepted: 4 billion ids the server never sent.
    disposition = frame(0x15, b"\x41\x70\x00\x00\x00\x00\x70\xff\xff\xff\xff\x42\x00\x53\x24\x45", 5)
    tls.sendall(begin + disposition * 100 + frame(0x17, b"", 0))
    # The server read them all and answers the session's end.
    assert b"\x00\x53\x17" in read_until(tls, b"\x00\x53\x17")


def frame_sizes(stream: bytes) -> list[int]:
    """The size of every frame in what the server sent (its protocol headers skipped)."""
    sizes, position = [], 0
    while position + 8 <= len(stream):
        if stream[position:position + 4] == b"AMQP":
            position += 8
            continue
        size = struct.unpack(">I", stream[position:position + 4])[0]
        sizes.append(size)
        position += max(size, 8)
    return sizes


def test_an_attach_that_cannot_be_echoed_within_the_clients_frame_size_closes_the_connection(warden_factory):
    """The client may send frames up to the server's max-frame-size (64 KiB) while announcing 512 bytes for
    itself; an attach is answered with the link's own name, which does not fit then: the server says
    amqp:frame-size-too-small (§2.7.1) instead of sending a frame the client does not read."""
    warden = warden_factory(SETTINGS)
    tls = connect(warden)
    tls.sendall(b"AMQP\x03\x01\x00\x00" + frame(0x41, b"\xa3\x09ANONYMOUS", 1, sasl=True))
    # open: container "x", no host name, max-frame-size 512.
    tls.sendall(b"AMQP\x00\x01\x00\x00" + frame(0x10, b"\xa1\x01x\x40\x70\x00\x00\x02\x00", 3))
    tls.sendall(frame(0x11, b"\x40\x43\x70\x00\x00\x00\x64\x70\x00\x00\x00\x64", 4))
    # attach: a 1,000-byte name, handle 0, role sender (list32: the fields pass 255 bytes).
    fields = b"\xb1" + struct.pack(">I", 1000) + b"n" * 1000 + b"\x43\x42"
    body = b"\x00\x53\x12\xd0" + struct.pack(">II", len(fields) + 4, 3) + fields
    tls.sendall(struct.pack(">IBBH", 8 + len(body), 2, 0, 0) + body)
    answer = read_all(tls)
    assert b"amqp:frame-size-too-small" in answer
    assert max(frame_sizes(answer)) <= 512
