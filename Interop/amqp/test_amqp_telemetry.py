"""The AMQPS device endpoint (protocols.md §2) with python-qpid-proton, a third-party AMQP 1.0 stack in C:
devices authenticate with SASL PLAIN (IoT Hub's `{id}@sas.{hub}` and a SAS token) or with a CBS put-token,
and their telemetry is acknowledged (`accepted`) once stored, with its properties."""
import json

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from helpers import stored, tls

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0"}


class Device(MessagingHandler):
    """Connects, optionally puts a CBS token first, then sends `count` telemetry messages and records each
    outcome; stops when every message is settled or the connection fails."""

    def __init__(self, warden, device_id: str, count: int, user=None, password=None, cbs_token=None,
                 mechanisms="PLAIN"):
        super().__init__()
        self.warden, self.device_id, self.count = warden, device_id, count
        self.user, self.password, self.cbs_token, self.mechanisms = user, password, cbs_token, mechanisms
        self.sent = 0
        self.outcomes = []
        self.cbs_status = None
        self.errors = []
        self.connection = None

    def on_start(self, event):
        self.connection = event.container.connect(
            f"amqps://localhost:{self.warden.amqp}", user=self.user, password=self.password,
            allowed_mechs=self.mechanisms, ssl_domain=tls(self.warden), reconnect=False)
        if self.cbs_token is None:
            self.open_telemetry(event.container)
        else:
            self.cbs_sender = event.container.create_sender(self.connection, "$cbs")
            event.container.create_receiver(self.connection, "$cbs")
            self.cbs_sender.send(Message(
                id=1, reply_to="cbs", body=self.cbs_token,
                properties={"operation": "put-token", "type": "servicebus.windows.net:sastoken",
                            "name": f"localhost/devices/{self.device_id}"}))

    def open_telemetry(self, container):
        self.telemetry = container.create_sender(
            self.connection, f"amqps://localhost/devices/{self.device_id}/messages/events")

    def on_message(self, event):
        if event.receiver.source.address == "$cbs":
            self.cbs_status = (event.message.correlation_id, event.message.properties["status-code"])
            if self.cbs_status[1] == 200:
                self.open_telemetry(event.container)
            else:
                self.connection.close()

    def is_telemetry(self, link) -> bool:
        # Proton hands out a new wrapper per event: links compare by name.
        return getattr(self, "telemetry", None) is not None and link.name == self.telemetry.name

    def on_sendable(self, event):
        if not self.is_telemetry(event.sender):
            return
        while event.sender.credit and self.sent < self.count:
            event.sender.send(Message(
                id=f"m{self.sent}", content_type="application/json", body=json.dumps({"n": self.sent}).encode(),
                properties={"n": self.sent, "site": "lab"}))
            self.sent += 1

    def on_accepted(self, event):
        self.settled(event, "accepted")
        if len(self.outcomes) == getattr(self, "disable_after", -1):
            # While connected: the registry takes the device back.
            self.warden.cli("device", "disable", self.device_id)

    def on_rejected(self, event):
        self.settled(event, "rejected")

    def settled(self, event, outcome):
        if not self.is_telemetry(event.link):
            return
        self.outcomes.append(outcome)
        if len(self.outcomes) == self.count:
            self.connection.close()

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)
        self.connection.close()

    def on_connection_error(self, event):
        self.errors.append(event.connection.remote_condition.name)

    def on_transport_error(self, event):
        condition = event.transport.condition
        self.errors.append(condition.name if condition else "transport")


def run(device: Device) -> Device:
    Container(device).run()
    return device


def test_sasl_plain_device_telemetry_is_accepted_once_stored_with_its_properties(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-1")
    token = warden.cli("token", "meter-1", "--ttl", "1h")
    device = run(Device(warden, "meter-1", 50, user="meter-1@sas.localhost", password=token))
    assert device.errors == [] and device.outcomes == ["accepted"] * 50
    messages = stored(warden, "meter-1")
    assert [json.loads(m["body"])["n"] for m in messages] == list(range(50))
    assert messages[7]["properties"] == {"n": "7", "site": "lab"}
    assert messages[7]["systemProperties"]["messageId"] == "m7"
    assert messages[7]["systemProperties"]["contentType"] == "application/json"


def test_a_cbs_token_authorizes_the_device_and_a_bad_one_is_answered_401(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-2")
    token = warden.cli("token", "meter-2", "--ttl", "1h")
    device = run(Device(warden, "meter-2", 5, cbs_token=token, mechanisms="ANONYMOUS"))
    assert device.cbs_status == (1, 200) and device.outcomes == ["accepted"] * 5 and device.errors == []
    assert len(stored(warden, "meter-2")) == 5

    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    refused = run(Device(warden, "meter-2", 5, cbs_token=forged, mechanisms="ANONYMOUS"))
    assert refused.cbs_status[1] == 401 and refused.outcomes == []


def test_telemetry_of_a_device_without_an_accepted_token_is_refused(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-3")
    warden.cli("device", "create", "meter-4")
    token = warden.cli("token", "meter-3", "--ttl", "1h")
    # Authenticated as meter-3, sending as meter-4: the link is refused, nothing is stored.
    device = run(Device(warden, "meter-4", 3, user="meter-3@sas.localhost", password=token))
    assert "amqp:unauthorized-access" in device.errors and device.outcomes == []
    assert stored(warden, "meter-4") == []
    # A wrong password fails SASL.
    wrong = run(Device(warden, "meter-3", 3, user="meter-3@sas.localhost", password=token + "x"))
    assert wrong.outcomes == [] and wrong.errors


def test_a_device_disabled_while_connected_loses_its_link_at_once(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-5")
    token = warden.cli("token", "meter-5", "--ttl", "1h")
    device = Device(warden, "meter-5", 1000, user="meter-5@sas.localhost", password=token)
    device.disable_after = 10
    run(device)
    assert "amqp:unauthorized-access" in device.errors
    # What was accepted is stored (and what was submitted before the detach but not yet answered may be).
    accepted = device.outcomes.count("accepted")
    assert 10 <= accepted < 1000
    assert accepted <= len(stored(warden, "meter-5")) <= device.sent


class RefusedLinkThenTelemetry(Device):
    """Opens a link this endpoint does not serve (as the SDKs open links of features at start) before its
    telemetry: the refusal detaches that link only."""

    def open_telemetry(self, container):
        self.refused = container.create_receiver(
            self.connection, f"amqps://localhost/devices/{self.device_id}/streams/unknown")
        super().open_telemetry(container)

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)


def test_a_refused_link_leaves_the_connection_and_its_other_links_working(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-6")
    token = warden.cli("token", "meter-6", "--ttl", "1h")
    device = run(RefusedLinkThenTelemetry(warden, "meter-6", 20, user="meter-6@sas.localhost", password=token))
    assert device.errors == ["amqp:not-found"] and device.outcomes == ["accepted"] * 20


class Multiplexed(MessagingHandler):
    """One connection carrying several devices, as the C SDK multiplexes them: a put-token for each, one at a
    time on `$cbs`, then a telemetry link for each, all sending at once."""

    def __init__(self, warden, tokens: dict, count: int):
        super().__init__()
        self.warden, self.tokens, self.count = warden, tokens, count
        self.pending = list(tokens)
        self.statuses, self.sent, self.accepted, self.links = [], {}, {}, {}

    def on_start(self, event):
        self.connection = event.container.connect(
            f"amqps://localhost:{self.warden.amqp}", allowed_mechs="ANONYMOUS", ssl_domain=tls(self.warden),
            reconnect=False)
        self.cbs = event.container.create_sender(self.connection, "$cbs")
        event.container.create_receiver(self.connection, "$cbs")
        self.put_next()

    def put_next(self):
        device = self.pending[0]
        self.cbs.send(Message(
            id=device, reply_to="cbs", body=self.tokens[device],
            properties={"operation": "put-token", "type": "servicebus.windows.net:sastoken",
                        "name": f"localhost/devices/{device}"}))

    def on_message(self, event):
        self.statuses.append(event.message.properties["status-code"])
        self.pending.pop(0)
        if self.pending:
            self.put_next()
            return
        for device in self.tokens:
            link = event.container.create_sender(self.connection, f"/devices/{device}/messages/events")
            self.links[link.name] = device
            self.sent[device] = self.accepted[device] = 0

    def on_sendable(self, event):
        device = self.links.get(event.sender.name)
        while device and event.sender.credit and self.sent[device] < self.count:
            event.sender.send(Message(body=f"{device} {self.sent[device]}".encode()))
            self.sent[device] += 1

    def on_accepted(self, event):
        device = self.links.get(event.link.name)
        if device:
            self.accepted[device] += 1
            if all(n == self.count for n in self.accepted.values()):
                self.connection.close()


def test_many_devices_on_one_connection_each_get_credit_and_are_stored(warden_factory):
    warden = warden_factory(SETTINGS)
    tokens = {}
    for n in range(8):
        warden.cli("device", "create", f"mux-{n}")
        tokens[f"mux-{n}"] = warden.cli("token", f"mux-{n}", "--ttl", "1h")
    device = run(Multiplexed(warden, tokens, 60))
    assert device.statuses == [200] * 8
    assert device.accepted == {f"mux-{n}": 60 for n in range(8)}
    for n in range(8):
        assert [m["body"] for m in stored(warden, f"mux-{n}")] == [f"mux-{n} {i}" for i in range(60)]


def test_a_connection_guessing_tokens_is_closed(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-7")
    token = warden.cli("token", "meter-7", "--ttl", "1h")
    tokens = {f"meter-7": token[:-4] + "AAA="}
    guesses = Multiplexed(warden, tokens, 1)
    guesses.pending = ["meter-7"] * 6

    def on_message(event):
        guesses.statuses.append(event.message.properties["status-code"])
        guesses.pending.pop(0)
        if guesses.pending:
            guesses.put_next()

    guesses.on_message = on_message
    guesses.on_connection_error = lambda event: guesses.statuses.append(event.connection.remote_condition.name)
    run(guesses)
    assert guesses.statuses == [401] * 5 + ["amqp:unauthorized-access"]
