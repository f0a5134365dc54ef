"""Zero-touch provisioning (issue 15) with the unmodified Azure SDK: azure-iot-device's ProvisioningDeviceClient
registers through a symmetric-key enrollment group (its key derived from the registration id, as DPS derives
it) and through an individual enrollment, gets its hub and device id, connects with them and sends telemetry;
its twin starts from the enrollment's desired properties. A disabled enrollment, a wrong key and another
scope are refused, and every registration is in the audit log. Enrollments assign devices to several tenants
(static, hashed, or a custom allocation webhook in DPS's shapes) and registering again follows the reprovision
policy (migrate, reset, never). The SDK dials port 8883; as for the hub
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
    """paho's connect sent to this server's MQTT/TLS port instead of 8883 (its HTTPS port instead of 443 for
    MQTT over WebSocket), on localhost: a tenant's own host name
    (`east.hub.test`) stays in the MQTT username, which is how the hub knows the tenant."""
    original = paho.Client.connect

    ports = {8883: warden.mqtt["mqtts"], 443: int(warden.url.rsplit(":", 1)[1])}

    def connect(self, host, port=1883, *args, **kwargs):
        return original(self, "localhost", ports.get(port, port), *args, **kwargs)

    with mock.patch.object(paho.Client, "connect", connect):
        yield


def register(warden, scope: str, registration_id: str, key: str, payload=None, websockets=False):
    client = ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host="localhost", registration_id=registration_id, id_scope=scope, symmetric_key=key,
        server_verification_cert=open(warden.ca).read(), websockets=websockets)
    if payload is not None:
        client.provisioning_payload = payload
    with to_this_server(warden):
        return client.register()


def connect_and_send(warden, key: str, state, text: str):
    device = IoTHubDeviceClient.create_from_symmetric_key(
        symmetric_key=key, hostname=state.assigned_hub, device_id=state.device_id,
        server_verification_cert=open(warden.ca).read())
    with to_this_server(warden):
        device.connect()
    try:
        device.send_message(Message(text))
        return device.get_twin()
    finally:
        device.shutdown()


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

    twin = connect_and_send(warden, key, state, "first reading")
    assert twin["desired"]["firmware"] == {"channel": "stable"}
    stored = [json.loads(line) for line in warden.cli("telemetry", "meter-0042", "--json").splitlines()]
    assert any(item["body"] == "first reading" for item in stored)

    # Registering again keeps the device and its twin (DPS's "re-provision and migrate data"); over MQTT on a
    # WebSocket (port 443, `/$iothub/websocket`) too.
    again = register(warden, scope, "meter-0042", key, websockets=True)
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

    # Over WebSocket (DPS's 443) the certificate goes to the HTTPS port's handshake; its chain is checked there.
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "cam7.key",
            "-subj", "/CN=cam-7", "-out", "cam7.csr")
    (tmp_path / "cam7.pem").write_text(
        warden.cli("cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / "cam7.csr"), "--device", "cam-7") + "\n")
    over_websocket = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host="localhost", registration_id="cam-7", id_scope=scope,
        x509=X509(str(tmp_path / "cam7.pem"), str(tmp_path / "cam7.key")),
        server_verification_cert=open(warden.ca).read(), websockets=True)
    with to_this_server(warden):
        assert over_websocket.register().registration_state.device_id == "cam-7"

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


def test_reprovisioning_moves_a_device_between_tenants_as_configured(dps_warden):
    """A group's devices go to `default`; the group is pointed at `east` and a device registering again moves
    there with its twin's desired properties (migrate), is reset to the initial twin (reset), or stays (never);
    the device left behind is disabled."""
    warden = dps_warden
    warden.cli("tenant", "create", "east", "--host-name", "east.hub.test")
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    keys = {}
    for policy in ("migrate", "reset", "never"):
        group = json.loads(warden.cli("dps", "group", "create", f"g-{policy}", "--reprovision", policy, "--json"))
        assert group["reprovisionPolicy"] == policy and group["allocationPolicy"] == "static"
        keys[policy] = derived(group["symmetricKey"]["primaryKey"], f"unit-{policy}")
        first = register(warden, scope, f"unit-{policy}", keys[policy])
        assert first.registration_state.assigned_hub == "localhost"
        warden.cli("twin", "set-desired", f"unit-{policy}", json.dumps({"setpoint": 21}))
        warden.cli("dps", "group", "update", f"g-{policy}", "--assign-to", "east")

    migrated = register(warden, scope, "unit-migrate", keys["migrate"]).registration_state
    assert (migrated.assigned_hub, migrated.sub_status) == ("east.hub.test", "deviceDataMigrated")
    assert connect_and_send(warden, keys["migrate"], migrated, "from east")["desired"]["setpoint"] == 21
    east = [json.loads(line) for line in warden.cli("telemetry", "unit-migrate", "--tenant", "east", "--json")
            .splitlines()]
    assert any(item["body"] == "from east" for item in east)
    left = json.loads(warden.cli("device", "show", "unit-migrate", "--json"))
    assert left["status"] == "disabled" and "east/unit-migrate" in left["statusReason"]

    reset = register(warden, scope, "unit-reset", keys["reset"]).registration_state
    assert (reset.assigned_hub, reset.sub_status) == ("east.hub.test", "deviceDataReset")
    assert "setpoint" not in connect_and_send(warden, keys["reset"], reset, "reset")["desired"]

    never = register(warden, scope, "unit-never", keys["never"]).registration_state
    assert never.assigned_hub == "localhost"
    assert json.loads(warden.cli("device", "show", "unit-never", "--json"))["status"] == "enabled"


def test_hashed_and_custom_allocation_across_tenants(dps_warden):
    """Hashed: each registration id lands in one of the group's tenants, the same one every time. Custom: the
    hub POSTs DPS's AllocationRequest to a webhook (a server on loopback here) and follows its answer, whose
    payload reaches the device."""
    import http.server
    import threading

    warden = dps_warden
    warden.cli("tenant", "create", "east", "--host-name", "east.hub.test")
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    group = json.loads(warden.cli("dps", "group", "create", "spread", "--allocation", "hashed", "--assign-to",
                                  "default", "--assign-to", "east", "--json"))
    assert group["tenants"] == ["default", "east"]
    hubs = {}
    for n in range(8):
        rid = f"spread-{n}"
        hubs[rid] = register(warden, scope, rid, derived(group["symmetricKey"]["primaryKey"], rid)) \
            .registration_state.assigned_hub
    assert set(hubs.values()) == {"localhost", "east.hub.test"}, hubs
    again = register(warden, scope, "spread-3", derived(group["symmetricKey"]["primaryKey"], "spread-3"))
    assert again.registration_state.assigned_hub == hubs["spread-3"]

    seen = []

    class Allocator(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(request)
            answer = json.dumps({"iotHubHostName": "east.hub.test", "payload": {"greeting": "welcome east"},
                                 "initialTwin": {"properties": {"desired": {"zone": "e1"}}}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Allocator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        custom = json.loads(warden.cli(
            "dps", "group", "create", "routed", "--allocation", "custom", "--assign-to", "default", "--assign-to",
            "east", "--webhook", f"http://127.0.0.1:{server.server_port}/allocate?code=s3cret", "--json"))
        assert custom["customAllocationDefinition"]["webhookUrl"].endswith("code=s3cret")
        listed = json.loads(warden.cli("dps", "group", "list", "--json"))["items"]
        assert all("customAllocationDefinition" not in item for item in listed)
        key = derived(custom["symmetricKey"]["primaryKey"], "routed-1")
        result = register(warden, scope, "routed-1", key, payload={"site": "harbour"})
    finally:
        server.shutdown()
    state = result.registration_state
    # The SDK hands the payload to the application as the JSON text it received.
    assert state.assigned_hub == "east.hub.test" and json.loads(state.response_payload) == {"greeting": "welcome east"}
    request = seen[0]
    assert request["enrollmentGroup"]["enrollmentGroupId"] == "routed"
    assert request["deviceRuntimeContext"]["registrationId"] == "routed-1"
    assert request["deviceRuntimeContext"]["payload"] == {"site": "harbour"}
    assert sorted(request["linkedHubs"]) == ["east.hub.test", "localhost"]
    assert connect_and_send(warden, key, state, "routed")["desired"]["zone"] == "e1"
