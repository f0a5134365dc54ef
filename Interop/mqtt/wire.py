"""A few MQTT packets by hand, for what client libraries hide: exact CONNACK bytes, silence (keep-alive and
CONNECT deadlines), AUTH re-authentication. Standard library only."""
import socket
import ssl
import struct


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(data)) + data


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def properties(items: list[tuple[int, bytes]]) -> bytes:
    data = b"".join(bytes([identifier]) + value for identifier, value in items)
    return _varint(len(data)) + data


def connect(client_id: str, version: int = 4, username: str | None = None, password: str | None = None,
            keep_alive: int = 60, clean: bool = True, props: bytes = b"") -> bytes:
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _string("MQTT") + bytes([version, flags]) + struct.pack("!H", keep_alive)
    if version == 5:
        body += props or b"\x00"
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return packet(0x10, body)


def auth(reason: int, method: str, data: str) -> bytes:
    return packet(0xF0, bytes([reason]) + properties([(0x15, _string(method)), (0x16, _string(data))]))


def string_property(identifier: int, value: str) -> tuple[int, bytes]:
    return identifier, _string(value)


class Connection:
    """One socket, plain or TLS, reading whole packets."""

    def __init__(self, port: int, ca: str | None = None, host: str = "localhost", timeout: float = 15):
        raw = socket.create_connection((host, port), timeout=timeout)
        if ca:
            context = ssl.create_default_context(cafile=ca)
            raw = context.wrap_socket(raw, server_hostname=host)
        self.socket = raw

    def send(self, data: bytes):
        self.socket.sendall(data)

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.socket.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def read(self) -> tuple[int, bytes]:
        """The next packet as (first byte, body); ConnectionError when the server closed."""
        first = self._read(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._read(1)[0]
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, self._read(length)

    def closed_by_server(self) -> bool:
        """Reads until the server closes; true when it did (false on this side's time-out)."""
        try:
            while True:
                self.read()
        except ConnectionError:
            return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        self.socket.close()


class TransportView:
    """TLS over a plain socket through memory BIOs, so that what the TLS layer hides stays visible: the server's
    close_notify apart from its TCP FIN."""

    def __init__(self, port: int, ca: str, host: str = "localhost", timeout: float = 15):
        self.socket = socket.create_connection((host, port), timeout=timeout)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = ssl.create_default_context(cafile=ca)
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()
        self._flush()

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.socket.sendall(data)

    def _receive(self) -> bool:
        data = self.socket.recv(65536)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        return bool(data)

    def send(self, data: bytes):
        self.tls.write(data)
        self._flush()

    def read_until_fin(self, timeout: float) -> tuple[bytes, bool]:
        """Everything the server sends until its FIN, without ever sending our close_notify: the plaintext and
        whether its close_notify came before the FIN. socket.timeout when no FIN comes within `timeout`."""
        self.socket.settimeout(timeout)
        plaintext, close_notify = b"", False
        while self._receive():
            try:
                while chunk := self.tls.read(65536):
                    plaintext += chunk
                close_notify = True  # read() answers b"" once the peer's close_notify came
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                close_notify = True
        return plaintext, close_notify

    def close(self):
        self.socket.close()
