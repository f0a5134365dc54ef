"""SIGHUP reloads the server certificate for new MQTT and HTTPS connections without dropping live ones
(issue 3, "Listeners")."""
import signal
import ssl
import subprocess
import urllib.request

import paho.mqtt.client as mqtt

import hub


def make_pki(folder, name: str):
    """A CA and a server certificate for localhost and 127.0.0.1 signed by it."""
    def run(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}-ca.key",
        "-out", f"{name}-ca.pem", "-days", "2", "-subj", f"/CN={name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", "/CN=localhost")
    (folder / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{name}-ca.pem", "-CAkey", f"{name}-ca.key", "-CAcreateserial",
        "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    return folder / f"{name}-ca.pem", folder / f"{name}.pem", folder / f"{name}.key"


def connects(warden, ca, token: str) -> bool:
    client = hub.Client("meter-1", mqtt.MQTTv311)
    client.paho.username_pw_set(hub.username("meter-1"), token)
    client.paho.tls_set(ca_certs=str(ca))
    try:
        client.start(warden.mqtt["mqtts"], host="localhost")
    except (ssl.SSLError, OSError, AssertionError):
        client.paho.loop_stop()
        return False
    client.stop()
    return client.connack[0] == 0


def test_sighup_swaps_the_certificate_and_keeps_live_connections(warden_factory, tmp_path):
    first_ca, first_cert, first_key = make_pki(tmp_path, "first")
    second_ca, second_cert, second_key = make_pki(tmp_path, "second")
    certificate, key = tmp_path / "server.pem", tmp_path / "server.key"
    certificate.write_bytes(first_cert.read_bytes())
    key.write_bytes(first_key.read_bytes())
    warden = warden_factory({"tls.certificate": certificate, "tls.private-key": key})
    warden.cli("device", "create", "meter-1", "--ca-file", str(first_ca))
    token = warden.cli("token", "meter-1", "--ca-file", str(first_ca))

    live = hub.Client("live", mqtt.MQTTv311)
    warden.cli("device", "create", "live", "--ca-file", str(first_ca))
    live.paho.username_pw_set(hub.username("live"), warden.cli("token", "live", "--ca-file", str(first_ca)))
    live.paho.tls_set(ca_certs=str(first_ca))
    live.start(warden.mqtt["mqtts"], host="localhost")
    result, mid = live.paho.subscribe("devices/live/messages/devicebound/#", qos=1)
    assert hub.wait_until(lambda: mid in live.subacks)

    certificate.write_bytes(second_cert.read_bytes())
    key.write_bytes(second_key.read_bytes())
    warden.process.send_signal(signal.SIGHUP)
    assert hub.wait_until(lambda: connects(warden, second_ca, token), timeout=15)
    assert not connects(warden, first_ca, token)

    # The HTTPS port (API, MQTT over WebSocket) serves the new certificate too.
    with urllib.request.urlopen(warden.url + "/healthz", context=ssl.create_default_context(cafile=second_ca)) as r:
        assert r.status == 200

    live.paho.publish("devices/live/messages/devicebound/x", b"still here", qos=1).wait_for_publish(10)
    assert hub.wait_until(lambda: live.payloads() == [b"still here"])
    assert not live.disconnected.is_set()
    live.stop()
