"""The audit log against the real binary: what it records, that it keeps no secret, that an answered admin
action survives SIGKILL, and that `warden audit verify` finds every kind of tampering with the SQLite file."""
import json
import re
import subprocess
import urllib.parse

import pytest

import api
from conftest import Warden


def export(warden) -> list[dict]:
    response = api.request(warden, "GET", "/api/v1/audit/export", token=api.admin_token(warden))
    assert response.status == 200 and response.headers["Content-Type"] == "application/jsonl"
    return [json.loads(line) for line in response.body.decode().splitlines()]


def make_history(warden) -> list[str]:
    """Admin actions, sign-ins, a device connecting with good and bad tokens; returns every secret involved."""
    admin = api.admin_token(warden)
    secrets = [admin, api.PASSWORD, (warden.data_dir / "admin.password").read_text().strip()]
    api.create_user(warden, "ada")
    grant = api.sign_in(warden, "ada").json
    secrets += [grant["access_token"], grant["refresh_token"]]
    assert api.sign_in(warden, "ada", "a wrong password here").status == 401
    key = api.request(warden, "POST", "/api/v1/tenants/default/api-keys", token=admin,
                      body={"name": "reader", "permissions": ["registry.read"]}).json["key"]
    secrets.append(key)
    assert api.request(warden, "GET", "/api/v1/tenants/default/devices", token=key).status == 200
    service = api.request(warden, "POST", "/api/v1/service-principals", token=admin,
                          body={"name": "billing", "roles": {"default": "monitor"}}).json
    secrets.append(service["clientSecret"])
    device = api.request(warden, "POST", "/api/v1/tenants/default/devices", token=admin, body={"deviceId": "meter-1"})
    assert device.status == 201
    keys = api.request(warden, "GET", "/api/v1/tenants/default/devices/meter-1/keys", token=admin)
    assert keys.status == 200
    device_keys = list(keys.json["authentication"]["symmetricKey"].values())
    assert len(device_keys) == 2
    secrets += device_keys
    sas = api.cli(warden, "token", "meter-1").stdout.strip()
    secrets.append(sas)
    # One base64 character of the signature changed, inside its percent-encoding (a changed "%2B" would be a
    # malformed token, not a forged one).
    head, rest = sas.split("sig=", 1)
    signature, tail = rest.split("&", 1)
    raw = urllib.parse.unquote(signature)
    raw = raw[:5] + ("A" if raw[5] != "A" else "B") + raw[6:]
    forged = head + "sig=" + urllib.parse.quote(raw, safe="") + "&" + tail
    # Accepted; accepted but publishing where the device may not (refused by policy); a forged signature.
    for password, topic in [(sas, "devices/meter-1/messages/events/"), (sas, "devices/meter-2/messages/events/"),
                            (forged, "devices/meter-1/messages/events/")]:
        subprocess.run(
            ["mosquitto_pub", "-h", "localhost", "-p", str(warden.mqtt["mqtts"]), "--cafile", warden.ca,
             "-i", "meter-1", "-u", "localhost/meter-1/?api-version=2021-04-12", "-P", password, "-V", "mqttv311",
             "-t", topic, "-m", "hello", "-q", "1"],
            capture_output=True, text=True, timeout=30)
    assert api.request(warden, "PATCH", "/api/v1/tenants/default/devices/meter-1", token=admin,
                       body={"status": "disabled", "statusReason": "stolen"}).status == 200
    return secrets


def test_records_admin_actions_sign_ins_and_device_authentication_without_secrets(warden):
    secrets = make_history(warden)
    records = export(warden)
    actions = [(r["action"], r["outcome"]) for r in records]
    for expected in [("createUser", "success"), ("signIn", "success"), ("signIn", "denied"),
                     ("createAPIKey", "success"), ("createServicePrincipal", "success"),
                     ("createDevice", "success"), ("device.authenticate", "success"),
                     ("device.authenticate", "denied"), ("device.publish", "denied"), ("updateDevice", "success")]:
        assert expected in actions, expected
    denied = next(r for r in records if r["action"] == "device.authenticate" and r["outcome"] == "denied")
    assert denied["actor"] == "meter-1" and denied["sourceIP"] == "127.0.0.1"
    assert denied["reason"] == "sas.signature_mismatch" and re.fullmatch(r"[0-9a-f]{12}", denied["referenceId"])
    assert denied["details"]["method"] == "sas" and denied["details"]["protocol"] == "mqtt"
    refused = next(r for r in records if r["action"] == "device.publish")
    assert (refused["actor"], refused["target"], refused["reason"]) == (
        "meter-1", "devices/meter-2/messages/events/", "not_authorized")
    assert refused["referenceId"]
    create = next(r for r in records if r["action"] == "createDevice")
    assert (create["actor"], create["actorKind"], create["tenant"]) == ("admin", "user", "default")
    sequences = [r["sequence"] for r in records]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    text = json.dumps(records)
    database = (warden.data_dir / "warden.sqlite").read_bytes()
    for secret in secrets:
        assert secret not in text, secret[:8]
    for secret in [api.PASSWORD, secrets[3], secrets[4]]:
        assert secret.encode() not in database, secret[:8]


def test_an_answered_admin_action_survives_sigkill(warden_factory, tmp_path):
    warden = warden_factory()
    admin = api.admin_token(warden)
    for index in range(5):
        assert api.request(warden, "POST", "/api/v1/tenants/default/devices", token=admin,
                           body={"deviceId": f"d{index}"}).status == 201
    warden.kill()
    again = Warden(warden.data_dir)
    try:
        created = [r["target"] for r in export(again) if r["action"] == "createDevice"]
        assert created == ["/api/v1/tenants/default/devices"] * 5
        assert api.cli(again, "audit", "verify").returncode == 0
    finally:
        again.stop()


TAMPERING = {
    "modified": ("UPDATE audit_records SET actor = 'mallory' WHERE sequence = 3", "Record 3 was modified"),
    "details": ("UPDATE audit_records SET details = '{}' WHERE sequence = 4", "Record 4 was modified"),
    "deleted": ("DELETE FROM audit_records WHERE sequence = 5", "Records between 4 and 6 are missing"),
    "reordered": ("UPDATE audit_records SET sequence = -1 WHERE sequence = 2;"
                  "UPDATE audit_records SET sequence = 2 WHERE sequence = 3;"
                  "UPDATE audit_records SET sequence = 3 WHERE sequence = -1", "Record 2 was modified"),
    "renumbered": ("DELETE FROM audit_records WHERE sequence = 5;"
                   "UPDATE audit_records SET sequence = sequence - 1 WHERE sequence > 5", "Record 5 was modified"),
    "oldest removed": ("DELETE FROM audit_records WHERE sequence < 3", "oldest records were removed"),
    "newest removed": ("DELETE FROM audit_records WHERE sequence > (SELECT max(sequence) - 2 FROM audit_records)",
                       "newest records were removed"),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_verify_finds_every_kind_of_tampering(warden, kind):
    admin = api.admin_token(warden)
    for index in range(8):
        assert api.request(warden, "POST", "/api/v1/tenants/default/devices", token=admin,
                           body={"deviceId": f"d{index}"}).status == 201
    intact = api.cli(warden, "audit", "verify")
    assert intact.returncode == 0 and "intact" in intact.stdout, intact.stderr
    sql, message = TAMPERING[kind]
    api.sqlite_edit(warden, sql)
    result = api.cli(warden, "audit", "verify")
    assert result.returncode == 65, result.stdout + result.stderr
    assert message in result.stdout


def test_auditors_see_their_tenant_and_filters_work(warden):
    admin = api.admin_token(warden)
    api.request(warden, "POST", "/api/v1/tenants", token=admin, body={"tenantId": "plant-2"})
    api.create_user(warden, "aud", role="auditor")
    api.request(warden, "POST", "/api/v1/tenants/default/devices", token=admin, body={"deviceId": "a"})
    api.request(warden, "POST", "/api/v1/tenants/plant-2/devices", token=admin, body={"deviceId": "b"})
    token = api.sign_in(warden, "aud").json["access_token"]
    own = api.request(warden, "GET", "/api/v1/tenants/default/audit?action=createDevice", token=token)
    assert own.status == 200 and [r["target"] for r in own.json["items"]] == ["/api/v1/tenants/default/devices"]
    assert api.request(warden, "GET", "/api/v1/tenants/plant-2/audit", token=token).status == 404
    assert api.request(warden, "GET", "/api/v1/audit", token=token).status == 403
    query = api.cli(warden, "audit", "query", "--tenant", "default", "--action", "createDevice", "--json")
    assert query.returncode == 0 and json.loads(query.stdout)["items"][0]["actor"] == "admin"
    assert api.request(warden, "GET", "/api/v1/tenants/default/audit?outcome=maybe", token=token).status == 400
