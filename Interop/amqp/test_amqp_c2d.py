"""Cloud-to-device messages over AMQP (protocols.md §2.5) with python-qpid-proton: a device's `devicebound` link
gets its queue in order, with IoT Hub's properties and annotations, and its dispositions settle each message
(`accepted` completes, `rejected` dead-letters, `released` delivers again, counted); what it does not settle
before its connection ends is delivered again on the next."""
import json
import uuid

import cproton
from proton import Delivery, Link
from proton.handlers import MessagingHandler
from proton.reactor import Container, LinkOption

from helpers import connect_device, device

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0"}


class SettleSecond(LinkOption):
    """The C# SDK's receiver-settle-mode: the device decides, the hub settles, then the device forgets."""

    def apply(self, link):
        link.rcv_settle_mode = Link.RCV_SECOND


class Receiver(MessagingHandler):
    """A device (SASL PLAIN) on its cloud-to-device link: records each message, settles it as `decide` says
    (`accept`, `reject`, `release`, or `keep` to leave it unsettled) and closes after `expect` messages."""

    def __init__(self, warden, device_id, token, expect, decide=None, link_device=None, settle_second=False,
                 on_attached=None, prefetch=10):
        super().__init__(auto_accept=False, prefetch=prefetch)
        self.warden, self.device_id, self.token, self.expect = warden, device_id, token, expect
        self.decide = decide or (lambda message, count: "accept")
        self.link_device = link_device or device_id
        self.settle_second, self.on_attached = settle_second, on_attached
        self.messages, self.tags, self.errors, self.hub_settled = [], [], [], []

    def on_start(self, event):
        self.connection = connect_device(event.container, self.warden, self.device_id, self.token)
        event.container.create_receiver(
            self.connection, f"/devices/{self.link_device}/messages/deviceBound",
            options=SettleSecond() if self.settle_second else None)

    def on_link_opened(self, event):
        if self.on_attached and event.link.remote_source.address:
            self.on_attached()

    def on_message(self, event):
        self.messages.append(event.message)
        self.tags.append(tag(event.delivery))
        outcome = self.decide(event.message, len(self.messages))
        if self.settle_second and outcome == "accept":
            event.delivery.update(Delivery.ACCEPTED)  # settled once the hub says it is done
            return
        if outcome == "accept":
            self.accept(event.delivery)
        elif outcome == "reject":
            self.reject(event.delivery)
        elif outcome == "release":
            self.release(event.delivery, delivered=False)
        self.done()

    def on_settled(self, event):
        self.hub_settled.append(event.delivery.remote_state)
        event.delivery.settle()
        self.done()

    def done(self):
        if len(self.messages) >= self.expect and (not self.settle_second or len(self.hub_settled) >= self.expect):
            self.connection.close()

    def on_link_error(self, event):
        self.errors.append(event.link.remote_condition.name)
        self.connection.close()

    def on_transport_error(self, event):
        condition = event.transport.condition
        self.errors.append(condition.name if condition else "transport")


def tag(delivery) -> bytes:
    """The delivery tag's bytes (proton's `Delivery.tag` decodes them as UTF-8, which a lock token is not)."""
    raw = cproton.lib.pn_delivery_tag(delivery._impl)
    return cproton.ffi.unpack(raw.start, raw.size)


def run(receiver: Receiver) -> Receiver:
    Container(receiver).run()
    return receiver



def queued(warden, device_id: str) -> list:
    return json.loads(warden.cli("c2d", "list", device_id, "--json"))["items"]


def feedback(warden) -> list:
    return [(f["originalMessageId"], f["statusCode"]) for f in json.loads(warden.cli("c2d", "feedback", "--json"))]


def test_queued_messages_arrive_in_order_with_their_properties_and_accepting_completes_them(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-1")
    warden.cli("c2d", "send", "lamp-1", "--body", "on", "--property", "k=v w", "--message-id", "m-1",
               "--correlation-id", "c-1", "--ack", "full")
    for n in range(2, 6):
        warden.cli("c2d", "send", "lamp-1", "--body", f"step {n}", "--message-id", f"m-{n}")
    lamp = run(Receiver(warden, "lamp-1", token, 5))
    assert lamp.errors == []
    assert [m.body for m in lamp.messages] == [b"on"] + [f"step {n}".encode() for n in range(2, 6)]
    first = lamp.messages[0]
    assert (first.id, first.correlation_id, first.address) == ("m-1", "c-1", "/devices/lamp-1/messages/deviceBound")
    assert first.properties == {"k": "v w", "iothub-ack": "full"}
    annotations = {str(k): v for k, v in first.annotations.items()}
    assert annotations["iothub-deliverycount"] == 0
    sequences = [m.annotations["x-opt-sequence-number"] for m in lamp.messages]
    assert sequences == sorted(sequences)
    # The delivery is tagged with its lock token, as IoT Hub's.
    assert lamp.tags[0] == uuid.UUID(str(annotations["x-opt-lock-token"])).bytes
    assert queued(warden, "lamp-1") == []
    assert feedback(warden) == [("m-1", "Success")]


def test_rejecting_dead_letters_and_releasing_delivers_again_counted(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-2")
    warden.cli("c2d", "send", "lamp-2", "--body", "no", "--message-id", "r-1", "--ack", "full")
    warden.cli("c2d", "send", "lamp-2", "--body", "later", "--message-id", "r-2", "--ack", "full")

    def decide(message, count):
        return {"r-1": "reject"}.get(message.id, "release" if count < 4 else "accept")

    lamp = run(Receiver(warden, "lamp-2", token, 4, decide))
    assert [m.id for m in lamp.messages] == ["r-1", "r-2", "r-2", "r-2"]
    assert [m.annotations["iothub-deliverycount"] for m in lamp.messages[1:]] == [0, 1, 2]
    assert [m.delivery_count for m in lamp.messages[1:]] == [0, 1, 2]
    assert queued(warden, "lamp-2") == []
    assert sorted(feedback(warden)) == [("r-1", "Rejected"), ("r-2", "Success")]


def test_what_a_connection_leaves_unsettled_is_delivered_again_on_the_next(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-3")
    warden.cli("c2d", "send", "lamp-3", "--body", "hold", "--message-id", "u-1")
    first = run(Receiver(warden, "lamp-3", token, 1, lambda message, count: "keep"))
    assert [m.id for m in first.messages] == ["u-1"]
    assert len(queued(warden, "lamp-3")) == 1
    second = run(Receiver(warden, "lamp-3", token, 1))
    # Not abandoned by the device: its delivery count is unchanged.
    assert [(m.id, m.delivery_count) for m in second.messages] == [("u-1", 0)]
    assert queued(warden, "lamp-3") == []


def test_a_message_sent_while_the_link_is_attached_arrives_at_once(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-4")
    lamp = run(Receiver(warden, "lamp-4", token, 1,
                        on_attached=lambda: warden.cli("c2d", "send", "lamp-4", "--body", "now")))
    assert [m.body for m in lamp.messages] == [b"now"] and lamp.errors == []


def test_a_receiver_settling_second_hears_the_hub_settle_once_committed(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-5")
    for n in range(3):
        warden.cli("c2d", "send", "lamp-5", "--body", f"{n}", "--message-id", f"s-{n}", "--ack", "positive")
    lamp = run(Receiver(warden, "lamp-5", token, 3, settle_second=True))
    assert [m.id for m in lamp.messages] == ["s-0", "s-1", "s-2"]
    assert lamp.hub_settled == [Delivery.ACCEPTED] * 3
    assert queued(warden, "lamp-5") == []
    assert sorted(feedback(warden)) == [("s-0", "Success"), ("s-1", "Success"), ("s-2", "Success")]


def test_another_devices_cloud_to_device_link_is_refused_and_its_queue_kept(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-6")
    device(warden, "lamp-7")
    warden.cli("c2d", "send", "lamp-7", "--body", "private")
    thief = run(Receiver(warden, "lamp-6", token, 1, link_device="lamp-7"))
    assert thief.errors == ["amqp:unauthorized-access"] and thief.messages == []
    assert len(queued(warden, "lamp-7")) == 1


class SmallFrames(Receiver):
    """A client whose frames hold at most 512 bytes: a larger message comes in several transfers."""

    def on_connection_bound(self, event):
        event.transport.max_frame_size = 512


def test_a_message_larger_than_the_clients_frames_arrives_in_parts_whole(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-8")
    body = "".join(f"{n:05d}" for n in range(6000))
    warden.cli("c2d", "send", "lamp-8", "--body", body, "--property", "size=large")
    lamp = run(SmallFrames(warden, "lamp-8", token, 1))
    assert lamp.errors == [] and [m.body for m in lamp.messages] == [body.encode()]
    assert lamp.messages[0].properties == {"size": "large"}
    assert queued(warden, "lamp-8") == []


class NoCredit(Receiver):
    """Attaches without credit, looks at the queue, then gives credit for one message."""

    def __init__(self, *arguments, **options):
        super().__init__(*arguments, prefetch=0, **options)
        self.locked_before_credit = None

    def on_link_opened(self, event):
        if event.link.is_receiver and event.link.remote_source.address:
            self.locked_before_credit = [m["state"] for m in queued(self.warden, self.device_id)]
            event.link.flow(1)


def test_a_link_without_credit_takes_nothing_from_the_queue(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-9")
    warden.cli("c2d", "send", "lamp-9", "--body", "wait", "--message-id", "n-1")
    warden.cli("c2d", "send", "lamp-9", "--body", "wait more", "--message-id", "n-2")
    lamp = run(NoCredit(warden, "lamp-9", token, 1))
    # Nothing was locked to the link until it gave credit; then only what the credit covered.
    assert lamp.locked_before_credit == ["enqueued", "enqueued"]
    assert [m.id for m in lamp.messages] == ["n-1"]
    assert [m["messageId"] for m in queued(warden, "lamp-9")] == ["n-2"]


class NarrowWindow(SmallFrames):
    """512-byte frames and a session window of 64 of them (what proton buffers, 32 KiB): two messages of 53
    transfers each do not fit at once, the second waits for the window between its transfers."""

    def on_start(self, event):
        self.connection = connect_device(event.container, self.warden, self.device_id, self.token)
        session = self.connection.session()
        session.incoming_capacity = 32768
        session.open()
        receiver = session.receiver("narrow")
        receiver.source.address = f"/devices/{self.device_id}/messages/deviceBound"
        receiver.open()


def test_a_large_message_crosses_a_narrow_session_window_whole(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-10")
    bodies = ["".join(f"{n:05d}" for n in range(start, start + 4000)) for start in (0, 4000)]
    for body in bodies + ["after"]:
        warden.cli("c2d", "send", "lamp-10", "--body", body)
    lamp = run(NarrowWindow(warden, "lamp-10", token, 3))
    assert lamp.errors == [] and [m.body for m in lamp.messages] == [b.encode() for b in bodies] + [b"after"]


class Drains(NoCredit):
    """Attaches without credit, then drains with credit for five: what waits in the queue comes before the
    drain is answered."""

    def on_link_opened(self, event):
        if event.link.is_receiver and event.link.remote_source.address:
            event.link.drain(5)


def test_a_drain_gets_what_waits_before_its_credit_is_spent(warden_factory):
    warden = warden_factory(SETTINGS)
    token = device(warden, "lamp-11")
    for n in range(3):
        warden.cli("c2d", "send", "lamp-11", "--body", f"{n}", "--message-id", f"d-{n}")
    lamp = run(Drains(warden, "lamp-11", token, 3))
    assert [m.id for m in lamp.messages] == ["d-0", "d-1", "d-2"] and lamp.errors == []
