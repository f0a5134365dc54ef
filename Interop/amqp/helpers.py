"""What both AMQP suites need: TLS trusting the server's CA, and what the hub stored for a device."""
import json
import ssl
import urllib.request

from proton import SSLDomain


def stored(warden, device_id: str) -> list[dict]:
    token = (warden.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(
        f"{warden.url}/api/v1/tenants/default/devices/{device_id}/telemetry?limit=1000",
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=warden.ca), timeout=30) as reply:
        return json.loads(reply.read())["items"]


def tls(warden) -> SSLDomain:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(warden.ca)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return domain
