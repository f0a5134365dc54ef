"""X.509 devices over AMQP, as the C SDK's: the TLS client certificate proves the device (no token, no CBS);
a link naming the device is attached once the certificate chains to the tenant's verified CA with the device's
id as its common name, and refused otherwise."""
import json

from proton import Message, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container

from certificates import issue, make_ca
from helpers import stored


class CertificateDevice(MessagingHandler):
    """Connects with a client certificate (SASL ANONYMOUS, no token) and sends `count` messages on the
    telemetry link of `device_id`."""

    def __init__(self, warden, device_id, certificate, key, count):
        super().__init__()
        self.warden, self.device_id, self.count = warden, device_id, count
        self.certificate, self.key = certificate, key
        self.sent, self.accepted, self.errors = 0, 0, []

    def on_start(self, event):
        domain = SSLDomain(SSLDomain.MODE_CLIENT)
        domain.set_trusted_ca_db(self.warden.ca)
        domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
        domain.set_credentials(str(self.certificate), str(self.key), None)
        self.connection = event.container.connect(
            f"amqps://localhost:{self.warden.amqp}", allowed_mechs="ANONYMOUS", ssl_domain=domain, reconnect=False)
        event.container.create_sender(self.connection, f"/devices/{self.device_id}/messages/events")

    def on_sendable(self, event):
        while event.sender.credit and self.sent < self.count:
            event.sender.send(Message(body=json.dumps({"n": self.sent}).encode()))
            self.sent += 1

    def on_accepted(self, event):
        self.accepted += 1
        if self.accepted == self.count:
            self.connection.close()

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)
        self.connection.close()


def test_a_certificate_from_the_tenants_ca_proves_its_device_and_no_other(warden_factory, tmp_path):
    warden = warden_factory({"amqp.enabled": "true", "amqp.port": "0"})
    make_ca(tmp_path, "fleet-ca")
    warden.cli("ca", "add", "fleet", "--certificate", str(tmp_path / "fleet-ca.pem"))
    proof, _ = issue(tmp_path, "fleet-ca", warden.cli("ca", "verification-code", "fleet"), "proof")
    warden.cli("ca", "verify", "fleet", "--certificate", str(proof))
    warden.cli("device", "create", "truck-7", "--auth", "x509-ca")
    certificate, key = issue(tmp_path, "fleet-ca", "truck-7", "truck-7")

    truck = CertificateDevice(warden, "truck-7", certificate, key, 20)
    Container(truck).run()
    assert truck.errors == [] and truck.accepted == 20
    assert [json.loads(m["body"])["n"] for m in stored(warden, "truck-7")] == list(range(20))

    # A certificate of the CA for another id does not prove truck-7.
    impostor, impostor_key = issue(tmp_path, "fleet-ca", "truck-8", "impostor")
    refused = CertificateDevice(warden, "truck-7", impostor, impostor_key, 1)
    Container(refused).run()
    assert refused.errors == ["amqp:unauthorized-access"] and refused.accepted == 0
    assert len(stored(warden, "truck-7")) == 20
