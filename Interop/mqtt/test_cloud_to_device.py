"""Cloud-to-device queues (issue 4): the HTTPS device API with a plain HTTP client (receive with ETag lock
tokens and every iothub-* header, complete, reject, abandon, lock and message expiry, the depth limit),
MQTT delivery where the PUBACK completes, feedback records, and durability: a SIGKILL loses no accepted message
and never brings back a completed one."""
import json
import subprocess
import time

import pytest

import hub

C2D = "/api/v1/tenants/default/devices/{}/c2d"


def send(warden, device_id: str, body: str, **fields) -> dict:
    status, _, answer = hub.api(warden, C2D.format(device_id), "POST", {"body": body, **fields})
    assert status == 201, answer
    return json.loads(answer)


def device_https(warden, device_id: str, method: str, path: str, headers: dict | None = None,
                 body: bytes | None = None):
    token = hub.token(warden, device_id)
    headers = {"Authorization": token, **(headers or {})}
    return hub.https(warden, method, f"/devices/{device_id}/messages{path}?api-version=2020-03-13", headers, body)


def receive(warden, device_id: str, headers: dict | None = None):
    status, headers, body = device_https(warden, device_id, "GET", "/deviceBound", headers)
    return status, {k.lower(): v for k, v in headers.items()}, body


def feedback(warden) -> list[dict]:
    status, _, body = hub.api(warden, "/api/v1/tenants/default/c2d-feedback")
    assert status == 200
    return json.loads(body)["items"]


def test_https_receive_complete_reject_abandon(warden):
    hub.create_device(warden, "valve-1")
    status, _, _ = receive(warden, "valve-1")
    assert status == 204

    first = send(warden, "valve-1", "open", messageId="m-1", correlationId="c-1", ack="full",
                 properties={"reason": "schedule"}, contentType="text/plain")
    send(warden, "valve-1", "close", messageId="m-2", ack="full")
    send(warden, "valve-1", "again", messageId="m-3", ack="full")

    status, headers, body = receive(warden, "valve-1")
    assert status == 200 and body == b"open"
    etag = headers["etag"].strip('"')
    assert headers["iothub-messageid"] == "m-1" and headers["iothub-correlationid"] == "c-1"
    assert headers["iothub-sequencenumber"] == str(first["sequenceNumber"])
    assert headers["iothub-to"] == "/devices/valve-1/messages/deviceBound"
    assert headers["iothub-ack"] == "full" and headers["iothub-deliverycount"] == "0"
    assert headers["iothub-app-reason"] == "schedule" and headers["contenttype"] == "text/plain"
    assert "iothub-expiry" in headers and "iothub-enqueuedtime" in headers

    # The locked message is invisible: the next receive gets the second.
    status, headers2, body2 = receive(warden, "valve-1")
    assert status == 200 and body2 == b"close"
    status, _, _ = device_https(warden, "valve-1", "DELETE", f"/deviceBound/{etag}")
    assert status == 204
    # Completing twice: the lock is gone.
    status, _, problem = device_https(warden, "valve-1", "DELETE", f"/deviceBound/{etag}")
    assert status == 412 and json.loads(problem)["code"] == "c2d.lock_lost"
    # Reject dead-letters the second (the query is `?reject&api-version=…`).
    token = hub.token(warden, "valve-1")
    status, _, _ = hub.https(warden, "DELETE", f"/devices/valve-1/messages/deviceBound/{headers2['etag'].strip(chr(34))}"
                             "?reject&api-version=2020-03-13", {"Authorization": token})
    assert status == 204
    # Abandon puts the third back, counted.
    status, headers3, _ = receive(warden, "valve-1")
    status, _, _ = device_https(warden, "valve-1", "POST", f"/deviceBound/{headers3['etag'].strip(chr(34))}/abandon")
    assert status == 204
    status, headers3, body3 = receive(warden, "valve-1")
    assert body3 == b"again" and headers3["iothub-deliverycount"] == "1"

    assert [(f["originalMessageId"], f["statusCode"]) for f in feedback(warden)] == [
        ("m-1", "Success"), ("m-2", "Rejected")]


def test_https_telemetry_with_iothub_app_headers(warden):
    hub.create_device(warden, "valve-2")
    status, _, _ = device_https(warden, "valve-2", "POST", "/events",
                                {"iothub-app-zone": "north", "iothub-messageid": "t-1",
                                 "iothub-contenttype": "application/json"}, b'{"flow": 3}')
    assert status == 204
    status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/valve-2/telemetry")
    [message] = json.loads(body)["items"]
    assert message["body"] == '{"flow": 3}' and message["properties"] == {"zone": "north"}
    assert message["systemProperties"] == {"messageId": "t-1", "contentType": "application/json"}


def test_https_device_requests_need_the_devices_own_token(warden):
    hub.create_device(warden, "valve-3")
    hub.create_device(warden, "valve-4")
    status, _, body = hub.https(warden, "GET", "/devices/valve-3/messages/deviceBound", {})
    assert status == 401
    other = hub.token(warden, "valve-4")
    status, _, body = hub.https(warden, "GET", "/devices/valve-3/messages/deviceBound", {"Authorization": other})
    assert status == 401 and "reference" in json.loads(body)["detail"]
    warden.cli("device", "disable", "valve-3")
    status, _, _ = receive(warden, "valve-3")
    assert status == 403


def test_depth_limit_ttl_and_lock_expiry(warden_factory):
    warden = warden_factory({"c2d.max-queue-depth": 2, "c2d.lock-duration": 5})
    hub.create_device(warden, "valve-5")
    send(warden, "valve-5", "a", ttlSeconds=2, ack="negative", messageId="short")
    send(warden, "valve-5", "b")
    status, _, problem = hub.api(warden, C2D.format("valve-5"), "POST", {"body": "c"})
    assert status == 429 and json.loads(problem)["code"] == "c2d.queue_full"
    status, _, problem = hub.api(warden, C2D.format("valve-5"), "POST", {"body": "c", "ttlSeconds": 999999999})
    assert status == 400 and json.loads(problem)["code"] == "c2d.invalid_ttl"

    # The short-lived message expires (feedback Expired); the other one's lock runs out and it comes back.
    assert hub.wait_until(lambda: [f["statusCode"] for f in feedback(warden)] == ["Expired"], timeout=10)
    status, headers, body = receive(warden, "valve-5")
    assert body == b"b"
    status, _, listing = hub.api(warden, C2D.format("valve-5"))
    assert [m["state"] for m in json.loads(listing)["items"]] == ["invisible"]
    assert hub.wait_until(lambda: receive(warden, "valve-5")[2] == b"b", timeout=10)


def test_mqtt_delivery_the_puback_completes(warden):
    hub.create_device(warden, "valve-6")
    queued = send(warden, "valve-6", "while offline", ack="positive", messageId="m-off",
                  properties={"k": "v w"})
    device = hub.device_client(warden, "valve-6")
    device.start(warden.mqtt["mqtts"])
    device.paho.subscribe("devices/valve-6/messages/devicebound/#", qos=1)
    assert hub.wait_until(lambda: device.payloads() == [b"while offline"])
    topic = device.messages[0].topic
    assert topic.startswith("devices/valve-6/messages/devicebound/")
    assert "$.mid=m-off" in topic and "k=v%20w" in topic and "iothub-ack=positive" in topic
    send(warden, "valve-6", "while online")
    assert hub.wait_until(lambda: device.payloads() == [b"while offline", b"while online"])
    # paho acknowledged both: they are completed.
    assert hub.wait_until(lambda: json.loads(hub.api(warden, C2D.format("valve-6"))[2])["items"] == [])
    assert [f["originalMessageId"] for f in feedback(warden)] == ["m-off"]
    assert queued["sequenceNumber"] > 0
    device.stop()


def test_accepted_messages_survive_sigkill_and_completed_ones_stay_completed(warden_factory):
    warden = warden_factory()
    hub.create_device(warden, "valve-7")
    for n in range(5):
        send(warden, "valve-7", f"command {n}")
    # Accepted means committed.
    warden.kill()

    restarted = warden_factory()
    received = []
    for _ in range(2):
        status, headers, body = receive(restarted, "valve-7")
        received.append(body)
        status, _, _ = device_https(restarted, "valve-7", "DELETE", f"/deviceBound/{headers['etag'].strip(chr(34))}")
        assert status == 204
    assert received == [b"command 0", b"command 1"]
    # Completed means committed, too.
    restarted.kill()

    again = warden_factory()
    rest = []
    while True:
        status, headers, body = receive(again, "valve-7")
        if status == 204:
            break
        rest.append(body)
    assert rest == [b"command 2", b"command 3", b"command 4"]


def test_https_device_api_with_a_client_certificate(warden, tmp_path):
    key, certificate = tmp_path / "device.key", tmp_path / "device.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(certificate), "-days", "2", "-subj", "/CN=valve-x"],
                   check=True, capture_output=True)
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(certificate), "-noout", "-fingerprint", "-sha1"],
                                 check=True, capture_output=True, text=True).stdout
    warden.cli("device", "create", "valve-x", "--auth", "x509-thumbprint",
               "--thumbprint", fingerprint.split("=", 1)[1].strip().replace(":", ""))
    presented = (str(certificate), str(key))
    status, _, _ = hub.https(warden, "POST", "/devices/valve-x/messages/events", {"iothub-app-source": "cert"},
                             b"by certificate", certificate=presented)
    assert status == 204
    send(warden, "valve-x", "for the certificate")
    status, headers, body = hub.https(warden, "GET", "/devices/valve-x/messages/deviceBound", {},
                                      certificate=presented)
    assert status == 200 and body == b"for the certificate"
    status, _, _ = hub.https(warden, "DELETE", f"/devices/valve-x/messages/deviceBound/{headers['ETag'].strip(chr(34))}",
                             {}, certificate=presented)
    assert status == 204
    # The same certificate does not make another device, and no credential at all is refused.
    hub.create_device(warden, "valve-y")
    status, _, _ = hub.https(warden, "GET", "/devices/valve-y/messages/deviceBound", {}, certificate=presented)
    assert status == 401
    status, _, _ = hub.https(warden, "GET", "/devices/valve-x/messages/deviceBound", {})
    assert status == 401
    status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/valve-x/telemetry")
    [message] = json.loads(body)["items"]
    assert message["authMethod"] == "x509-thumbprint" and message["properties"] == {"source": "cert"}


def test_a_deleted_device_takes_its_queue_and_twin_along(warden_factory):
    warden = warden_factory()
    hub.create_device(warden, "valve-z")
    send(warden, "valve-z", "left behind")
    status, _, _ = hub.api(warden, "/api/v1/tenants/default/devices/valve-z/twin/desired", "PATCH", {"mode": "eco"})
    assert status == 200
    warden.cli("device", "delete", "valve-z")
    hub.create_device(warden, "valve-z")

    def assert_empty(server):
        status, _, listing = hub.api(server, C2D.format("valve-z"))
        assert json.loads(listing)["items"] == []
        status, _, twin = hub.api(server, "/api/v1/tenants/default/devices/valve-z/twin")
        assert json.loads(twin)["properties"]["desired"]["$version"] == 0

    assert_empty(warden)
    # The deletions are stored: a restart from the same data directory brings nothing back.
    warden.stop()
    assert_empty(warden_factory())
