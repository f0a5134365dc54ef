"""The tenant's policy (issue 14) as the Azure IoT device SDK (azure-iot-device, unmodified) meets it: a reported
property that a statement denies closes the device's connection as soon as the SDK reports it, a hub action
denied to a group keeps cloud-to-device messages queued, and a certificate's days to expiry decide whether an
X.509 device connects."""
import json
import subprocess
import threading

import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/azure/requirements.txt)")
from azure.iot.device import X509  # noqa: E402

from test_azure_mqtt import sdk_client  # noqa: E402


def apply(warden, tmp_path, document: dict) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    warden.cli("policy", "apply", str(path))


def denied(warden, device_id: str, action: str) -> list[dict]:
    records = json.loads(warden.cli(
        "audit", "query", "--tenant", "default", "--outcome", "denied", "--action", action, "--json"))["items"]
    return [r for r in records if r["actor"] == device_id]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        done.wait(0.05)
    return predicate()


def test_reported_firmware_closes_the_connection_and_quiet_devices_get_no_commands(warden, tmp_path):
    warden.cli("device", "create", "sdk-policy")
    warden.cli("device", "create", "sdk-quiet", "--attribute", "commands=off")
    apply(warden, tmp_path, {"statements": [
        {"id": "old-firmware", "effect": "deny", "principals": {"devices": ["sdk-*"]}, "actions": ["connect"],
         "conditions": {"reported": {"firmware.version": {"one-of": ["1.0"]}}}},
        {"id": "no-commands", "effect": "deny", "principals": {"attributes": {"commands": "off"}},
         "actions": ["c2d.receive"]},
    ]})

    client, patcher = sdk_client(warden, warden.cli("device", "connection-string", "sdk-policy"))
    try:
        client.connect()
        client.patch_twin_reported_properties({"firmware": {"version": "2.0"}})
        assert client.get_twin()["reported"]["firmware"] == {"version": "2.0"}
        assert client.connected
        # Reporting the old firmware: answered, committed, and the connection closed at once.
        client.patch_twin_reported_properties({"firmware": {"version": "1.0"}})
        assert wait_for(lambda: denied(warden, "sdk-policy", "device.connect")), "no connect denial recorded"
        assert wait_for(lambda: not client.connected, 5.0), "the SDK's connection outlived the reported firmware"
        record = denied(warden, "sdk-policy", "device.connect")[0]
        assert record["details"]["policy.statement"] == "old-firmware"
    finally:
        client.shutdown()
        patcher.stop()

    quiet, patcher = sdk_client(warden, warden.cli("device", "connection-string", "sdk-quiet"))
    try:
        quiet.on_message_received = lambda message: pytest.fail(f"a quiet device received {message.data!r}")
        # The SDK subscribes to its cloud-to-device topic when a handler is set: refused as c2d.receive.
        quiet.connect()
        warden.cli("c2d", "send", "sdk-quiet", "--body", "stay queued")
        assert wait_for(lambda: denied(warden, "sdk-quiet", "device.c2d.receive")), "no c2d.receive denial"
        queued = json.loads(warden.cli("c2d", "list", "sdk-quiet", "--json"))
        items = queued["items"] if isinstance(queued, dict) else queued
        assert [m["state"] for m in items] == ["enqueued"]
        # Its twin still works: only commands are denied.
        quiet.patch_twin_reported_properties({"firmware": {"version": "2.0"}})
    finally:
        quiet.shutdown()
        patcher.stop()


def make_certificate(tmp_path, name: str, days: int) -> tuple[X509, str]:
    key, certificate = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(certificate), "-days", str(days), "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-fingerprint", "-sha256"],
                                 check=True, capture_output=True, text=True).stdout
    return X509(cert_file=str(certificate), key_file=str(key)), fingerprint.split("=", 1)[1].strip().replace(":", "")


def test_certificate_days_to_expiry_decide_the_connection(warden, tmp_path):
    expiring, expiring_thumbprint = make_certificate(tmp_path, "sdk-expiring", 3)
    lasting, lasting_thumbprint = make_certificate(tmp_path, "sdk-lasting", 60)
    warden.cli("device", "create", "sdk-expiring", "--auth", "x509-thumbprint", "--thumbprint", expiring_thumbprint)
    warden.cli("device", "create", "sdk-lasting", "--auth", "x509-thumbprint", "--thumbprint", lasting_thumbprint)
    apply(warden, tmp_path, {"statements": [
        {"id": "renew-first", "effect": "deny", "principals": {"authentication": ["x509-thumbprint"]},
         "actions": ["connect"], "conditions": {"certificate": {"days-to-expiry": {"at-most": 7}}}},
    ]})
    client, patcher = sdk_client(warden, "", device_id="sdk-expiring", x509=expiring)
    try:
        with pytest.raises(Exception):
            client.connect()
    finally:
        client.shutdown()
        patcher.stop()
    record = denied(warden, "sdk-expiring", "device.connect")[0]
    assert record["details"]["policy.statement"] == "renew-first"
    assert record["details"]["policy.version"] == "1"

    client, patcher = sdk_client(warden, "", device_id="sdk-lasting", x509=lasting)
    try:
        client.connect()
        client.send_message("still valid for two months")
        client.disconnect()
    finally:
        client.shutdown()
        patcher.stop()
