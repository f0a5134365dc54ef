"""Direct methods over AMQP (protocols.md §2.6) with python-qpid-proton: a device attaches its two method links
(calls in on a receiver, answers out on a sender, both on `/devices/{id}/methods/devicebound`), and a call made
through the API reaches it with its name and payload and returns the device's status and body."""
import json
import subprocess
import threading
import uuid

from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from helpers import connect_device, device

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0"}


class MethodDevice(MessagingHandler):
    """A device that answers each call with `answer(name, payload) -> (status, body)`; once both links are up it
    runs `ready` (on another thread: it waits for the API) and closes when that returns."""

    def __init__(self, warden, device_id, token, ready, answer, link_device=None):
        super().__init__(prefetch=10)
        self.warden, self.device_id, self.token = warden, device_id, token
        self.ready, self.answer = ready, answer
        self.link_device = link_device or device_id
        self.calls, self.errors, self.results = [], [], []
        self.opened = set()

    def on_start(self, event):
        self.container = event.container
        self.connection = connect_device(event.container, self.warden, self.device_id, self.token)
        address = f"amqps://localhost/devices/{self.link_device}/methods/devicebound"
        self.requests = event.container.create_receiver(self.connection, address, name="methods-requests")
        self.responses = event.container.create_sender(self.connection, address, name="methods-responses")

    def on_link_opened(self, event):
        if event.link.remote_source.address or event.link.remote_target.address:
            self.opened.add(event.link.name)
        if len(self.opened) == 2:
            threading.Thread(target=self.run_ready, daemon=True).start()

    def run_ready(self):
        try:
            self.results.append(self.ready())
        finally:
            self.container.schedule(0, self)  # on_timer_task closes on the reactor's thread

    def on_timer_task(self, event):
        self.connection.close()

    def on_message(self, event):
        message = event.message
        name = message.properties["IoThub-methodname"]
        body = bytes(message.body)  # a data section
        self.calls.append((name, message.correlation_id, body))
        status, answer = self.answer(name, json.loads(body))
        self.responses.send(Message(
            correlation_id=message.correlation_id, properties={"IoThub-status": status},
            body=json.dumps(answer).encode()))

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)
        if len(self.errors) == 1:
            threading.Thread(target=self.run_ready, daemon=True).start()



def invoke(warden, device_id: str, name: str, payload, timeout="5s") -> subprocess.CompletedProcess:
    return warden.run_cli("method", "invoke", device_id, name, "--payload", json.dumps(payload), "--timeout",
                          timeout, "--json")


def test_a_call_reaches_the_device_with_its_name_and_payload_and_returns_its_answer(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "valve-1")

    def answer(name, payload):
        return (200, {"opened": payload["percent"]}) if name == "open" else (404, {"unknown": name})

    def calls():
        return [invoke(warden, "valve-1", "open", {"percent": 40}), invoke(warden, "valve-1", "close", None)]

    valve = MethodDevice(warden, "valve-1", token, calls, answer)
    Container(valve).run()
    opened, closed = valve.results[0]
    assert opened.returncode == 0 and json.loads(opened.stdout) == {"status": 200, "payload": {"opened": 40}}
    assert json.loads(closed.stdout) == {"status": 404, "payload": {"unknown": "close"}}
    assert [(name, body) for name, _, body in valve.calls] == [("open", b'{"percent":40}'), ("close", b"null")]
    # The SDKs read the correlation id as a UUID.
    assert all(isinstance(correlation, uuid.UUID) for _, correlation, _ in valve.calls)
    assert valve.errors == []


def test_a_device_without_links_is_offline_and_another_devices_links_are_refused(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "valve-2")
    device(warden, "valve-3")
    offline = invoke(warden, "valve-3", "open", {})
    assert offline.returncode != 0 and "device_offline" in offline.stdout + offline.stderr

    def call():
        return invoke(warden, "valve-3", "open", {})

    thief = MethodDevice(warden, "valve-2", token, call, lambda name, payload: (200, {}), link_device="valve-3")
    Container(thief).run()
    assert "amqp:unauthorized-access" in thief.errors and thief.calls == []
    assert "device_offline" in thief.results[0].stdout + thief.results[0].stderr
