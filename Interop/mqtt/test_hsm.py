"""The master key wrapped by a key in a PKCS #11 token (issue 15, item 3), with Debian's SoftHSM2: a fresh data
directory keeps only `master.key.wrapped`; a directory with a plain `master.key` moves into the token; restarts
(and a kill -9) open the same secrets; a wrong PIN, or no HSM configured, stops start-up with a clear reason."""
import pathlib
import subprocess

import pytest

from conftest import Warden

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture
def token(tmp_path, monkeypatch):
    if not pathlib.Path(MODULE).exists():
        pytest.fail("SoftHSM2 is missing: scripts/test-dependencies.sh installs softhsm2")
    (tmp_path / "tokens").mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "warden", "--pin", "4321", "--so-pin",
                    "8765"], check=True, capture_output=True)
    return {"hsm.module": MODULE, "hsm.token-label": "warden", "hsm.pin": "4321"}


def test_the_master_key_lives_wrapped_by_the_token(tmp_path, token):
    data = tmp_path / "data"
    warden = Warden(data, token)
    try:
        warden.cli("device", "create", "hsm-1")
        keys = warden.cli("device", "show", "hsm-1", "--json")
    finally:
        warden.kill()
    assert not (data / "master.key").exists() and (data / "master.key.wrapped").exists()
    assert b"hsm-1" not in (data / "master.key.wrapped").read_bytes()

    again = Warden(data, token)
    try:
        assert again.cli("device", "show", "hsm-1", "--json") == keys
    finally:
        again.stop()
    with pytest.raises(RuntimeError, match="wrong PIN"):
        Warden(data, {**token, "hsm.pin": "0000"})
    with pytest.raises(RuntimeError, match="wrapped by an HSM"):
        Warden(data)


def test_a_plain_master_key_moves_into_the_token(tmp_path, token):
    data = tmp_path / "data"
    plain = Warden(data)
    try:
        plain.cli("device", "create", "before-hsm")
    finally:
        plain.stop()
    assert (data / "master.key").exists()
    moved = Warden(data, token)
    try:
        assert "before-hsm" in moved.cli("device", "show", "before-hsm")
    finally:
        moved.stop()
    assert not (data / "master.key").exists() and (data / "master.key.wrapped").exists()
