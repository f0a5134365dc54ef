"""x509-ca devices (issue 3, "Authentication at CONNECT" (c)): a tenant registers its CA, proves possession of
its key with a certificate for the hub's verification code, and devices whose certificate chains to the CA
with CN = device id connect with no password. Certificates made with openssl."""
import json

import paho.mqtt.client as mqtt

import hub
from certificates import issue, make_ca


def connect_with(warden, device_id: str, certificate, key, version=mqtt.MQTTv5, websocket: bool = False) -> int:
    """The CONNACK's reason code; over WebSocket the certificate goes to the HTTPS port's TLS handshake."""
    client = hub.Client(device_id, version, transport="websockets" if websocket else "tcp")
    client.paho.username_pw_set(hub.username(device_id))
    client.paho.tls_set(ca_certs=warden.ca, certfile=str(certificate), keyfile=str(key))
    if websocket:
        client.paho.ws_set_options(path="/$iothub/websocket")
    port = int(warden.url.rsplit(":", 1)[1]) if websocket else warden.mqtt["mqtts"]
    code = client.start(port, host="localhost").value
    client.stop()
    return code


def test_registered_and_verified_ca_admits_its_devices(warden, tmp_path):
    make_ca(tmp_path, "fleet-ca")
    make_ca(tmp_path, "other-ca")
    warden.cli("ca", "add", "fleet", "--certificate", str(tmp_path / "fleet-ca.pem"))
    warden.cli("device", "create", "truck-7", "--auth", "x509-ca")
    certificate, key = issue(tmp_path, "fleet-ca", "truck-7", "truck-7")

    # Registered but not verified: refused.
    assert connect_with(warden, "truck-7", certificate, key) == 0x86

    code = warden.cli("ca", "verification-code", "fleet")
    wrong_proof, _ = issue(tmp_path, "other-ca", code, "wrong-proof")
    result = warden.run_cli("ca", "verify", "fleet", "--certificate", str(wrong_proof))
    assert result.returncode == 65 and "did not sign" in result.stderr

    proof, _ = issue(tmp_path, "fleet-ca", code, "proof")
    warden.cli("ca", "verify", "fleet", "--certificate", str(proof))
    assert json.loads(warden.cli("ca", "show", "fleet", "--json"))["verified"] is True

    assert connect_with(warden, "truck-7", certificate, key) == 0
    assert connect_with(warden, "truck-7", certificate, key, mqtt.MQTTv311) == 0
    assert connect_with(warden, "truck-7", certificate, key, websocket=True) == 0
    # A certificate from the CA for another device id does not prove truck-7.
    impostor, impostor_key = issue(tmp_path, "fleet-ca", "truck-8", "impostor")
    assert connect_with(warden, "truck-7", impostor, impostor_key) == 0x86
    assert connect_with(warden, "truck-7", impostor, impostor_key, websocket=True) == 0x86
    # A chain to an unregistered CA does not either.
    stranger, stranger_key = issue(tmp_path, "other-ca", "truck-7", "stranger")
    assert connect_with(warden, "truck-7", stranger, stranger_key) == 0x86
    assert connect_with(warden, "truck-7", stranger, stranger_key, websocket=True) == 0x86

    warden.cli("ca", "delete", "fleet")
    assert connect_with(warden, "truck-7", certificate, key) == 0x86

