"""The AMQPS endpoint with uamqp 1.6.11, the Python binding of Azure's uAMQP-C: the AMQP stack of the Azure
IoT C device SDK, which authenticates with SASL MSSBCBS and a CBS put-token (protocols.md §2.1–2.2)."""
import json
import re

import uamqp
from uamqp import authentication

from helpers import stored

SETTINGS = {"amqp.enabled": "true", "amqp.port": "0"}


def send(warden, device_id: str, token: str, count: int) -> list:
    auth = authentication.SASTokenAuth(
        audience=f"localhost/devices/{device_id}", uri=f"amqps://localhost/devices/{device_id}/messages/events",
        token=token, expires_at=int(re.search(r"se=(\d+)", token).group(1)), port=warden.amqp, verify=warden.ca,
        token_type=b"servicebus.windows.net:sastoken")
    client = uamqp.SendClient(f"amqps://localhost:{warden.amqp}/devices/{device_id}/messages/events", auth=auth)
    for n in range(count):
        client.queue_message(uamqp.Message(json.dumps({"n": n}).encode(), application_properties={"n": str(n)}))
    return client.send_all_messages(close_on_done=True)


def test_the_c_sdk_stack_puts_its_token_and_its_telemetry_is_stored_in_order(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-1")
    token = warden.cli("token", "meter-1", "--ttl", "1h")
    results = send(warden, "meter-1", token, 25)
    assert results == [uamqp.constants.MessageState.SendComplete] * 25
    messages = stored(warden, "meter-1")
    assert [json.loads(m["body"])["n"] for m in messages] == list(range(25))
    assert messages[3]["properties"] == {"n": "3"}


def test_a_forged_token_sends_nothing(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "meter-2")
    token = warden.cli("token", "meter-2", "--ttl", "1h")
    forged = re.sub(r"sig=[^&]+", "sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D", token)
    try:
        results = send(warden, "meter-2", forged, 3)
    except Exception as error:  # uamqp raises its own AuthenticationException (status 401)
        results = [error]
    assert uamqp.constants.MessageState.SendComplete not in results
    assert stored(warden, "meter-2") == []


def test_the_c_sdk_stack_receives_its_cloud_to_device_messages_and_completes_them(warden_factory):
    warden = warden_factory(SETTINGS)
    warden.cli("device", "create", "lamp-1")
    token = warden.cli("token", "lamp-1", "--ttl", "1h")
    for n in range(3):
        warden.cli("c2d", "send", "lamp-1", "--body", f"step {n}", "--property", f"n={n}", "--ack", "positive")
    address = f"amqps://localhost:{warden.amqp}/devices/lamp-1/messages/devicebound"
    auth = authentication.SASTokenAuth(
        audience="localhost/devices/lamp-1", uri=address, token=token,
        expires_at=int(re.search(r"se=(\d+)", token).group(1)), port=warden.amqp, verify=warden.ca,
        token_type=b"servicebus.windows.net:sastoken")
    # uAMQP-C's receiver settles as the C SDK's does (receiver-settle-mode first, `accepted` once handled).
    with uamqp.ReceiveClient(address, auth=auth, timeout=5000, prefetch=10) as client:
        messages = client.receive_message_batch(max_batch_size=3, timeout=10000)
        for message in messages:
            message.accept()
        bodies = [b"".join(message.get_data()) for message in messages]
        properties = [message.application_properties for message in messages]
    assert bodies == [f"step {n}".encode() for n in range(3)]
    assert properties[2] == {b"n": b"2", b"iothub-ack": b"positive"}
    assert json.loads(warden.cli("c2d", "list", "lamp-1", "--json"))["items"] == []
    feedback = json.loads(warden.cli("c2d", "feedback", "--json"))
    assert [f["statusCode"] for f in feedback] == ["Success"] * 3
