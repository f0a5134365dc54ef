"""DPS connections under hostile use, with paho (the Azure SDK's flow is Interop/azure/test_dps.py): a
registration connection may only subscribe to its answers and publish its requests; bad bodies fail with DPS's
error shape; wrong keys, another ClientId, a Will or no password are refused at CONNECT; a C SDK style token
(lower-case percent-encoding, `skn=registration`) proves the same key."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import paho.mqtt.client as mqtt

import hub


def token(scope: str, registration_id: str, key: str, lower=False, skn=None) -> str:
    resource = urllib.parse.quote(f"{scope}/registrations/{registration_id}", safe="")
    if lower:
        resource = resource.replace("%2F", "%2f")
    expiry = int(time.time()) + 3600
    signature = base64.b64encode(
        hmac.new(base64.b64decode(key), f"{resource}\n{expiry}".encode(), hashlib.sha256).digest()).decode()
    text = f"SharedAccessSignature sr={resource}&sig={urllib.parse.quote(signature, safe='')}&se={expiry}"
    return text + (f"&skn={skn}" if skn else "")


def derived(group_key: str, registration_id: str) -> str:
    return base64.b64encode(
        hmac.new(base64.b64decode(group_key), registration_id.encode(), hashlib.sha256).digest()).decode()


def client(warden, scope, registration_id, password, client_id=None, version=mqtt.MQTTv311, will=False):
    c = hub.Client(client_id or registration_id, version)
    c.paho.username_pw_set(f"{scope}/registrations/{registration_id}/api-version=2019-03-31", password)
    c.paho.tls_set(ca_certs=warden.ca)
    if will:
        c.paho.will_set("anything", b"x")
    return c, c.start(warden.mqtt["mqtts"], host="localhost").value


def test_a_registration_connection_does_only_what_dps_does(warden):
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    group = json.loads(warden.cli("dps", "group", "create", "probes", "--json"))["symmetricKey"]["primaryKey"]
    key = derived(group, "probe-1")

    # Refused at CONNECT: another registration's key, a ClientId that is not the registration id, a Will, no
    # password. Accepted: the C SDK's spelling of the same token.
    for args in [dict(password=token(scope, "probe-1", derived(group, "probe-2"))),
                 dict(password=token(scope, "probe-1", key), client_id="someone-else"),
                 dict(password=token(scope, "probe-1", key), will=True), dict(password=None)]:
        refused, code = client(warden, scope, "probe-1", **args)
        refused.stop()
        assert code != 0, args
    accepted, code = client(warden, scope, "probe-1", token(scope, "probe-1", key, lower=True, skn="registration"),
                            version=mqtt.MQTTv5)
    assert code == 0
    accepted.stop()

    c, code = client(warden, scope, "probe-1", token(scope, "probe-1", key), version=mqtt.MQTTv5)
    assert code == 0
    mid = c.paho.subscribe([("#", 1), ("$dps/registrations/res/#", 1)])[1]
    time.sleep(0.5)
    granted = [code.value for code in c.subacks[mid]]
    assert granted[0] >= 0x80 and granted[1] == 1
    info = c.paho.publish("$dps/registrations/PUT/iotdps-register/?$rid=1", b"[not an object", qos=1)
    info.wait_for_publish(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not c.payloads():
        time.sleep(0.05)
    answer = json.loads(c.payloads()[0])
    assert c.messages[0].topic == "$dps/registrations/res/202/?$rid=1&retry-after=1"
    c.paho.publish(
        f"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId={answer['operationId']}", b" ", qos=1)
    while time.monotonic() < deadline and len(c.payloads()) < 2:
        time.sleep(0.05)
    status = json.loads(c.payloads()[1])
    assert status["status"] == "failed" and status["registrationState"]["errorCode"] == 400004
    # Publishing anywhere else is denied (5.0: PUBACK 0x87), and nothing was created.
    info = c.paho.publish("devices/probe-1/messages/events/", b"x", qos=1)
    info.wait_for_publish(5)
    time.sleep(0.3)
    assert c.pubacks[info.mid] == 0x87
    c.stop()
    assert warden.run_cli("device", "show", "probe-1").returncode != 0


def test_a_csr_in_the_registration_gets_a_certificate_from_the_tenants_ca(warden, tmp_path):
    """DPS's `csr` (base64 DER PKCS #10): the answer's `issuedCertificateChain` holds a certificate from the
    tenant's issuing CA (openssl verifies it) and the CA's; the device is created x509-ca and connects with it."""
    import subprocess

    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    group = json.loads(warden.cli("dps", "group", "create", "csr-probes", "--json"))["symmetricKey"]["primaryKey"]
    warden.cli("ca", "create", "fleet")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "probe.key", "-subj", "/CN=probe-9", "-outform", "DER", "-out", "probe.csr"],
                   check=True, capture_output=True, cwd=tmp_path)
    csr = base64.b64encode((tmp_path / "probe.csr").read_bytes()).decode()
    c, code = client(warden, scope, "probe-9", token(scope, "probe-9", derived(group, "probe-9")), version=mqtt.MQTTv5)
    assert code == 0
    c.paho.subscribe("$dps/registrations/res/#", qos=1)
    time.sleep(0.3)
    c.paho.publish("$dps/registrations/PUT/iotdps-register/?$rid=1",
                   json.dumps({"registrationId": "probe-9", "csr": csr}), qos=1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not c.payloads():
        time.sleep(0.05)
    operation = json.loads(c.payloads()[0])["operationId"]
    c.paho.publish(f"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId={operation}", b"", qos=1)
    while time.monotonic() < deadline and len(c.payloads()) < 2:
        time.sleep(0.05)
    c.stop()
    state = json.loads(c.payloads()[1])["registrationState"]
    leaf, ca = state["issuedCertificateChain"]
    for name, body in (("probe.pem", leaf), ("fleet.pem", ca)):
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    verified = subprocess.run(["openssl", "verify", "-CAfile", "fleet.pem", "probe.pem"], capture_output=True,
                              text=True, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(warden.cli("device", "show", "probe-9", "--json"))["authentication"]["type"] == "x509-ca"

    device = hub.Client("probe-9", mqtt.MQTTv5)
    device.paho.username_pw_set(hub.username("probe-9"))
    device.paho.tls_set(ca_certs=warden.ca, certfile=str(tmp_path / "probe.pem"), keyfile=str(tmp_path / "probe.key"))
    assert device.start(warden.mqtt["mqtts"], host="localhost").value == 0
    device.stop()
