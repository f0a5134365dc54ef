"""Zero-touch provisioning (issue 15) with the unmodified Azure SDK: azure-iot-device's ProvisioningDeviceClient
registers through a symmetric-key enrollment group (its key derived from the registration id, as DPS derives
it) and through an individual enrollment, gets its hub and device id, connects with them and sends telemetry;
its twin starts from the enrollment's desired properties. A disabled enrollment, a wrong key and another
scope are refused, and every registration is in the audit log. The SDK dials port 8883; as for the hub
client, paho's connect is pointed at this server's port (`to_this_server`).
"""
import base64
import contextlib
import hashlib
import hmac
import json
from unittest import mock

import paho.mqtt.client as paho
import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/azure/requirements.txt)")
from azure.iot.device import IoTHubDeviceClient, Message, ProvisioningDeviceClient  # noqa: E402


def derived(group_key: str, registration_id: str) -> str:
    return base64.b64encode(
        hmac.new(base64.b64decode(group_key), registration_id.encode(), hashlib.sha256).digest()).decode()


@contextlib.contextmanager
def to_this_server(warden):
    """paho's connect sent to this server's MQTT/TLS port instead of 8883."""
    original = paho.Client.connect

    def connect(self, host, port=1883, *args, **kwargs):
        return original(self, host, warden.mqtt["mqtts"] if port == 8883 else port, *args, **kwargs)

    with mock.patch.object(paho.Client, "connect", connect):
        yield


def register(warden, scope: str, registration_id: str, key: str, payload=None):
    client = ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host="localhost", registration_id=registration_id, id_scope=scope, symmetric_key=key,
        server_verification_cert=open(warden.ca).read())
    if payload is not None:
        client.provisioning_payload = payload
    with to_this_server(warden):
        return client.register()


@pytest.fixture
def dps_warden(warden):
    return warden


def test_a_group_enrolled_device_provisions_itself_and_sends_telemetry(dps_warden, tmp_path):
    warden = dps_warden
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    (tmp_path / "twin.json").write_text(json.dumps({"firmware": {"channel": "stable"}}))
    group = json.loads(warden.cli("dps", "group", "create", "meters", "--initial-twin", str(tmp_path / "twin.json"),
                                  "--json"))
    key = derived(group["symmetricKey"]["primaryKey"], "meter-0042")

    result = register(warden, scope, "meter-0042", key, payload={"modelId": "dtmi:warden:meter;1"})
    assert result.status == "assigned"
    state = result.registration_state
    assert state.assigned_hub == "localhost" and state.device_id == "meter-0042"
    assert state.sub_status == "initialAssignment"

    device = IoTHubDeviceClient.create_from_symmetric_key(
        symmetric_key=key, hostname=state.assigned_hub, device_id=state.device_id,
        server_verification_cert=open(warden.ca).read())
    with to_this_server(warden):
        device.connect()
    try:
        device.send_message(Message("first reading"))
        twin = device.get_twin()
        assert twin["desired"]["firmware"] == {"channel": "stable"}
    finally:
        device.shutdown()
    stored = [json.loads(line) for line in warden.cli("telemetry", "meter-0042", "--json").splitlines()]
    assert any(item["body"] == "first reading" for item in stored)

    # Registering again keeps the device and its twin (DPS's "re-provision and migrate data").
    again = register(warden, scope, "meter-0042", key)
    assert again.status == "assigned" and again.registration_state.sub_status == "deviceDataMigrated"
    records = json.loads(warden.cli("audit", "query", "--action", "provisioning.register", "--json"))["items"]
    assert [r["outcome"] for r in records if r["actor"] == "meter-0042"] == ["success", "success"]


def test_individual_disabled_and_wrong_keys(dps_warden):
    warden = dps_warden
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    single = json.loads(warden.cli("dps", "enrollment", "create", "gateway-7", "--json"))
    result = register(warden, scope, "gateway-7", single["symmetricKey"]["primaryKey"])
    assert result.status == "assigned" and result.registration_state.device_id == "gateway-7"

    group = json.loads(warden.cli("dps", "group", "create", "cold", "--json"))
    key = derived(group["symmetricKey"]["secondaryKey"], "sensor-9")
    warden.cli("dps", "group", "disable", "cold")
    with pytest.raises(Exception):
        register(warden, scope, "sensor-9", key)
    warden.cli("dps", "group", "enable", "cold")
    assert register(warden, scope, "sensor-9", key).status == "assigned"
    with pytest.raises(Exception):
        register(warden, scope, "sensor-10", key)  # sensor-9's key does not prove sensor-10
    with pytest.raises(Exception):
        register(warden, "0ne00000000", "sensor-9", key)
    records = json.loads(warden.cli("audit", "query", "--action", "provisioning.register", "--outcome", "denied",
                                    "--json"))["items"]
    reasons = {r["actor"]: r["reason"] for r in records}
    assert reasons.get("sensor-10") == "auth.invalid_credential"


def test_x509_attestation_by_a_tenant_ca_and_by_thumbprint(dps_warden, tmp_path):
    """A bootstrap certificate from the tenant's own CA (warden ca create / cert issue) provisions a device of an
    X.509 group; a self-signed certificate provisions the individual enrollment that names its thumbprint."""
    import subprocess

    from azure.iot.device import X509

    warden = dps_warden
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    warden.cli("ca", "create", "fleet")
    warden.cli("dps", "group", "create", "cameras", "--attestation", "x509", "--ca", "fleet")

    def openssl(*arguments):
        result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "cam.key",
            "-subj", "/CN=cam-5", "-out", "cam.csr")
    (tmp_path / "cam.pem").write_text(
        warden.cli("cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / "cam.csr"), "--device", "cam-5") + "\n")
    x509 = X509(str(tmp_path / "cam.pem"), str(tmp_path / "cam.key"))
    client = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host="localhost", registration_id="cam-5", id_scope=scope, x509=x509,
        server_verification_cert=open(warden.ca).read())
    with to_this_server(warden):
        result = client.register()
    assert result.status == "assigned" and result.registration_state.device_id == "cam-5"
    assert json.loads(warden.cli("device", "show", "cam-5", "--json"))["authentication"]["type"] == "x509-ca"
    device = IoTHubDeviceClient.create_from_x509_certificate(
        x509=x509, hostname=result.registration_state.assigned_hub, device_id="cam-5",
        server_verification_cert=open(warden.ca).read())
    with to_this_server(warden):
        device.connect()
    try:
        device.send_message(Message("a frame"))
    finally:
        device.shutdown()

    # Another registration id with cam-5's certificate is refused (DPS: the CN is the registration id).
    impostor = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host="localhost", registration_id="cam-6", id_scope=scope, x509=x509,
        server_verification_cert=open(warden.ca).read())
    with pytest.raises(Exception), to_this_server(warden):
        impostor.register()

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "solo.key",
            "-subj", "/CN=solo-1", "-out", "solo.pem", "-days", "2")
    thumbprint = openssl("x509", "-in", "solo.pem", "-noout", "-fingerprint", "-sha256").split("=")[1].strip()
    warden.cli("dps", "enrollment", "create", "solo-1", "--attestation", "x509", "--thumbprint",
               thumbprint.replace(":", ""))
    solo = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host="localhost", registration_id="solo-1", id_scope=scope,
        x509=X509(str(tmp_path / "solo.pem"), str(tmp_path / "solo.key")),
        server_verification_cert=open(warden.ca).read())
    with to_this_server(warden):
        assert solo.register().status == "assigned"
    assert json.loads(warden.cli("device", "show", "solo-1", "--json"))["authentication"]["type"] == "x509-thumbprint"
