"""The Defender's audit checks against the real binary (issue 16): a seeded bad configuration — a plain listener
off loopback, short audit retention, quiet logs, devices sharing a certificate thumbprint, a disabled device that
keeps its keys, a key that never expires, a policy letting every device use every topic, a CA and a device
certificate about to expire, two clients fighting over one session, an administrator without TOTP — is found,
check by check, with why and how to fix; a clean one has no findings; high findings raise an alert."""
import base64
import hashlib
import hmac
import json
import struct
import time

import paho.mqtt.client as mqtt

import hub
from test_pki import csr


def findings(warden, *extra: str) -> dict[str, list[dict]]:
    report = json.loads(warden.cli("defender", "audit", *extra, "--json"))
    grouped: dict[str, list[dict]] = {}
    for finding in report["findings"]:
        grouped.setdefault(finding["check"], []).append(finding)
    return grouped


def test_a_seeded_bad_configuration_is_found_check_by_check(warden_factory, tmp_path):
    warden = warden_factory({"mqtt.plain.enabled": True, "mqtt.plain.address": "0.0.0.0", "mqtt.plain.port": 0,
                             "mqtt.plain.allow-non-loopback": True, "audit.retention-days": 7, "log.level": "error"})
    thumbprint = "ab" * 32
    hub.create_device(warden, "cam-1", "--auth", "x509-thumbprint", "--thumbprint", thumbprint)
    hub.create_device(warden, "cam-2", "--auth", "x509-thumbprint", "--thumbprint", thumbprint)
    hub.create_device(warden, "retired")
    warden.cli("device", "disable", "retired")
    warden.cli("apikey", "create", "grafana", "--tenant", "default", "--permission", "telemetry.read")
    policy = tmp_path / "open.json"
    policy.write_text(json.dumps({"statements": [
        {"id": "open-house", "effect": "allow", "principals": {"devices": ["*"]},
         "actions": ["publish", "subscribe"], "resources": ["#"]}]}))
    warden.cli("policy", "apply", str(policy))
    warden.cli("ca", "create", "short-lived", "--days", "20")
    hub.create_device(warden, "meter-9", "--auth", "x509-ca")
    warden.cli("cert", "issue", "--ca", "short-lived", "--device", "meter-9", "--days", "10",
               "--csr", str(csr(tmp_path, "meter-9", "meter-9")))
    # Four connections with one client id: each takes the session of the one before.
    hub.create_device(warden, "twin")
    clients = []
    for _ in range(4):
        client, code = hub.device_client(warden, "twin", mqtt.MQTTv5), None
        assert client.start(warden.mqtt["mqtts"]) == 0
        clients.append(client)
        time.sleep(0.2)
    for client in clients:
        client.paho.loop_stop()

    found = findings(warden)
    expected = {"insecure-listener", "logging-weak", "shared-credential", "disabled-device-with-credentials",
                "api-key-without-expiry", "permissive-policy", "ca-certificate-expiring", "device-certificate-expiring",
                "conflicting-client-ids", "admin-without-second-factor"}
    assert expected <= set(found), set(found)
    assert found["insecure-listener"][0]["resource"].startswith("listener mqtt 0.0.0.0")
    assert found["shared-credential"][0]["resource"] == "devices default/cam-1, default/cam-2"
    assert found["disabled-device-with-credentials"][0]["resource"] == "device default/retired"
    assert found["permissive-policy"][0]["resource"] == "policy statement default/open-house"
    assert found["ca-certificate-expiring"][0]["resource"] == "CA default/short-lived"
    assert found["device-certificate-expiring"][0]["resource"].startswith("device default/meter-9 certificate ")
    assert found["conflicting-client-ids"][0]["resource"] == "client default/twin"
    assert {f["check"] for f in found["logging-weak"]} == {"logging-weak"} and len(found["logging-weak"]) == 2
    for finding in sum(found.values(), []):
        assert finding["why"] and finding["fix"] and finding["severity"] in {"low", "medium", "high", "critical"}

    # The report is kept; a tenant's view holds its own findings only; high findings raised alerts.
    last = json.loads(warden.cli("defender", "audit", "--last", "--json"))
    tenant = json.loads(warden.cli("defender", "audit", "--tenant", "default", "--json"))
    assert tenant["id"] == last["id"] and all(f.get("tenantId") == "default" for f in tenant["findings"])
    alerts = json.loads(warden.cli("defender", "alerts", "--json"))["items"]
    assert {(a["rule"], a["subject"]) for a in alerts} >= {("audit.findings", "tenant default"),
                                                           ("audit.findings", "platform")}
    text = warden.cli("defender", "audit", "--last")
    assert "insecure-listener" in text and "FIX" in text


def totp(secret: str, at: float) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written here from the RFC, not Warden's code."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_a_clean_configuration_has_no_findings(warden):
    missing = warden.run_cli("defender", "audit", "--last")
    assert missing.returncode != 0 and "No audit has run yet" in missing.stderr
    # The bootstrap administrator has no TOTP: a clean hub's one finding, gone once it enrols one.
    assert set(findings(warden)) == {"admin-without-second-factor"}
    password = (warden.data_dir / "admin.password").read_text().strip()
    status, _, body = hub.https(warden, "POST", "/api/v1/auth/signin", {"Content-Type": "application/json"},
                                json.dumps({"username": "admin", "password": password}).encode())
    assert status == 200, body
    bearer = {"Authorization": "Bearer " + json.loads(body)["access_token"], "Content-Type": "application/json"}
    status, _, body = hub.https(warden, "POST", "/api/v1/auth/totp", bearer, b"")
    assert status == 200, body
    code = totp(json.loads(body)["secret"], time.time())
    status, _, body = hub.https(warden, "POST", "/api/v1/auth/totp/confirm", bearer,
                                json.dumps({"code": code}).encode())
    assert status == 204, body
    assert findings(warden) == {}


def test_the_posture_report_follows_the_evidence_and_the_tenants_target(warden, tmp_path):
    """The report has the six CSF functions with tiers from their categories; a backup turns RC.RP to met; the
    tenant's rules document sets the target tiers."""
    def report():
        return json.loads(warden.cli("defender", "report", "--tenant", "default", "--json"))

    def state(data, category):
        return next(c["state"] for f in data["functions"] for c in f["categories"] if c["id"] == category)

    first = report()
    assert [f["id"] for f in first["functions"]] == ["GV", "ID", "PR", "DE", "RS", "RC"]
    assert all(1 <= f["tier"] <= 4 and f["target"] == 3 for f in first["functions"])
    assert state(first, "RC.RP") == "not-met" and state(first, "GV.OV") == "not-met"
    assert len(first["activity"]) == 24
    (tmp_path / "pass").write_text("a long backup passphrase\n")
    warden.cli("backup", "create", str(tmp_path / "hub.backup"), "--passphrase-file", str(tmp_path / "pass"))
    warden.cli("defender", "audit")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"posture-target": {"recover": 4, "govern": 1},
                                 "flapping": {"response": "ban", "ban": 60}}))
    warden.cli("defender", "rules", "set", str(rules))
    second = report()
    assert state(second, "RC.RP") == "met" and state(second, "GV.OV") == "met" and state(second, "RS.MI") == "met"
    targets = {f["id"]: f["target"] for f in second["functions"]}
    assert targets["RC"] == 4 and targets["GV"] == 1
    assert next(f for f in second["functions"] if f["id"] == "RC")["tier"] > next(
        f for f in first["functions"] if f["id"] == "RC")["tier"]
    text = warden.cli("defender", "report", "--tenant", "default")
    assert "Recover" in text and "RC.RP" in text
    # A function's second category keeps its column: the row starts blank under FUNCTION, TIER and TARGET.
    assert any(line.startswith(" ") and "RC.CO" in line for line in text.splitlines()), text
    for command in (("report",), ("audit", "--tenant"), ("rules",), ("alerts",), ("inventory",)):
        flags = ["--tenant", "nope"] if command[-1] != "--tenant" else ["nope"]
        unknown = warden.run_cli("defender", *command, *flags)
        assert unknown.returncode == 66 and "There is no tenant 'nope'" in unknown.stderr, (command, unknown.stderr)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"posture-target": {"recover": 5}}))
    refused = warden.run_cli("defender", "rules", "set", str(bad))
    assert refused.returncode == 65 and "'posture-target.recover'" in refused.stderr
    assert "tenantId" not in json.loads(warden.cli("defender", "report", "--json")), "the platform's report"
