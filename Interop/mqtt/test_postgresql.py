"""The hub on PostgreSQL (`store.backend: postgresql`, issue 18): the real binary against a real server, with the
same guarantees as on SQLite: what a PUBACK acknowledged survives a SIGKILL, persistent sessions come back, two
nodes with one master key share the registry, and a node with another key refuses to start. The server is the one scripts/test.sh starts
(`WARDEN_TEST_POSTGRES_URL`); each test gets a database of its own."""
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import uuid

import paho.mqtt.client as mqtt
import pytest

import hub

SERVER = os.environ.get("WARDEN_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(SERVER is None, reason="WARDEN_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)")


@pytest.fixture
def database():
    """A fresh database: the store settings naming it, password apart. Tests ask for it before `warden_factory`,
    so that their servers stop before it is dropped."""
    name = "warden_interop_" + uuid.uuid4().hex
    subprocess.run(["psql", SERVER, "-q", "-c", f"CREATE DATABASE {name} TEMPLATE template0"], check=True)
    parts = urllib.parse.urlsplit(SERVER)
    url = urllib.parse.urlunsplit(
        (parts.scheme, f"{parts.username}@{parts.hostname}:{parts.port}", "/" + name, parts.query, ""))
    yield {"store.backend": "postgresql", "store.url": url, "store.password": parts.password}
    # WITH (FORCE) cannot end a backend of another role (an autovacuum worker on the new database, seen once in
    # CI): such a worker is soon done, so the drop is tried again for a while.
    for _ in range(40):
        dropped = subprocess.run(
            ["psql", SERVER, "-q", "-c", f"DROP DATABASE {name} WITH (FORCE)"], capture_output=True, text=True)
        if dropped.returncode == 0:
            return
        time.sleep(0.25)
    raise AssertionError(f"DROP DATABASE {name}: {dropped.stderr}")


def test_acknowledged_telemetry_and_sessions_survive_sigkill(database, warden_factory):
    warden = warden_factory(database)
    hub.create_device(warden, "meter-1")
    device = hub.device_client(warden, "meter-1", clean=False)
    device.start(warden.mqtt["mqtts"])
    _, mid = device.paho.subscribe("devices/meter-1/messages/devicebound/#", qos=1)
    assert hub.wait_until(lambda: mid in device.subacks)
    for n in range(100):
        info = device.paho.publish(f"devices/meter-1/messages/events/n={n}", f"reading {n}", qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    device.stop()
    warden.cli("c2d", "send", "meter-1", "--body", "wake up")
    # Every PUBACK and the API's answer are in: all of it is committed in PostgreSQL.
    warden.kill()

    restarted = warden_factory(database)
    status, _, body = hub.api(restarted, "/api/v1/tenants/default/devices/meter-1/telemetry?limit=200")
    assert status == 200, body
    assert [m["body"] for m in json.loads(body)["items"]] == [f"reading {n}" for n in range(100)]
    again = hub.device_client(restarted, "meter-1", clean=False)
    again.start(restarted.mqtt["mqtts"])
    assert again.connack[1].session_present
    assert hub.wait_until(lambda: again.payloads() == [b"wake up"])
    again.stop()


def test_a_second_node_with_the_same_master_key_serves_the_same_registry(database, warden_factory, tmp_path):
    master = subprocess.run(["openssl", "rand", "-base64", "32"], capture_output=True, text=True, check=True)
    # "master.key" becomes WARDEN_MASTER_KEY: both nodes open what the other sealed.
    settings = dict(database, **{"master.key": master.stdout.strip()})
    first = warden_factory(settings, name="node-a")
    hub.create_device(first, "meter-2")
    first.stop()

    # Another data directory (its own TLS certificate and files), the same database and master key; the
    # administrator's credential is the one stored in the database.
    second_dir = tmp_path / "node-b"
    second_dir.mkdir(mode=0o700)
    shutil.copy(first.data_dir / "admin.token", second_dir / "admin.token")
    second = warden_factory(settings, name="node-b")
    device = hub.device_client(second, "meter-2")
    assert device.start(second.mqtt["mqtts"]) == 0
    info = device.paho.publish("devices/meter-2/messages/events/", "from node b", qos=1)
    info.wait_for_publish(10)
    assert info.is_published()
    device.stop()

    # A node with another master key would seal what the others cannot open: it stops before it does.
    other = subprocess.run(["openssl", "rand", "-base64", "32"], capture_output=True, text=True, check=True)
    with pytest.raises(RuntimeError, match="every node that shares it needs the same master key"):
        warden_factory(dict(database, **{"master.key": other.stdout.strip()}), name="node-c")
