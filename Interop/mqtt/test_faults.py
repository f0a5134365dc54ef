"""Faults at start-up (issue 13, "Faults"): a corrupted or foreign database file, or a damaged or wrong master key,
stops `warden serve` with a clear message and exit 78, and nothing in the data directory is changed."""
import base64
import hashlib
import os
import pathlib
import shutil
import sqlite3
import subprocess

import pytest

import conftest


def start(data_dir: pathlib.Path, **environment) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")} | environment
    return subprocess.run([conftest.BINARY, "serve", "--data-dir", str(data_dir), "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"],
                          capture_output=True, text=True, timeout=60, env=env)


def digest(folder: pathlib.Path) -> dict[str, str]:
    """Every file's hash, but SQLite's own shared-memory index and an empty log, which a read-only look at a
    WAL database may create."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm") and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> pathlib.Path:
    """A data directory a real server created and stopped."""
    folder = tmp_path_factory.mktemp("made") / "warden-data"
    server = conftest.Warden(folder)
    server.stop()
    return folder


def corrupt_database(folder: pathlib.Path):
    for suffix in ("-wal", "-shm"):
        (folder / f"warden.sqlite{suffix}").unlink(missing_ok=True)
    (folder / "warden.sqlite").write_bytes(os.urandom(16384))


def foreign_database(folder: pathlib.Path):
    for suffix in ("", "-wal", "-shm"):
        (folder / f"warden.sqlite{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(folder / "warden.sqlite")
    connection.execute("CREATE TABLE customers (id INTEGER)")
    connection.commit()
    connection.close()


def newer_database(folder: pathlib.Path):
    connection = sqlite3.connect(folder / "warden.sqlite")
    connection.execute("INSERT INTO grdb_migrations (identifier) VALUES ('9999-from-a-newer-warden')")
    connection.commit()
    connection.close()


def damaged_key(folder: pathlib.Path):
    (folder / "master.key").write_bytes(os.urandom(40))


def wrong_key(folder: pathlib.Path):
    (folder / "master.key").write_text(base64.b64encode(os.urandom(32)).decode())


@pytest.mark.parametrize("damage, message", [
    (corrupt_database, "not a readable SQLite database"),
    (foreign_database, "not a Warden database"),
    (newer_database, "newer Warden"),
    (damaged_key, "master key"),
    (wrong_key, "master key"),
])
def test_a_damaged_data_directory_stops_start_up_with_78_and_is_left_alone(made, tmp_path, damage, message):
    folder = tmp_path / "warden-data"
    shutil.copytree(made, folder)
    damage(folder)
    before = digest(folder)
    result = start(folder)
    assert result.returncode == 78, result.stderr
    assert message in result.stderr
    assert digest(folder) == before


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs for a data directory (needs root, as CI runs)."""
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mountpoint)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(folder: pathlib.Path) -> pathlib.Path:
    """Takes every free byte of the file system with one file."""
    filler = folder / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_withholds_acknowledgements_and_recovers_by_itself(small_disk):
    """When SQLite cannot write, QoS 1 PUBACKs are withheld (nothing unstored is acknowledged), the API refuses
    changes with 503 `store.unavailable` and /readyz says not ready, the process stays up, and once space returns
    the withheld messages are stored and acknowledged on the same connection; a SIGKILL afterwards loses none."""
    import hub
    warden = conftest.Warden(small_disk / "warden-data")
    try:
        hub.create_device(warden, "filler-1")
        device = hub.device_client(warden, "filler-1")
        assert device.start(warden.mqtt["mqtts"]) == 0
        filler = fill(small_disk)
        payload = b"z" * 200_000
        infos = [device.paho.publish("devices/filler-1/messages/events/", payload, qos=1) for _ in range(60)]
        hub.wait_until(lambda: False, timeout=3)
        withheld = sum(not info.is_published() for info in infos)
        assert withheld > 0, "the disk is full, yet every message was acknowledged"
        # The broker's writer is failing, so changes are refused at once, reads work, and the hub is not ready.
        status, _, body = hub.api(warden, "/api/v1/tenants/default/devices", "POST", {"deviceId": "while-full"})
        assert status == 503 and b"store.unavailable" in body, (status, body)
        assert hub.api(warden, "/api/v1/tenants/default/devices")[0] == 200
        assert hub.api(warden, "/readyz")[0] == 503
        assert warden.process.poll() is None, "the hub exited on a full disk"

        filler.unlink()
        assert hub.wait_until(lambda: all(info.is_published() for info in infos), timeout=60), \
            "the withheld messages were not stored once space returned"
        assert hub.wait_until(lambda: hub.api(warden, "/readyz")[0] == 200)
        status, _, body = hub.api(warden, "/api/v1/tenants/default/devices", "POST", {"deviceId": "after-full"})
        assert status == 201, body
        device.stop()
        warden.kill()
        warden = conftest.Warden(small_disk / "warden-data")
        status, _, body = hub.api(warden, "/api/v1/tenants/default/devices/filler-1/telemetry?limit=1000")
        assert status == 200 and body.count(b'"sequenceNumber"') == 60
    finally:
        warden.stop()
