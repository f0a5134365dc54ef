"""x509-ca devices (issue 3, "Authentication at CONNECT" (c)): a tenant registers its CA, proves possession of
its key with a certificate for the hub's verification code, and devices whose certificate chains to the CA
with CN = device id connect with no password. Certificates made with openssl."""
import json
import subprocess

import paho.mqtt.client as mqtt

import hub


def openssl(folder, *arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=folder)


def make_ca(folder, name: str):
    openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature")
    return folder / f"{name}.pem"


def issue(folder, ca: str, common_name: str, file: str):
    """A leaf certificate for `common_name` signed by `ca`; returns (certificate, key) paths."""
    openssl(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{file}.key",
            "-out", f"{file}.csr", "-subj", f"/CN={common_name}")
    (folder / f"{file}.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    openssl(folder, "x509", "-req", "-in", f"{file}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{file}.pem", "-days", "10", "-extfile", f"{file}.ext")
    return folder / f"{file}.pem", folder / f"{file}.key"


def connect_with(warden, device_id: str, certificate, key, version=mqtt.MQTTv5) -> int:
    client = hub.Client(device_id, version)
    client.paho.username_pw_set(hub.username(device_id))
    client.paho.tls_set(ca_certs=warden.ca, certfile=str(certificate), keyfile=str(key))
    code = client.start(warden.mqtt["mqtts"], host="localhost").value
    client.stop()
    return code


def test_registered_and_verified_ca_admits_its_devices(warden, tmp_path):
    make_ca(tmp_path, "fleet-ca")
    make_ca(tmp_path, "other-ca")
    warden.cli("ca", "add", "fleet", "--certificate", str(tmp_path / "fleet-ca.pem"))
    warden.cli("device", "create", "truck-7", "--auth", "x509-ca")
    certificate, key = issue(tmp_path, "fleet-ca", "truck-7", "truck-7")

    # Registered but not verified: refused.
    assert connect_with(warden, "truck-7", certificate, key) == 0x86

    code = warden.cli("ca", "verification-code", "fleet")
    wrong_proof, _ = issue(tmp_path, "other-ca", code, "wrong-proof")
    result = warden.run_cli("ca", "verify", "fleet", "--certificate", str(wrong_proof))
    assert result.returncode == 65 and "did not sign" in result.stderr

    proof, _ = issue(tmp_path, "fleet-ca", code, "proof")
    warden.cli("ca", "verify", "fleet", "--certificate", str(proof))
    assert json.loads(warden.cli("ca", "show", "fleet", "--json"))["verified"] is True

    assert connect_with(warden, "truck-7", certificate, key) == 0
    assert connect_with(warden, "truck-7", certificate, key, mqtt.MQTTv311) == 0
    # A certificate from the CA for another device id does not prove truck-7.
    impostor, impostor_key = issue(tmp_path, "fleet-ca", "truck-8", "impostor")
    assert connect_with(warden, "truck-7", impostor, impostor_key) == 0x86
    # A chain to an unregistered CA does not either.
    stranger, stranger_key = issue(tmp_path, "other-ca", "truck-7", "stranger")
    assert connect_with(warden, "truck-7", stranger, stranger_key) == 0x86

    warden.cli("ca", "delete", "fleet")
    assert connect_with(warden, "truck-7", certificate, key) == 0x86

