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


def test_an_issuing_cas_key_is_made_and_used_inside_the_token(tmp_path, token):
    """With an HSM, `warden ca create` has the token generate the CA's P-256 key: certificates, CRLs and OCSP
    answers are signed inside it (openssl verifies all three), and no key of the CA is in the database."""
    import sqlite3

    data = tmp_path / "data"
    warden = Warden(data, {**token, "pki.http.enabled": "true", "pki.http.port": "0"})

    def openssl(*arguments):
        result = subprocess.run(["openssl", *arguments], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    try:
        warden.cli("ca", "create", "fleet")
        (tmp_path / "fleet.pem").write_text(warden.cli("ca", "show", "fleet", "--pem") + "\n")
        for device in ("hsm-a", "hsm-b"):
            openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    f"{device}.key", "-subj", f"/CN={device}", "-out", f"{device}.csr")
            (tmp_path / f"{device}.pem").write_text(warden.cli(
                "cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / f"{device}.csr"), "--device", device) + "\n")
            openssl("verify", "-CAfile", "fleet.pem", f"{device}.pem")
        url = openssl("x509", "-in", "hsm-a.pem", "-noout", "-ocsp_uri").strip()
        answer = openssl("ocsp", "-issuer", "fleet.pem", "-cert", "hsm-a.pem", "-url", url, "-CAfile", "fleet.pem")
        assert "Response verify OK" in answer and "hsm-a.pem: good" in answer
    finally:
        warden.kill()
    with sqlite3.connect(data / "warden.sqlite") as database:
        storage, sealed, label = database.execute(
            "SELECT storage, sealed_key, token_label FROM certificate_authority_keys").fetchone()
    assert storage == "pkcs11" and sealed is None and label.startswith("warden-ca/default/fleet/")

    # After a restart the token still signs for the CA.
    again = Warden(data, token)
    try:
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "c.key",
                "-subj", "/CN=hsm-c", "-out", "c.csr")
        (tmp_path / "c.pem").write_text(
            again.cli("cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / "c.csr"), "--device", "hsm-c") + "\n")
        openssl("verify", "-CAfile", "fleet.pem", "c.pem")
    finally:
        again.stop()
