"""A kill -9 loop (issue 13, "Faults"): load on every durable path, SIGKILL at a random moment, restart on the
same data directory, and check that everything acknowledged before the kill is there exactly as acknowledged:
QoS 1 telemetry (PUBACK), cloud-to-device messages (201) that were not completed (204), QoS 1 messages queued for
an offline persistent session (PUBACK to their publisher), and admin calls (201) with their audit records.

CI runs a few cycles; `WARDEN_KILL_CYCLES=20 pytest Interop/mqtt/test_kill_loop.py -s` runs the full loop and
prints the counts."""
import json
import os
import random
import threading
import time

import paho.mqtt.client as mqtt

import hub

CYCLES = int(os.environ.get("WARDEN_KILL_CYCLES", "3"))
PLAIN = {"mqtt.plain.enabled": "true", "mqtt.plain.port": 0, "mqtt.plain.anonymous": "publish-subscribe"}
DEVICES = ["kd-1", "kd-2", "kd-3"]


class Acknowledged:
    """What the hub acknowledged before the kill, per path. MQTT publishes are kept with their paho info and
    counted as acknowledged once their PUBACK arrived (`is_published`)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.telemetry = {device: [] for device in DEVICES}
        self.session = []
        self.c2d_accepted = set()
        self.c2d_completed = set()
        # Completions sent whose answer never came: the kill may have come after their commit, before the 204.
        self.c2d_completing = set()
        self.admin = set()

    @staticmethod
    def published(pending: list) -> set[str]:
        """The payloads whose PUBACK arrived (a publish refused at once, while disconnected, never was)."""
        return {payload for info, payload in pending if info.rc == mqtt.MQTT_ERR_SUCCESS and info.is_published()}


def publish_loop(client: hub.Client, topic: str, prefix: str, pending: list, stop: threading.Event):
    n = 0
    while not stop.is_set():
        payload = f"{prefix}-{n}"
        pending.append((client.paho.publish(topic, payload, qos=1), payload))
        n += 1
        time.sleep(0.002)
    client.paho.loop_stop()


def publish_telemetry(warden, device_id: str, cycle: int, acked: Acknowledged, stop: threading.Event):
    client = hub.device_client(warden, device_id)
    if client.start(warden.mqtt["mqtts"]) == 0:
        publish_loop(client, f"devices/{device_id}/messages/events/", f"c{cycle}-{device_id}", acked.telemetry[device_id],
                     stop)


def publish_to_session(warden, cycle: int, acked: Acknowledged, stop: threading.Event):
    client = hub.Client(f"loader-{cycle}")
    client.start(warden.mqtt["mqtt"])
    publish_loop(client, "queue/work", f"s{cycle}", acked.session, stop)


def cloud_to_device(warden, cycle: int, acked: Acknowledged, stop: threading.Event):
    n = 0
    while not stop.is_set():
        body = f"m{cycle}-{n}"
        try:
            status, _, _ = hub.api(warden, "/api/v1/tenants/default/devices/kd-1/c2d", "POST", {"body": body})
        except OSError:
            return
        if status == 201:
            with acked.lock:
                acked.c2d_accepted.add(body)
        n += 1
        if n % 3 == 0:
            complete_one(warden, acked)


def complete_one(warden, acked: Acknowledged):
    """Receives the oldest message over HTTPS and completes it; a 204 means it is gone for good."""
    try:
        token = hub.token(warden, "kd-1")
        path = "/devices/kd-1/messages/deviceBound"
        status, headers, body = hub.https(warden, "GET", path + "?api-version=2020-03-13", {"Authorization": token})
        if status != 200:
            return
        etag = {k.lower(): v for k, v in headers.items()}["etag"].strip('"')
        with acked.lock:
            acked.c2d_completing.add(body.decode())
        status, _, _ = hub.https(warden, "DELETE", f"{path}/{etag}?api-version=2020-03-13", {"Authorization": token})
        with acked.lock:
            acked.c2d_completing.discard(body.decode())
            if status == 204:
                acked.c2d_completed.add(body.decode())
    except (OSError, AssertionError):
        return


def admin_calls(warden, cycle: int, acked: Acknowledged, stop: threading.Event):
    n = 0
    while not stop.is_set():
        device_id = f"adm-{cycle}-{n}"
        try:
            status, _, _ = hub.api(warden, "/api/v1/tenants/default/devices", "POST", {"deviceId": device_id})
        except OSError:
            return
        if status == 201:
            with acked.lock:
                acked.admin.add(device_id)
        n += 1


def pages(warden, path: str, query: str = "") -> list[dict]:
    items, cursor = [], None
    while True:
        status, _, body = hub.api(warden, f"{path}?limit=1000{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        page = json.loads(body)
        items += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return items


def test_nothing_acknowledged_is_lost_across_kill_9_cycles(warden_factory):
    warden = warden_factory(PLAIN)
    for device_id in DEVICES:
        hub.create_device(warden, device_id)
    sleeper = hub.Client("sleeper", mqtt.MQTTv311, clean=False)
    sleeper.start(warden.mqtt["mqtt"])
    result, mid = sleeper.paho.subscribe("queue/#", qos=1)
    assert hub.wait_until(lambda: mid in sleeper.subacks)
    sleeper.stop()

    acked = Acknowledged()
    counts = []
    rng = random.Random(int(os.environ.get("WARDEN_KILL_SEED", "13")))
    for cycle in range(CYCLES):
        stop = threading.Event()
        threads = [threading.Thread(target=publish_telemetry, args=(warden, d, cycle, acked, stop), daemon=True)
                   for d in DEVICES]
        threads += [threading.Thread(target=target, args=(warden, cycle, acked, stop), daemon=True)
                    for target in (publish_to_session, cloud_to_device, admin_calls)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(1.0, 3.0))
        warden.kill()
        stop.set()
        for thread in threads:
            thread.join(30)
        warden = restart(warden_factory, warden)

        with acked.lock:
            telemetry = {d: Acknowledged.published(acked.telemetry[d]) for d in DEVICES}
            session = Acknowledged.published(acked.session)
            # A completion without its answer may or may not have been committed: neither outcome is a loss.
            pending_c2d = acked.c2d_accepted - acked.c2d_completed - acked.c2d_completing
            admin = set(acked.admin)
        for device_id in DEVICES:
            stored = {m["body"] for m in pages(warden, f"/api/v1/tenants/default/devices/{device_id}/telemetry")}
            assert telemetry[device_id] <= stored, f"cycle {cycle}: acknowledged telemetry lost"
        queued = {m["body"] for m in pages(warden, "/api/v1/tenants/default/devices/kd-1/c2d")}
        assert pending_c2d <= queued, f"cycle {cycle}: accepted C2D lost: {sorted(pending_c2d - queued)[:5]}"
        assert not (acked.c2d_completed & queued), f"cycle {cycle}: a completed C2D message came back"
        devices = {d["deviceId"] for d in pages(warden, "/api/v1/tenants/default/devices")}
        assert admin <= devices, f"cycle {cycle}: answered admin calls lost: {sorted(admin - devices)[:5]}"
        # An admin call is answered only once its audit record is committed.
        audited = pages(warden, "/api/v1/tenants/default/audit", "&action=createDevice&outcome=success")
        assert len(audited) >= len(admin), f"cycle {cycle}: an answered admin call has no audit record"

        # The persistent session gets every acknowledged message (at least once), then is drained.
        again = hub.Client("sleeper", mqtt.MQTTv311, clean=False)
        again.start(warden.mqtt["mqtt"])
        assert again.connack[1].session_present
        assert hub.wait_until(lambda: session <= {p.decode() for p in again.payloads()}, timeout=30), \
            f"cycle {cycle}: acknowledged session messages lost"
        again.stop()
        with acked.lock:
            acked.session.clear()
        counts.append((cycle, sum(map(len, telemetry.values())), len(acked.c2d_accepted), len(acked.c2d_completed),
                       len(session), len(admin)))
    print("\ncycle, telemetry acked (total), c2d accepted, c2d completed, session acked, admin calls answered")
    for row in counts:
        print(*row, sep=", ")


def restart(warden_factory, killed):
    """A new server on the killed one's data directory."""
    return warden_factory(PLAIN, name=killed.data_dir.name)
