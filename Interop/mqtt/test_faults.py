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
    return subprocess.run([conftest.BINARY, "serve", "--data-dir", str(data_dir), "--https-port", "0", "--mqtt-port", "0"],
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
