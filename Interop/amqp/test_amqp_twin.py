"""Device twins over AMQP (protocols.md §2.7) with python-qpid-proton: on its two links at `/devices/{id}/twin` a
device reads its twin, patches its reported properties (stored, versioned, seen by the API) and, once it asked
for them, hears desired-property patches made through the API; a request the hub does not take is rejected."""
import json
import threading
import uuid

from proton import Message, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container

from helpers import connect_device, device

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0"}
DESIRED = "/notifications/twin/properties/desired"


def request(operation: str, correlation, resource=None, body=b" ") -> Message:
    annotations = {symbol("operation"): operation}
    if resource:
        annotations[symbol("resource")] = resource
    return Message(correlation_id=correlation, annotations=annotations, body=body)


class TwinDevice(MessagingHandler):
    """Attaches both twin links, sends `requests` one at a time (each after the answer to the one before), then
    runs `then` on another thread (it may use the API) and closes once `expect` messages arrived."""

    def __init__(self, warden, device_id, token, requests, expect, then=None):
        super().__init__(prefetch=10)
        self.warden, self.device_id, self.token = warden, device_id, token
        self.pending, self.expect, self.then = list(requests), expect, then
        self.received, self.outcomes, self.errors, self.opened = [], [], [], set()

    def on_start(self, event):
        self.container = event.container
        self.connection = connect_device(event.container, self.warden, self.device_id, self.token)
        address = f"amqps://localhost/devices/{self.device_id}/twin"
        self.sender = event.container.create_sender(self.connection, address, name="twin-sender")
        event.container.create_receiver(self.connection, address, name="twin-receiver")

    def on_link_opened(self, event):
        self.opened.add(event.link.name)
        if len(self.opened) == 2:
            self.send_next()

    def send_next(self):
        if self.pending:
            self.sender.send(self.pending.pop(0))
        elif self.then:
            threading.Thread(target=self.then, daemon=True).start()

    def on_message(self, event):
        message = event.message
        annotations = {str(k): v for k, v in (message.annotations or {}).items()}
        self.received.append((message.correlation_id, annotations, bytes(message.body or b"")))
        if len(self.received) >= self.expect:
            self.connection.close()
        elif message.correlation_id is not None:
            self.send_next()

    def on_rejected(self, event):
        self.outcomes.append(event.delivery.remote.condition.name)
        self.send_next()

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)
        self.connection.close()



def test_a_device_reads_patches_and_hears_its_twin(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "pump-1")
    patch_id = uuid.uuid4()
    requests = [
        request("PUT", "sub-1", DESIRED),
        request("PATCH", patch_id, "/properties/reported", json.dumps({"firmware": "1.2", "rpm": 900}).encode()),
        request("GET", "get-1"),
    ]
    pump = TwinDevice(warden, "pump-1", token, requests, 4,
                      then=lambda: warden.cli("twin", "set-desired", "pump-1", '{"rpm": 1200}'))
    Container(pump).run()
    assert pump.errors == [] and pump.outcomes == []
    subscribed, patched, read, desired = pump.received
    assert subscribed[0] == "sub-1" and subscribed[1]["status"] == 200
    # The patch's answer repeats its UUID correlation id, with the reported section's new version.
    assert patched[0] == patch_id and patched[1]["status"] == 204 and patched[1]["version"] == 1
    assert read[0] == "get-1" and read[1]["status"] == 200
    assert json.loads(read[2])["reported"] == {"firmware": "1.2", "rpm": 900, "$version": 1}
    # The desired patch comes without a correlation id, with its version.
    assert desired[0] is None and desired[1]["version"] == 1 and json.loads(desired[2])["rpm"] == 1200
    twin = json.loads(warden.cli("twin", "show", "pump-1"))
    assert twin["properties"]["reported"]["firmware"] == "1.2"


def test_requests_the_hub_does_not_take_are_rejected_and_nothing_changes(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "pump-2")
    requests = [
        request("PATCH", "bad-1", "/properties/reported", b"[1, 2]"),  # not an object: answered 400
        request("DELETE", "x-1", "/properties/reported"),  # no such operation
        request("GET", None),  # no correlation id
        request("GET", "g" * 200),  # a correlation id longer than 128 bytes
        request("GET", "get-2"),
    ]
    pump = TwinDevice(warden, "pump-2", token, requests, 2)
    Container(pump).run()
    assert [(c, a["status"]) for c, a, _ in pump.received] == [("bad-1", 400), ("get-2", 200)]
    assert pump.outcomes == ["amqp:not-implemented", "amqp:decode-error", "amqp:decode-error"]
    assert json.loads(warden.cli("twin", "show", "pump-2"))["properties"]["reported"]["$version"] == 0
