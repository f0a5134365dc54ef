"""Backup and restore (issue 16, "Recover") against the real binary: a backup of a running hub (online, while a
device publishes), sealed with a passphrase or under the master key, restores into a new data directory whose hub
starts with every device's credentials working (a SAS token made before the backup connects), its telemetry and
twins kept, the admin credential working and the audit chain verifying. Bad passphrases, wrong master keys, cut or
changed archives and non-empty targets are refused with a clear error and write nothing."""
import json
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

import hub
from conftest import BINARY


def restore(archive, target, *extra, env=None):
    return subprocess.run([BINARY, "backup", "restore", str(archive), "--data-dir", str(target), *extra],
                          capture_output=True, text=True, timeout=60, env=env)


def test_a_backup_restores_into_a_hub_whose_devices_connect(warden_factory, tmp_path):
    warden = warden_factory()
    hub.create_device(warden, "meter-1")
    hub.create_device(warden, "meter-2", "--auth", "x509-thumbprint", "--thumbprint", "cd" * 32)
    token = hub.token(warden, "meter-1", "2h")
    client = hub.device_client(warden, "meter-1", mqtt.MQTTv5, password=token)
    assert client.start(warden.mqtt["mqtts"]) == 0
    info = client.paho.publish("devices/meter-1/messages/events/", b"before the backup", qos=1)
    assert hub.wait_until(lambda: info.mid in client.pubacks)
    warden.cli("twin", "set-desired", "meter-1", json.dumps({"interval": 30}))

    # Online: the device keeps publishing while the backups are made.
    publishing = threading.Event()
    publishing.set()

    def publish():
        while publishing.is_set():
            client.paho.publish("devices/meter-1/messages/events/", b"during", qos=1)
            time.sleep(0.01)
    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    (tmp_path / "pass").write_text("correct horse battery staple\n")
    shown = warden.cli("backup", "create", str(tmp_path / "with-pass.backup"), "--passphrase-file", str(tmp_path / "pass"))
    assert "with the passphrase" in shown
    assert "master.key apart" in warden.cli("backup", "create", str(tmp_path / "with-key.backup"))
    publishing.clear()
    thread.join()
    client.stop()
    assert (tmp_path / "with-pass.backup").stat().st_mode & 0o777 == 0o600
    short = warden.run_cli("backup", "create", str(tmp_path / "x.backup"), "--passphrase-file", str(tmp_path / "x"))
    assert short.returncode == 66 and "Cannot read" in short.stderr
    (tmp_path / "short").write_text("tooshort\n")
    short = warden.run_cli("backup", "create", str(tmp_path / "x.backup"), "--passphrase-file", str(tmp_path / "short"))
    assert short.returncode == 65 and "at least 12" in short.stderr and not (tmp_path / "x.backup").exists()

    # Refusals write nothing.
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    refused = restore(tmp_path / "with-pass.backup", tmp_path / "r1", "--passphrase-file", str(wrong))
    assert refused.returncode == 65 and "does not open" in refused.stderr and not (tmp_path / "r1").exists()
    refused = restore(tmp_path / "with-key.backup", tmp_path / "r1")
    assert refused.returncode == 65 and "master key" in refused.stderr
    other_key = tmp_path / "other.key"
    other_key.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    refused = restore(tmp_path / "with-key.backup", tmp_path / "r1", "--master-key-file", str(other_key))
    assert refused.returncode == 65 and "not this one" in refused.stderr
    whole = (tmp_path / "with-pass.backup").read_bytes()
    (tmp_path / "cut.backup").write_bytes(whole[:len(whole) // 2])
    refused = restore(tmp_path / "cut.backup", tmp_path / "r1", "--passphrase-file", str(tmp_path / "pass"))
    assert refused.returncode == 65 and "cut short" in refused.stderr, refused.stderr
    changed = bytearray(whole)
    changed[len(changed) // 2] ^= 0x01
    (tmp_path / "changed.backup").write_bytes(bytes(changed))
    refused = restore(tmp_path / "changed.backup", tmp_path / "r1", "--passphrase-file", str(tmp_path / "pass"))
    assert refused.returncode == 65 and "does not open" in refused.stderr
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "something").write_text("x")
    refused = restore(tmp_path / "with-pass.backup", tmp_path / "busy", "--passphrase-file", str(tmp_path / "pass"))
    assert refused.returncode != 0 and "not an empty directory" in refused.stderr
    (tmp_path / "a-file").write_text("keep me")
    refused = restore(tmp_path / "with-pass.backup", tmp_path / "a-file", "--passphrase-file", str(tmp_path / "pass"))
    assert refused.returncode != 0 and (tmp_path / "a-file").read_text() == "keep me", "a file is never replaced"
    assert not (tmp_path / "r1").exists() and not list(tmp_path.glob("*.restoring*"))

    # The passphrase backup carries the master key; the master-key one needs it given.
    done = restore(tmp_path / "with-pass.backup", tmp_path / "from-pass", "--passphrase-file", str(tmp_path / "pass"))
    assert done.returncode == 0, done.stderr
    done = restore(tmp_path / "with-key.backup", tmp_path / "from-key", "--master-key-file",
                   str(warden.data_dir / "master.key"))
    assert done.returncode == 0, done.stderr
    warden.stop()
    for name in ("from-pass", "from-key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o700 and (tmp_path / name / "master.key").stat().st_mode & 0o777 == 0o600
        restored = warden_factory(name=name)
        again = hub.device_client(restored, "meter-1", mqtt.MQTTv5, password=token)
        assert again.start(restored.mqtt["mqtts"]) == 0, f"{name}: a token made before the backup connects"
        again.stop()
        bodies = [json.loads(line)["body"] for line in restored.cli("telemetry", "meter-1", "--json").splitlines()]
        assert bodies[0] == "before the backup" and len(bodies) >= 1
        assert json.loads(restored.cli("twin", "show", "meter-1"))["properties"]["desired"]["interval"] == 30
        assert "meter-2" in restored.cli("device", "list")
        assert "is intact" in restored.cli("audit", "verify")
        restored.stop()
