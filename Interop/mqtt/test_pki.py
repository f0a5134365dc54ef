"""Warden as a tenant's certificate authority (issue 15): `warden ca create`, device certificates issued from
openssl CSRs, renewed and revoked; the CRL and OCSP answers checked by `openssl crl` and `openssl ocsp`; a
revoked certificate's live connection closed at once and refused after. Hostile CSRs and OCSP requests."""
import json
import subprocess
import time
import urllib.request

import paho.mqtt.client as mqtt

import hub


def openssl(folder, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *arguments], capture_output=True, text=True, cwd=folder)


def csr(folder, common_name: str, name: str):
    result = openssl(folder, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={common_name}")
    assert result.returncode == 0, result.stderr
    return folder / f"{name}.csr"


def issue(warden, folder, device: str, name: str, *extra: str):
    request = csr(folder, device, name)
    pem = warden.cli("cert", "issue", "--ca", "fleet", "--csr", str(request), "--device", device, *extra)
    (folder / f"{name}.pem").write_text(pem + "\n")
    serial = openssl(folder, "x509", "-in", f"{name}.pem", "-noout", "-serial").stdout.strip().split("=")[1]
    return folder / f"{name}.pem", folder / f"{name}.key", serial


def canonical(serial: str) -> str:
    """A serial as Warden writes it: upper-case hex without leading zero bytes."""
    serial = serial.upper()
    while serial.startswith("00") and len(serial) > 2:
        serial = serial[2:]
    return serial


def connect(warden, device: str, certificate, key) -> tuple[hub.Client, int]:
    client = hub.Client(device, mqtt.MQTTv5)
    client.paho.username_pw_set(hub.username(device))
    client.paho.tls_set(ca_certs=warden.ca, certfile=str(certificate), keyfile=str(key))
    return client, client.start(warden.mqtt["mqtts"], host="localhost").value


def test_a_tenant_runs_its_pki_in_warden(warden_factory, tmp_path):
    warden = warden_factory({"pki.http.enabled": "true", "pki.http.port": "0"})
    created = json.loads(warden.cli("ca", "create", "fleet", "--common-name", "Fleet Devices", "--json"))
    assert created["issuing"] and created["verified"]
    (tmp_path / "fleet.pem").write_text(warden.cli("ca", "show", "fleet", "--pem") + "\n")
    warden.cli("device", "create", "meter-1", "--auth", "x509-ca")

    certificate, key, serial = issue(warden, tmp_path, "meter-1", "meter-1", "--days", "30")
    verified = openssl(tmp_path, "verify", "-CAfile", "fleet.pem", "-purpose", "sslclient", "meter-1.pem")
    assert verified.returncode == 0, verified.stderr
    text = openssl(tmp_path, "x509", "-in", "meter-1.pem", "-noout", "-text").stdout
    assert "CN = meter-1" in text and "TLS Web Client Authentication" in text
    ocsp_url = openssl(tmp_path, "x509", "-in", "meter-1.pem", "-noout", "-ocsp_uri").stdout.strip()
    crl_url = next(line.strip()[4:] for line in text.splitlines() if line.strip().startswith("URI:http"))
    assert ocsp_url.startswith("http://localhost:") and ocsp_url.endswith("/pki/ocsp")
    assert crl_url.endswith("/pki/default/fleet.crl")

    def ocsp(pem: str) -> str:
        result = openssl(tmp_path, "ocsp", "-issuer", "fleet.pem", "-cert", pem, "-url", ocsp_url, "-CAfile",
                         "fleet.pem", "-resp_text")
        assert result.returncode == 0, result.stderr
        assert "Response verify OK" in result.stderr + result.stdout
        return result.stdout

    def crl() -> str:
        (tmp_path / "fleet.crl").write_bytes(urllib.request.urlopen(crl_url, timeout=10).read())
        result = openssl(tmp_path, "crl", "-inform", "DER", "-in", "fleet.crl", "-CAfile", "fleet.pem", "-noout",
                         "-text")
        assert result.returncode == 0 and "verify OK" in result.stderr + result.stdout, result.stderr
        return result.stdout

    assert f"{certificate.name}: good" in ocsp(str(certificate)) and "Next Update" in crl()

    live, code = connect(warden, "meter-1", certificate, key)
    assert code == 0
    renewed, renewed_key = tmp_path / "renewed.pem", tmp_path / "renewed.key"
    request = csr(tmp_path, "meter-1", "renewed")
    renewed_pem = warden.cli("cert", "renew", serial, "--csr", str(request))
    renewed.write_text(renewed_pem + "\n")
    listing = json.loads(warden.cli("cert", "list", "--device", "meter-1", "--json"))
    assert {item["status"] for item in listing} == {"valid"} and len(listing) == 2
    renewed_serial = next(item["serial"] for item in listing if item.get("renewedFrom") == canonical(serial))

    started = time.monotonic()
    warden.cli("cert", "revoke", serial, "--reason", "keyCompromise")
    assert live.disconnected.wait(1.0), "the revoked certificate's connection is still open after 1 s"
    assert time.monotonic() - started < 1.0
    assert live.disconnect_reason == 0x98
    live.paho.loop_stop()
    refused, code = connect(warden, "meter-1", certificate, key)
    assert code == 0x86
    refused.stop()
    # The renewed certificate still connects; the revoked one is listed in the CRL and OCSP says so.
    again, code = connect(warden, "meter-1", renewed, renewed_key)
    assert code == 0
    again.stop()
    answer = ocsp(str(certificate))
    assert "revoked" in answer and "Reason: keyCompromise" in answer
    assert f"{renewed.name}: good" in ocsp(str(renewed))
    listed = crl()
    assert canonical(serial) in listed.upper() and "Key Compromise" in listed
    shown = json.loads(warden.cli("cert", "show", serial, "--json"))
    assert shown["status"] == "revoked" and shown["revocation"]["reason"] == "keyCompromise"
    assert json.loads(warden.cli("cert", "show", renewed_serial, "--json"))["status"] == "valid"
    again_revoke = warden.run_cli("cert", "revoke", serial)
    assert again_revoke.returncode != 0 and "revoked already" in again_revoke.stderr


def test_hostile_requests_get_clear_refusals(warden_factory, tmp_path):
    warden = warden_factory({"pki.http.enabled": "true", "pki.http.port": "0"})
    warden.cli("ca", "create", "fleet")
    other = csr(tmp_path, "meter-2", "other")
    result = warden.run_cli("cert", "issue", "--ca", "fleet", "--csr", str(other), "--device", "meter-1")
    assert result.returncode != 0 and "names 'meter-2'" in result.stderr
    (tmp_path / "garbage.csr").write_text("-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n"
                                           "-----END CERTIFICATE REQUEST-----\n")
    result = warden.run_cli("cert", "issue", "--ca", "fleet", "--csr", str(tmp_path / "garbage.csr"),
                            "--device", "meter-1")
    assert result.returncode != 0 and "PKCS #10" in result.stderr
    # A registered CA (not created by Warden) issues nothing.
    openssl(tmp_path, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            "ext.key", "-out", "ext.pem", "-days", "30", "-subj", "/CN=ext", "-addext",
            "basicConstraints=critical,CA:TRUE")
    warden.cli("ca", "add", "external", "--certificate", str(tmp_path / "ext.pem"))
    request = csr(tmp_path, "meter-1", "meter-1")
    result = warden.run_cli("cert", "issue", "--ca", "external", "--csr", str(request), "--device", "meter-1")
    assert result.returncode != 0 and "registered, not created" in result.stderr

    # OCSP: garbage is malformedRequest (1), a CA Warden does not run is unauthorized (6), an unknown serial of
    # its own CA is "unknown".
    certificate, _, _ = issue(warden, tmp_path, "meter-1", "meter-1b")
    ocsp_url = openssl(tmp_path, "x509", "-in", str(certificate), "-noout", "-ocsp_uri").stdout.strip()

    def post(body: bytes) -> bytes:
        request = urllib.request.Request(ocsp_url, data=body, headers={"Content-Type": "application/ocsp-request"})
        return urllib.request.urlopen(request, timeout=10).read()

    assert post(b"\x30\x03\x02\x01\x00") == b"\x30\x03\x0a\x01\x01"
    assert post(b"") == b"\x30\x03\x0a\x01\x01"
    assert post(bytes(range(256)) * 8) == b"\x30\x03\x0a\x01\x01"
    (tmp_path / "fleet.pem").write_text(warden.cli("ca", "show", "fleet", "--pem") + "\n")
    stranger = openssl(tmp_path, "ocsp", "-issuer", "ext.pem", "-serial", "0x01", "-url", ocsp_url, "-noverify")
    assert "unauthorized" in (stranger.stdout + stranger.stderr).lower()
    unknown = openssl(tmp_path, "ocsp", "-issuer", "fleet.pem", "-serial", "0x0BADC0DE", "-url", ocsp_url,
                      "-CAfile", "fleet.pem")
    assert unknown.returncode == 0 and ": unknown" in unknown.stdout
    # A CRL of a CA that does not exist, or a file that is not a CRL, is a 404 problem.
    base = ocsp_url.rsplit("/ocsp", 1)[0]
    for path in ["/default/nope.crl", "/default/fleet.pem", "/nope/fleet.crl"]:
        try:
            urllib.request.urlopen(base + path, timeout=10)
            raise AssertionError(path + " answered")
        except urllib.error.HTTPError as error:
            assert error.code == 404, (path, error.code)


def test_an_external_cas_crl_revokes_live_connections(warden, tmp_path):
    """A CA the tenant runs (openssl ca): its CRL, uploaded or fetched from a distribution point on loopback,
    revokes certificates at once; hard-fail refuses every certificate of the CA until a CRL is in force."""
    import http.server
    import threading

    from certificates import issue as issue_external, make_ca

    make_ca(tmp_path, "ext")
    (tmp_path / "index.txt").write_text("")
    (tmp_path / "crlnumber").write_text("01\n")
    (tmp_path / "ca.cnf").write_text(
        "[ ca ]\ndefault_ca = ext\n[ ext ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n"
        "default_crl_days = 1\ncertificate = ext.pem\nprivate_key = ext.key\n")

    def gencrl(name: str):
        result = openssl(tmp_path, "ca", "-config", "ca.cnf", "-gencrl", "-out", name)
        assert result.returncode == 0, result.stderr
        return tmp_path / name

    warden.cli("ca", "add", "ext", "--certificate", str(tmp_path / "ext.pem"))
    code = warden.cli("ca", "verification-code", "ext")
    proof, _ = issue_external(tmp_path, "ext", code, "proof")
    warden.cli("ca", "verify", "ext", "--certificate", str(proof))
    for device in ("cam-1", "cam-2"):
        warden.cli("device", "create", device, "--auth", "x509-ca")
    first, first_key = issue_external(tmp_path, "ext", "cam-1", "cam-1")
    second, second_key = issue_external(tmp_path, "ext", "cam-2", "cam-2")

    warden.cli("ca", "revocation", "ext", "--mode", "hard-fail")
    refused, code = connect(warden, "cam-1", first, first_key)
    refused.stop()
    assert code == 0x86, "hard-fail without a CRL admits nobody"
    empty = gencrl("empty.crl")
    shown = json.loads(warden.cli("ca", "crl", "ext", "--upload", str(empty), "--json"))
    assert shown["current"] and shown["revokedCount"] == 0 and shown["source"] == "upload"

    live, code = connect(warden, "cam-1", first, first_key)
    assert code == 0
    assert openssl(tmp_path, "ca", "-config", "ca.cnf", "-revoke", str(first), "-crl_reason",
                   "keyCompromise").returncode == 0
    revoking = gencrl("revoking.crl")
    started = time.monotonic()
    warden.cli("ca", "crl", "ext", "--upload", str(revoking))
    assert live.disconnected.wait(1.0) and time.monotonic() - started < 1.0
    live.paho.loop_stop()
    stale = warden.run_cli("ca", "crl", "ext", "--upload", str(empty))
    assert stale.returncode != 0 and "older than the one in force" in stale.stderr
    garbage = tmp_path / "garbage.crl"
    garbage.write_bytes(b"\x30\x82\xff\xff" + bytes(100))
    result = warden.run_cli("ca", "crl", "ext", "--upload", str(garbage))
    assert result.returncode != 0 and "revocation list" in result.stderr

    # A distribution point on loopback: fetched as soon as it is set, and what it revokes closes at once.
    live, code = connect(warden, "cam-2", second, second_key)
    assert code == 0
    assert openssl(tmp_path, "ca", "-config", "ca.cnf", "-revoke", str(second)).returncode == 0
    gencrl("served.crl")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.crl"
        warden.cli("ca", "revocation", "ext", "--mode", "hard-fail", "--crl-url", url, "--refresh", "60")
        assert live.disconnected.wait(10), "the fetched CRL did not close the revoked connection"
        status = json.loads(warden.cli("ca", "crl", "ext", "--json"))
        assert status["source"] == url and status["revokedCount"] == 2
    finally:
        live.paho.loop_stop()
        server.shutdown()


def test_an_external_cas_ocsp_responder_decides_at_connection(warden_factory, tmp_path):
    """A CA the tenant runs answers OCSP with `openssl ocsp` (a responder Warden did not write); with `--ocsp`,
    each connection's certificate is asked of the responder its AIA names: good connects, revoked is refused;
    hard-fail also refuses while the responder is down, soft-fail lets the certificate in."""
    import socket

    from certificates import make_ca

    warden = warden_factory({"pki.ocsp-cache": 1})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_ca(tmp_path, "ext")
    (tmp_path / "index.txt").write_text("")
    (tmp_path / "ca.cnf").write_text(
        "[ ca ]\ndefault_ca = ext\n[ ext ]\ndatabase = index.txt\ndefault_md = sha256\n"
        "certificate = ext.pem\nprivate_key = ext.key\n")

    def issue_with_aia(device: str):
        csr(tmp_path, device, device)
        (tmp_path / f"{device}.ext").write_text(
            f"basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:{port}\n")
        result = openssl(tmp_path, "x509", "-req", "-in", f"{device}.csr", "-CA", "ext.pem", "-CAkey", "ext.key",
                         "-CAcreateserial", "-out", f"{device}.pem", "-days", "10", "-extfile", f"{device}.ext")
        assert result.returncode == 0, result.stderr
        serial = openssl(tmp_path, "x509", "-in", f"{device}.pem", "-noout", "-serial").stdout.strip().split("=")[1]
        expiry = openssl(tmp_path, "x509", "-in", f"{device}.pem", "-noout", "-enddate").stdout.strip().split("=")[1]
        stamp = time.strftime("%y%m%d%H%M%SZ", time.strptime(expiry, "%b %d %H:%M:%S %Y %Z"))
        with open(tmp_path / "index.txt", "a") as index:
            index.write(f"V\t{stamp}\t\t{serial}\tunknown\t/CN={device}\n")
        return tmp_path / f"{device}.pem", tmp_path / f"{device}.key"

    def responder():
        return subprocess.Popen(
            ["openssl", "ocsp", "-index", "index.txt", "-port", str(port), "-rsigner", "ext.pem", "-rkey",
             "ext.key", "-CA", "ext.pem", "-nmin", "10", "-ignore_err"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    from certificates import issue as issue_external
    warden.cli("ca", "add", "ext", "--certificate", str(tmp_path / "ext.pem"))
    proof, _ = issue_external(tmp_path, "ext", warden.cli("ca", "verification-code", "ext"), "proof")
    warden.cli("ca", "verify", "ext", "--certificate", str(proof))
    for device in ("cam-1", "cam-2"):
        warden.cli("device", "create", device, "--auth", "x509-ca")
    first = issue_with_aia("cam-1")
    second = issue_with_aia("cam-2")
    shown = json.loads(warden.cli("ca", "revocation", "ext", "--mode", "hard-fail", "--ocsp", "--json"))
    assert shown["revocation"]["ocsp"] is True

    # Hard-fail, responder down: no status, refused (and no CRL is asked for).
    client, code = connect(warden, "cam-1", *first)
    client.stop()
    assert code == 0x86
    server = responder()
    try:
        # openssl itself sees the responder's answer first.
        assert hub.wait_until(lambda: "cam-1.pem: good" in openssl(
            tmp_path, "ocsp", "-issuer", "ext.pem", "-cert", "cam-1.pem", "-url", f"http://127.0.0.1:{port}",
            "-CAfile", "ext.pem").stdout, timeout=10)
        assert hub.wait_until(lambda: connect_and_close(warden, "cam-1", first) == 0, timeout=10)
        assert openssl(tmp_path, "ca", "-config", "ca.cnf", "-revoke", str(first[0]), "-crl_reason",
                       "keyCompromise").returncode == 0
        server.terminate()
        server.wait()
        server = responder()
        # Once the restarted responder answers (before, hard-fail refuses cam-2 too: no status to be had)...
        assert hub.wait_until(lambda: "cam-1.pem: revoked" in openssl(
            tmp_path, "ocsp", "-issuer", "ext.pem", "-cert", "cam-1.pem", "-url", f"http://127.0.0.1:{port}",
            "-CAfile", "ext.pem").stdout, timeout=10)
        # ...and the good answer kept for pki.ocsp-cache (1 s) is gone, the revoked one refuses.
        assert hub.wait_until(lambda: connect_and_close(warden, "cam-1", first) == 0x86, timeout=10)
        assert connect_and_close(warden, "cam-2", second) == 0
    finally:
        server.terminate()
        server.wait()
    records = json.loads(warden.cli("audit", "query", "--action", "device.authenticate", "--outcome", "denied",
                                    "--json"))["items"]
    assert {"auth.certificate_revoked", "auth.revocation_unknown"} <= {r["reason"] for r in records}

    # Soft-fail with the responder down: cam-2 connects (after its cached answer is gone, nobody can say).
    warden.cli("ca", "revocation", "ext", "--mode", "soft-fail", "--ocsp")
    time.sleep(1.2)
    assert connect_and_close(warden, "cam-2", second) == 0


def connect_and_close(warden, device: str, certificate) -> int:
    client, code = connect(warden, device, *certificate)
    client.stop()
    return code
