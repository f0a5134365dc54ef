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


def test_dps_over_https_as_the_c_sdk_speaks_it(warden, tmp_path):
    """DPS's device runtime API over HTTPS (no Python SDK speaks it; the requests are the C SDK's HTTP transport's:
    PUT …/register, then GET …/operations/{id}, a SAS token with `skn=registration` in `Authorization`): the
    device is assigned and then connects over MQTT with its key. Refusals: a wrong key (401, with a reference in
    the audit log), a body for another registration (DPS's failed status), a flood (429 with Retry-After); and
    an X.509 registration proved by the connection's client certificate."""
    import subprocess

    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    group = json.loads(warden.cli("dps", "group", "create", "web", "--json"))["symmetricKey"]["primaryKey"]
    key = derived(group, "web-1")
    base = f"/{scope}/registrations/web-1"
    headers = {"Authorization": token(scope, "web-1", key, lower=True, skn="registration"),
               "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}

    status, answer_headers, body = hub.https(warden, "PUT", base + "/register?api-version=2021-06-01", headers,
                                             json.dumps({"registrationId": "web-1"}).encode())
    assert status == 202, body
    accepted = json.loads(body)
    assert accepted["status"] == "assigning" and answer_headers["Retry-After"] == "1"
    status, _, body = hub.https(
        warden, "GET", f"{base}/operations/{accepted['operationId']}?api-version=2021-06-01", headers)
    assert status == 200, body
    done = json.loads(body)
    assert done["status"] == "assigned"
    assert done["registrationState"]["deviceId"] == "web-1" and done["registrationState"]["assignedHub"] == "localhost"
    device = hub.device_client(warden, "web-1", password=warden.cli("token", "web-1"))
    assert device.start(warden.mqtt["mqtts"]) == 0
    device.stop()

    # Another group's key, and no credential at all: 401 with a problem naming the reference.
    wrong = dict(headers, Authorization=token(scope, "web-1", derived(group, "web-2")))
    status, _, body = hub.https(warden, "PUT", base + "/register?api-version=2021-06-01", wrong, b"{}")
    assert status == 401, body
    # The problem names the registration record's reference, as the hub's device API does.
    import re
    reference = re.search(r"reference ([0-9a-f-]+)", json.loads(body)["detail"]).group(1)
    status, _, _ = hub.https(warden, "PUT", base + "/register", {"Content-Type": "application/json"}, b"{}")
    assert status == 401
    records = json.loads(warden.cli("audit", "query", "--action", "provisioning.register", "--outcome", "denied",
                                    "--json"))["items"]
    assert any(reference in json.dumps(r) for r in records), records

    # A body naming another registration fails the operation in DPS's shape; an unknown operation is a 404.
    status, _, body = hub.https(warden, "PUT", base + "/register", headers,
                                json.dumps({"registrationId": "web-9"}).encode())
    failed_op = json.loads(body)["operationId"]
    status, _, body = hub.https(warden, "GET", f"{base}/operations/{failed_op}", headers)
    assert status == 200 and json.loads(body)["status"] == "failed"
    status, answer_headers, body = hub.https(warden, "GET", f"{base}/operations/nope", headers)
    assert status == 404 and answer_headers.get("x-ms-error-code") == "404201"

    # X.509: a bootstrap certificate from the tenant's CA, presented on the HTTPS connection.
    warden.cli("ca", "create", "fleet")
    warden.cli("dps", "group", "create", "x-web", "--attestation", "x509", "--ca", "fleet")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "x.key"), "-subj", "/CN=x-web-1", "-out", str(tmp_path / "x.csr")],
                   check=True, capture_output=True)
    (tmp_path / "x.pem").write_text(
        warden.cli("cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / "x.csr"), "--device", "x-web-1") + "\n")
    certificate = (str(tmp_path / "x.pem"), str(tmp_path / "x.key"))
    x509_base = f"/{scope}/registrations/x-web-1"
    status, _, body = hub.https(warden, "PUT", x509_base + "/register", {"Content-Type": "application/json"}, b"",
                                certificate=certificate)
    assert status == 202, body
    status, _, body = hub.https(warden, "GET", f"{x509_base}/operations/{json.loads(body)['operationId']}", {},
                                certificate=certificate)
    assert json.loads(body)["registrationState"]["deviceId"] == "x-web-1"
    # Revoked, the bootstrap certificate proves nothing any more (it would otherwise get a fresh certificate).
    serial = json.loads(warden.cli("cert", "list", "--device", "x-web-1", "--json"))[0]["serial"]
    warden.cli("cert", "revoke", serial, "--reason", "keyCompromise")
    status, _, body = hub.https(warden, "PUT", x509_base + "/register", {"Content-Type": "application/json"}, b"",
                                certificate=certificate)
    assert status in (401, 403), body

    # A flood (from one address, 20 requests a minute) is told to wait.
    flood = [hub.https(warden, "GET", f"{base}/operations/nope", headers) for _ in range(25)]
    assert [(status, h.get("Retry-After")) for status, h, _ in flood if status == 429][0] == (429, "10")


def test_requests_on_one_connection_are_answered_one_at_a_time(warden):
    """Each request once started its own answer at once, each holding its body (up to 256 KiB): a client
    sending faster than answers are made grew them without bound. A request that comes while the connection's
    previous one is answered is answered 429 at once (DPS's throttling answer, retry after 1 s); every request gets
    one answer."""
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    group = json.loads(warden.cli("dps", "group", "create", "bursts", "--json"))["symmetricKey"]["primaryKey"]
    c, code = client(warden, scope, "burst-1", token(scope, "burst-1", derived(group, "burst-1")))
    assert code == 0
    mid = c.paho.subscribe("$dps/registrations/res/#", qos=1)[1]
    assert hub.wait_until(lambda: mid in c.subacks)
    for rid in range(1, 21):
        c.paho.publish(f"$dps/registrations/PUT/iotdps-register/?$rid={rid}",
                       json.dumps({"registrationId": "burst-1"}).encode(), qos=0)
    assert hub.wait_until(lambda: len(c.messages) >= 20)
    time.sleep(0.3)
    answers = {}
    for message in c.messages:
        status, query = message.topic.removeprefix("$dps/registrations/res/").split("/?", 1)
        fields = dict(part.split("=", 1) for part in query.split("&"))
        answers.setdefault(fields["$rid"], []).append((int(status), fields.get("retry-after")))
    assert sorted(answers, key=int) == [str(rid) for rid in range(1, 21)]
    assert all(len(each) == 1 for each in answers.values())
    assert answers["1"][0][0] == 202
    busy = [each[0] for each in answers.values() if each[0][0] == 429]
    assert busy and all(retry == "1" for _, retry in busy)
    assert all(json.loads(m.payload)["errorCode"] == 429001 for m in c.messages if "/res/429/" in m.topic)
    c.stop()
