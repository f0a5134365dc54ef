"""Persistent sessions and retained messages survive a restart, and a PUBACK means committed: a SIGKILL right
after it loses nothing (issue 3, "Broker semantics"; README "Bounded and durable")."""
import paho.mqtt.client as mqtt
import pytest

import hub

PLAIN = {"mqtt.plain.enabled": "true", "mqtt.plain.port": 0, "mqtt.plain.anonymous": "publish-subscribe"}


def publish_and_wait(port: int, topic: str, payloads: list[bytes], retain: bool = False, qos: int = 1):
    client = hub.Client("publisher")
    client.start(port)
    for payload in payloads:
        info = client.paho.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()
    return client


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_queued_messages_and_subscriptions_survive_a_restart(warden_factory, stop):
    warden = warden_factory(PLAIN)
    subscriber = hub.Client("sleepy", mqtt.MQTTv311, clean=False)
    subscriber.start(warden.mqtt["mqtt"])
    result, mid = subscriber.paho.subscribe("fleet/+/state", qos=1)
    assert hub.wait_until(lambda: mid in subscriber.subacks)
    subscriber.stop()

    payloads = [f"state {n}".encode() for n in range(20)]
    publisher = publish_and_wait(warden.mqtt["mqtt"], "fleet/7/state", payloads)
    # Every PUBACK is in: the messages are committed.
    warden.kill() if stop == "sigkill" else warden.stop()
    publisher.paho.loop_stop()

    restarted = warden_factory(PLAIN)
    again = hub.Client("sleepy", mqtt.MQTTv311, clean=False)
    again.start(restarted.mqtt["mqtt"])
    assert again.connack[1].session_present
    assert hub.wait_until(lambda: len(again.messages) == len(payloads))
    assert again.payloads() == payloads
    # The subscription itself came back too.
    later = publish_and_wait(restarted.mqtt["mqtt"], "fleet/8/state", [b"after restart"])
    assert hub.wait_until(lambda: again.payloads()[-1:] == [b"after restart"])
    later.stop()
    again.stop()


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_retained_messages_survive_a_restart(warden_factory, stop):
    warden = warden_factory(PLAIN)
    publisher = publish_and_wait(warden.mqtt["mqtt"], "config/site-1", [b"v1", b"v2"], retain=True)
    publish_and_wait(warden.mqtt["mqtt"], "config/site-2", [b"gone"], retain=True)
    publish_and_wait(warden.mqtt["mqtt"], "config/site-2", [b""], retain=True)
    warden.kill() if stop == "sigkill" else warden.stop()
    publisher.paho.loop_stop()

    restarted = warden_factory(PLAIN)
    reader = hub.Client("reader")
    reader.start(restarted.mqtt["mqtt"])
    reader.paho.subscribe("config/#", qos=1)
    assert hub.wait_until(lambda: len(reader.messages) >= 1)
    assert [(m.topic, m.payload, m.retain) for m in reader.messages] == [("config/site-1", b"v2", True)]
    reader.stop()


def test_clean_session_leaves_nothing_behind(warden_factory):
    warden = warden_factory(PLAIN)
    subscriber = hub.Client("fleeting", mqtt.MQTTv311, clean=True)
    subscriber.start(warden.mqtt["mqtt"])
    subscriber.paho.subscribe("fleet/#", qos=1)
    subscriber.stop()
    warden.stop()
    restarted = warden_factory(PLAIN)
    again = hub.Client("fleeting", mqtt.MQTTv311, clean=False)
    again.start(restarted.mqtt["mqtt"])
    assert not again.connack[1].session_present
    again.stop()
