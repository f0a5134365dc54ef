"""What the AMQP suites share: TLS trusting the server's CA, devices and their connections, what the hub stored."""
import json
import ssl
import struct
import urllib.request

from proton import SSLDomain


def stored(warden, device_id: str) -> list[dict]:
    token = (warden.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(
        f"{warden.url}/api/v1/tenants/default/devices/{device_id}/telemetry?limit=1000",
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=warden.ca), timeout=30) as reply:
        return json.loads(reply.read())["items"]


def connect_device(container, warden, device_id: str, token: str):
    """A connection as the device (SASL PLAIN, IoT Hub's `{id}@sas.{hub}` and its SAS token), not reconnecting."""
    return container.connect(
        f"amqps://localhost:{warden.amqp}", user=f"{device_id}@sas.localhost", password=token, allowed_mechs="PLAIN",
        ssl_domain=tls(warden), reconnect=False)


def device(warden, device_id: str) -> str:
    """Creates the device; returns an hour's SAS token of it."""
    warden.cli("device", "create", device_id)
    return warden.cli("token", device_id, "--ttl", "1h")


def tls(warden) -> SSLDomain:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(warden.ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return domain


def frame(code: int, fields: bytes, count: int, channel: int = 0, sasl: bool = False) -> bytes:
    """A raw frame: performative `code` with `fields` (already encoded, `count` of them) in a list8."""
    body = b"\x00\x53" + bytes([code]) + b"\xc0" + bytes([len(fields) + 1, count]) + fields
    return struct.pack(">IBBH", 8 + len(body), 2, 1 if sasl else 0, channel) + body
