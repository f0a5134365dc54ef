"""The Defender (issue 16) against the real binary with paho: a brute force of a device's key from one address
raises an alert within 5 s and, with the automatic ban on, that address is refused before TLS while devices
already connected (from it and from elsewhere) stay; the ban and the alert are audit records, listed, and the
ban can be lifted. Operators ban a client id (CONNACK 0x8A) and a device (its live connection closes with 0x98);
a flapping device is banned in its tenant; a quarantine confines telemetry; alerts reach a signed webhook; a device
publishing fifty times its learned rate is quarantined by the tenant's rules while its twin still works."""
import base64
import json
import ssl
import time
import urllib.parse

import paho.mqtt.client as mqtt
import pytest

import hub

SETTINGS = {"defender.auth-failures.threshold": 10, "defender.auth-failures.window": 60,
            "defender.auth-failures.ban": 120}
ATTACKER = "127.0.0.2"


def connect(warden, device_id: str, password: str | None = None, source: str = "127.0.0.1",
            version=mqtt.MQTTv5) -> tuple[hub.Client, int]:
    client = hub.device_client(warden, device_id, version=version, password=password)
    return client, client.start(warden.mqtt["mqtts"], bind_address=source)


def test_a_brute_force_is_seen_and_its_address_banned_before_tls(warden_factory):
    warden = warden_factory(SETTINGS)
    for device_id in ("victim", "bystander", "elsewhere"):
        hub.create_device(warden, device_id)
    elsewhere, code = connect(warden, "elsewhere")
    assert code == 0
    bystander, code = connect(warden, "bystander", source=ATTACKER)
    assert code == 0

    started = time.monotonic()
    for attempt in range(10):
        client, code = connect(warden, "victim", password=f"SharedAccessSignature sr=x&sig=guess{attempt}&se=9",
                               source=ATTACKER)
        client.paho.loop_stop()
        assert code == 0x86
    assert hub.wait_until(lambda: any(
        a["subject"] == f"address {ATTACKER}" and a["status"] == "open"
        for a in json.loads(warden.cli("defender", "alerts", "--json"))["items"]), timeout=5)
    alerts = json.loads(warden.cli("defender", "alerts", "--status", "open", "--json"))["items"]
    alert = next(a for a in alerts if a["subject"] == f"address {ATTACKER}")
    assert alert["rule"] == "auth.failures.address" and alert["severity"] == "high"
    # The same ten guesses at one device's key are the device rule's too (10 within 300 s by default).
    assert hub.wait_until(lambda: any(
        a["rule"] == "auth.failures.device" and a["subject"] == "device default/victim"
        for a in json.loads(warden.cli("defender", "alerts", "--json"))["items"]), timeout=5)
    assert time.monotonic() - started < 15
    bans = json.loads(warden.cli("ban", "list", "--json"))["items"]
    assert [(b["kind"], b["value"], b["alertId"]) for b in bans] == [("address", f"{ATTACKER}/32", alert["id"])]

    # Refused before TLS: the handshake never completes; a device from elsewhere still connects.
    with pytest.raises((ssl.SSLError, OSError)):
        connect(warden, "victim", password=warden.cli("token", "victim"), source=ATTACKER)
    fresh, code = connect(warden, "victim", password=warden.cli("token", "victim"))
    assert code == 0
    fresh.stop()
    assert elsewhere.paho.is_connected() and bystander.paho.is_connected(), "an address ban closed live connections"

    audited = {r["action"] for r in json.loads(warden.cli("audit", "query", "--limit", "200", "--json"))["items"]}
    assert {"defender.alert", "defender.ban"} <= audited

    warden.cli("ban", "remove", bans[0]["id"])
    again, code = connect(warden, "victim", password=warden.cli("token", "victim"), source=ATTACKER)
    assert code == 0
    again.stop()
    warden.cli("defender", "ack", alert["id"])
    warden.cli("defender", "resolve", alert["id"])
    assert json.loads(warden.cli("defender", "alerts", "--status", "resolved", "--json"))["items"][0]["id"] == alert["id"]
    reopened = warden.run_cli("defender", "ack", alert["id"])
    assert reopened.returncode == 67 and "alert.resolved" in reopened.stderr, reopened.stderr
    elsewhere.stop()
    bystander.stop()


def test_operators_ban_a_client_id_and_a_device(warden):
    for device_id in ("kiosk-1", "kiosk-2"):
        hub.create_device(warden, device_id)
    live, code = connect(warden, "kiosk-2")
    assert code == 0

    shown = json.loads(warden.cli("ban", "add", "--client-id", "kiosk-1", "--ttl", "10m", "--reason", "flapping",
                                  "--json"))
    assert shown["kind"] == "client-id" and shown["expiresAt"]
    refused, code = connect(warden, "kiosk-1")
    refused.paho.loop_stop()
    assert code == 0x8A, "a banned client id hears Banned"
    old, code = connect(warden, "kiosk-1", version=mqtt.MQTTv311)
    old.paho.loop_stop()
    assert str(code) == "Not authorized", code  # 3.1.1: return code 5

    warden.cli("ban", "add", "--device", "kiosk-2", "--reason", "stolen")
    assert live.disconnected.wait(2) and live.disconnect_reason == 0x98
    live.paho.loop_stop()
    refused, code = connect(warden, "kiosk-2")
    refused.paho.loop_stop()
    assert code == 0x8A
    status, _, body = hub.https(
        warden, "POST", "/devices/kiosk-2/messages/events?api-version=2020-03-13",
        {"Authorization": warden.cli("token", "kiosk-2")}, b"x")
    assert status == 403, body
    records = json.loads(warden.cli("audit", "query", "--action", "device.authenticate", "--outcome", "denied",
                                    "--json"))["items"]
    assert "auth.banned" in {r["reason"] for r in records}
    bad = warden.run_cli("ban", "add", "--address", "not-an-address")
    assert bad.returncode != 0 and "cidr" in bad.stderr.lower()


def test_a_quarantined_device_keeps_its_twin_but_sends_no_telemetry(warden):
    """Quarantine raises the device's risk level: its live connection is decided again at once, a QoS 1 telemetry
    PUBLISH is refused (PUBACK 0x87) while a twin GET is still answered; released, telemetry flows again."""
    hub.create_device(warden, "cam-3")
    client, code = connect(warden, "cam-3")
    assert code == 0
    client.paho.subscribe("$iothub/twin/res/#", qos=0)
    time.sleep(0.2)

    def telemetry_reason(body: str):
        info = client.paho.publish("devices/cam-3/messages/events/", body, qos=1)
        assert hub.wait_until(lambda: info.mid in client.pubacks, timeout=5)
        return client.pubacks[info.mid]

    assert telemetry_reason("before") == 0
    shown = json.loads(warden.cli("defender", "quarantine", "cam-3", "--reason", "odd traffic", "--json"))
    assert shown["level"] == "high"
    assert telemetry_reason("during") == 0x87
    client.paho.publish("$iothub/twin/GET/?$rid=7", b"", qos=0)
    assert hub.wait_until(lambda: any(m.topic.startswith("$iothub/twin/res/200/?$rid=7") for m in client.messages))
    listed = json.loads(warden.cli("defender", "quarantines", "--json"))["items"]
    assert [(q["deviceId"], q["level"]) for q in listed] == [("cam-3", "high")]

    warden.cli("defender", "release", "cam-3")
    assert telemetry_reason("after") == 0
    stored = {json.loads(line)["body"] for line in warden.cli("telemetry", "cam-3", "--json").splitlines()}
    assert stored == {"before", "after"}
    client.stop()
    missing = warden.run_cli("defender", "quarantine", "nobody")
    assert missing.returncode == 66, missing.stderr


def test_a_flapping_client_is_seen_and_its_client_id_banned(warden_factory):
    """A flapping device is banned in its tenant; the tenant's services subscribed to `$warden/alerts/#` hear the
    alert, while a device may not subscribe there."""
    from test_service_principals import api, service_client
    warden = warden_factory({"defender.flapping.threshold": 5, "defender.flapping.ban": 60})
    policy = api(warden, "POST", "/api/v1/tenants/default/shared-access-policies",
                 {"name": "soc", "permissions": ["serviceConnect"]})
    service = service_client(warden, "soc", policy["keys"]["primaryKey"], "soc-1")
    assert service.start(warden.mqtt["mqtts"], host="localhost") == 0
    _, mid = service.paho.subscribe("$warden/alerts/#", qos=1)
    assert hub.wait_until(lambda: mid in service.subacks) and service.subacks[mid][0].value == 1
    hub.create_device(warden, "flappy")
    hub.create_device(warden, "nosy")
    nosy, code = connect(warden, "nosy")
    _, mid = nosy.paho.subscribe("$warden/alerts/#", qos=1)
    assert hub.wait_until(lambda: mid in nosy.subacks) and nosy.subacks[mid][0].value == 0x87
    nosy.stop()
    for _ in range(5):
        client, code = connect(warden, "flappy")
        assert code == 0
        client.stop()
    assert hub.wait_until(lambda: any(
        a["rule"] == "connection.flapping" and a["subject"] == "device default/flappy"
        for a in json.loads(warden.cli("defender", "alerts", "--json"))["items"]), timeout=5)
    assert hub.wait_until(lambda: any(
        b["kind"] == "device" and b["value"] == "default/flappy"
        for b in json.loads(warden.cli("ban", "list", "--json"))["items"]))
    refused, code = connect(warden, "flappy")
    refused.paho.loop_stop()
    assert code == 0x8A
    assert hub.wait_until(lambda: any(m.topic == "$warden/alerts/medium/connection.flapping" for m in service.messages))
    heard = json.loads(next(m.payload for m in service.messages if m.topic.endswith("connection.flapping")))
    assert heard["type"] == "alert" and heard["alert"]["subject"] == "device default/flappy"
    assert heard["alert"]["tenantId"] == "default"
    service.stop()


def test_alerts_reach_a_signed_webhook_with_retries(warden_factory, tmp_path):
    """Every alert change is POSTed to the webhook, signed with HMAC-SHA256 under the secret; a 500 is retried
    with the same delivery id until the receiver takes it; the deliveries are visible in the API."""
    import hashlib
    import hmac
    import http.server
    import threading

    secret = "a webhook secret of some length"
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(500 if len(received) == 1 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "secret").write_text(secret + "\n")
    try:
        warden = warden_factory({**SETTINGS, "defender.webhook.url": f"http://127.0.0.1:{server.server_port}/hook",
                                 "defender.webhook.secret-file": str(tmp_path / "secret")})
        hub.create_device(warden, "victim")
        for attempt in range(10):
            client, _ = connect(warden, "victim", password=f"SharedAccessSignature sr=x&sig=g{attempt}&se=9",
                                source=ATTACKER)
            client.paho.loop_stop()
        # The first delivery is answered 500, and comes again with the same id (other alerts may come between).
        def retried():
            return [(h, b) for h, b in received[1:] if h["X-Warden-Delivery"] == received[0][0]["X-Warden-Delivery"]]
        assert hub.wait_until(lambda: len(received) >= 2 and retried(), timeout=10), received
    finally:
        server.shutdown()
    (first_headers, first_body), (headers, body) = received[0], retried()[0]
    assert first_body == body
    signed = headers["X-Warden-Timestamp"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Warden-Signature"] == f"sha256={expected}"
    assert abs(int(headers["X-Warden-Timestamp"]) - time.time()) < 60
    alert = json.loads(body)
    assert alert["type"] == "alert" and alert["alert"]["rule"] in {"auth.failures.address", "auth.failures.device"}
    status = json.loads(hub.api(warden, "/api/v1/defender/webhook")[2])
    assert status["configured"] and status["delivered"] >= 1 and status["failed"] == 0

    # A webhook without a secret does not start.
    with pytest.raises(RuntimeError, match="secret"):
        warden_factory({"defender.webhook.url": "https://hooks.example/x"}, name="no-secret")


def test_a_device_far_above_its_baseline_is_quarantined_by_the_tenants_rules(warden_factory, tmp_path):
    """The tenant's rules learn each device's rate over 5 one-second intervals and quarantine on an anomaly: a
    device that publishes 5 messages/s and then 50 times that raises `behaviour.message-rate` within seconds; its
    telemetry is then refused by policy (PUBACK 0x87) while its twin still answers; the quarantine is an audit
    record naming the alert, and releasing it lets telemetry through again."""
    warden = warden_factory({"defender.sample-interval": 1})
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"behaviour": {"warmup": 5, "response": "quarantine"}}))
    shown = warden.cli("defender", "rules", "set", str(rules))
    assert "behaviour" in shown and "quarantine" in shown
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"behaviour": {"warmup": 0}}))
    refused = warden.run_cli("defender", "rules", "set", str(bad))
    assert refused.returncode != 0 and "'behaviour.warmup'" in refused.stderr, refused.stderr
    assert json.loads(warden.cli("defender", "rules", "--json"))["document"] == {
        "behaviour": {"warmup": 5, "response": "quarantine"}}

    hub.create_device(warden, "pump-7")
    client, code = connect(warden, "pump-7")
    assert code == 0
    client.paho.subscribe("$iothub/twin/res/#", qos=0)
    topic = "devices/pump-7/messages/events/"
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        client.paho.publish(topic, b"steady", qos=0)
        time.sleep(0.2)
    assert not json.loads(warden.cli("defender", "alerts", "--json"))["items"], "learning raises nothing"

    burst_end = time.monotonic() + 4
    while time.monotonic() < burst_end and not client.disconnected.is_set():
        for _ in range(25):
            client.paho.publish(topic, b"burst", qos=0)
        time.sleep(0.1)

    def anomaly():
        return next((a for a in json.loads(warden.cli("defender", "alerts", "--json"))["items"]
                     if a["rule"] == "behaviour.message-rate"), None)
    assert hub.wait_until(anomaly, timeout=5)
    alert = anomaly()
    assert alert["subject"] == "device default/pump-7" and alert["severity"] == "medium"
    assert hub.wait_until(lambda: json.loads(warden.cli("defender", "quarantines", "--json"))["items"])
    quarantine = json.loads(warden.cli("defender", "quarantines", "--json"))["items"][0]
    assert quarantine["level"] == "high" and quarantine["alertId"] == alert["id"]
    assert quarantine["createdBy"] == "defender:behaviour.message-rate"

    info = client.paho.publish(topic, b"confined", qos=1)
    assert hub.wait_until(lambda: info.mid in client.pubacks, timeout=5)
    assert client.pubacks[info.mid] == 0x87, "a quarantined device's telemetry is refused by policy"
    client.paho.publish("$iothub/twin/GET/?$rid=11", b"", qos=0)
    assert hub.wait_until(lambda: any(m.topic.startswith("$iothub/twin/res/200/?$rid=11") for m in client.messages))
    records = json.loads(warden.cli("audit", "query", "--action", "defender.quarantine", "--json"))["items"]
    assert [(r["target"], r["details"]["alert.id"]) for r in records] == [("device default/pump-7", alert["id"])]

    warden.cli("defender", "release", "pump-7")
    warden.cli("defender", "resolve", alert["id"])
    info = client.paho.publish(topic, b"free", qos=1)
    assert hub.wait_until(lambda: info.mid in client.pubacks, timeout=5)
    assert client.pubacks[info.mid] == 0
    client.stop()


def test_operators_disconnect_a_device_and_it_may_connect_again(warden):
    hub.create_device(warden, "lamp-1")
    client, code = connect(warden, "lamp-1")
    assert code == 0
    assert "Closing" in warden.cli("device", "disconnect", "lamp-1")
    assert client.disconnected.wait(2) and client.disconnect_reason == 0x98
    client.paho.loop_stop()
    again, code = connect(warden, "lamp-1")
    assert code == 0
    again.stop()
    missing = warden.run_cli("device", "disconnect", "nobody")
    assert missing.returncode == 66, missing.stderr
    records = json.loads(warden.cli("audit", "query", "--action", "disconnectDevice", "--json"))["items"]
    assert {(r["target"].rsplit("/", 2)[-2], r["outcome"]) for r in records} == {
        ("lamp-1", "success"), ("nobody", "failure")}, records


def test_the_inventory_names_each_devices_connection_and_flows(warden_factory):
    """The inventory reports each device's last connection as the broker saw it (address, protocol, TLS version,
    the negotiated cipher suite, the client library from the username's DeviceClientType, certificate expiry) and
    its learned flows; it is kept across a restart; CSV export makes a formula-looking client name text."""
    warden = warden_factory({"defender.sample-interval": 1})
    for device_id in ("meter-a", "meter-b", "idle"):
        hub.create_device(warden, device_id)
    client = hub.Client("meter-a", mqtt.MQTTv5)
    client.paho.username_pw_set(hub.username("meter-a") + "&DeviceClientType=azure-iot-device%2F2.14.0",
                                warden.cli("token", "meter-a"))
    client.paho.tls_set(ca_certs=warden.ca)
    assert client.start(warden.mqtt["mqtts"]) == 0
    hostile = hub.Client("meter-b", mqtt.MQTTv311)
    hostile.paho.username_pw_set(hub.username("meter-b") + "&DeviceClientType=%3DHYPERLINK(%22x%22)",
                                 warden.cli("token", "meter-b"))
    hostile.paho.tls_set(ca_certs=warden.ca)
    assert hostile.start(warden.mqtt["mqtts"]) == 0
    for _ in range(20):
        client.paho.publish("devices/meter-a/messages/events/kind=reading", b"x" * 40, qos=0)
        time.sleep(0.1)

    def inventory():
        return {item["deviceId"]: item for item in json.loads(warden.cli("defender", "inventory", "--json"))}
    assert hub.wait_until(lambda: inventory()["meter-a"]["flows"]["topics"], timeout=5)
    a = inventory()["meter-a"]
    assert (a["address"], a["protocol"], a["authentication"]) == ("127.0.0.1", "mqtt", "sas")
    assert a["tlsVersion"] in {"1.2", "1.3"} and a["cipherSuite"].startswith("TLS_"), a
    assert a["clientLibrary"] == "azure-iot-device/2.14.0"
    assert a["flows"]["topics"] == ["devices/meter-a/messages/events/"]
    assert 0 < a["flows"]["messagesPerSecond"] < 50 and a["flows"]["averagePayloadBytes"] == 40
    assert "lastConnectedAt" not in inventory()["idle"]

    csv_lines = warden.cli("defender", "inventory", "--csv").splitlines()
    assert csv_lines[0].startswith("device,status,authentication,last connected")
    b_line = next(line for line in csv_lines if line.startswith("meter-b,"))
    assert "\"'=HYPERLINK(\"\"x\"\")\"" in b_line, b_line

    client.stop()
    hostile.stop()
    warden.stop()
    again = warden_factory({"defender.sample-interval": 1}, name=warden.data_dir.name)
    kept = {item["deviceId"]: item for item in json.loads(again.cli("defender", "inventory", "--json"))}
    assert kept["meter-a"]["clientLibrary"] == "azure-iot-device/2.14.0" and kept["meter-a"]["lastConnectedAt"]


def test_guesses_at_a_devices_key_get_its_keys_rotated_when_the_tenant_says_so(warden, tmp_path):
    """With `auth-failures` answered by `rotate-key`, ten wrong tokens for a device rotate both its keys: its
    connection closes, a token made before no longer connects, and the audit log names the alert."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"auth-failures": {"threshold": 10, "response": "rotate-key"}}))
    warden.cli("defender", "rules", "set", str(rules))
    hub.create_device(warden, "lock-1")
    token = warden.cli("token", "lock-1")
    live, code = connect(warden, "lock-1", password=token)
    assert code == 0
    for attempt in range(10):
        guess = base64.b64encode(bytes([attempt]) * 32).decode()
        client, code = connect(warden, "lock-1", password=f"SharedAccessSignature sr=localhost%2Fdevices%2Flock-1"
                               f"&sig={urllib.parse.quote(guess, safe='')}&se=4102444800")
        client.paho.loop_stop()
        assert code == 0x86
    assert live.disconnected.wait(5), "the rotation closes the live connection"
    live.paho.loop_stop()
    stale, code = connect(warden, "lock-1", password=token)
    stale.paho.loop_stop()
    assert code == 0x86, "a token signed with the old key no longer connects"
    records = json.loads(warden.cli("audit", "query", "--action", "defender.rotate-key", "--json"))["items"]
    assert [r["target"] for r in records] == ["device default/lock-1"] and records[0]["details"]["alert.id"]
    fresh, code = connect(warden, "lock-1", password=warden.cli("token", "lock-1"))
    assert code == 0, "the new key works"
    fresh.stop()


def test_a_tenants_operator_bans_its_own_devices_only(warden):
    """An operator of a tenant (devices.control there) bans and lifts bans on the tenant's devices; address,
    client-id and other tenants' bans stay the platform's."""
    hub.create_device(warden, "vending-1")
    warden.cli("tenant", "create", "other")
    warden.cli("device", "create", "vending-2", "--tenant", "other")
    status, _, body = hub.api(warden, "/api/v1/users", "POST", {
        "username": "ops", "password": "an operator password", "roles": {"default": "operator"}})
    assert status == 201, body
    status, _, body = hub.https(warden, "POST", "/api/v1/auth/signin", {"Content-Type": "application/json"},
                                json.dumps({"username": "ops", "password": "an operator password"}).encode())
    headers = {"Authorization": "Bearer " + json.loads(body)["access_token"], "Content-Type": "application/json"}

    def call(method, path, payload=None):
        status, _, answer = hub.https(warden, method, path, headers,
                                      json.dumps(payload).encode() if payload is not None else None)
        return status, json.loads(answer) if answer else None

    status, ban = call("POST", "/api/v1/tenants/default/bans", {"deviceId": "vending-1", "ttlSeconds": 600})
    assert status == 201 and ban["kind"] == "device" and ban["value"] == "default/vending-1", ban
    refused, code = connect(warden, "vending-1")
    refused.paho.loop_stop()
    assert code == 0x8A
    status, listed = call("GET", "/api/v1/tenants/default/bans")
    assert status == 200 and [b["id"] for b in listed["items"]] == [ban["id"]]
    assert call("POST", "/api/v1/tenants/other/bans", {"deviceId": "vending-2"})[0] in {403, 404}
    assert call("POST", "/api/v1/bans", {"kind": "address", "value": "192.0.2.1"})[0] == 403
    assert call("POST", "/api/v1/tenants/default/bans", {"deviceId": "nobody"})[0] == 404
    other = json.loads(warden.cli("ban", "add", "--device", "vending-2", "--tenant", "other", "--json"))
    assert call("DELETE", f"/api/v1/tenants/default/bans/{other['id']}")[0] == 404, "another tenant's ban"
    assert call("DELETE", f"/api/v1/tenants/default/bans/{ban['id']}")[0] == 204
    again, code = connect(warden, "vending-1")
    assert code == 0
    again.stop()
    assert [b["value"] for b in json.loads(warden.cli("ban", "list", "--tenant", "other", "--json"))["items"]] == [
        "other/vending-2"]


def test_a_device_turning_its_commands_down_is_seen_and_its_https_requests_are_sightings(warden, tmp_path):
    """Three cloud-to-device messages rejected or abandoned over the HTTPS device API, with the tenant's
    `c2d-rejections` threshold at 3, raise `c2d.rejections` on the device; its HTTPS requests are its sightings
    in the inventory."""
    from test_cloud_to_device import device_https, receive, send
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"c2d-rejections": {"threshold": 3, "window": 60}}))
    warden.cli("defender", "rules", "set", str(rules))
    hub.create_device(warden, "valve-9")
    for index in range(3):
        send(warden, "valve-9", f"command {index}")
    for verb in ("reject", "abandon", "reject"):
        status, headers, _ = receive(warden, "valve-9")
        assert status == 200
        etag = headers["etag"].strip('"')
        if verb == "reject":
            status, _, _ = hub.https(warden, "DELETE", f"/devices/valve-9/messages/deviceBound/{etag}"
                                     "?reject&api-version=2020-03-13", {"Authorization": hub.token(warden, "valve-9")})
        else:
            status, _, _ = device_https(warden, "valve-9", "POST", f"/deviceBound/{etag}/abandon")
        assert status == 204
    assert hub.wait_until(lambda: any(
        a["rule"] == "c2d.rejections" and a["subject"] == "device default/valve-9"
        for a in json.loads(warden.cli("defender", "alerts", "--json"))["items"]), timeout=5)
    seen = {i["deviceId"]: i for i in json.loads(warden.cli("defender", "inventory", "--json"))}
    assert seen["valve-9"]["protocol"] == "https" and seen["valve-9"]["address"] == "127.0.0.1"
