"""The Azure IoT device SDK (unmodified) against three nodes on one PostgreSQL and NATS (issue 18): a device
connected to node 2 gets cloud-to-device messages, desired properties and direct methods sent through node 3,
then connects to node 3 and sends telemetry that node 1 reads, as against one hub."""
import json

import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/azure/requirements.txt)")
from azure.iot.device import Message  # noqa: E402

from test_azure_mqtt import eventually, exercise_hub_features, sdk_client  # noqa: E402


def test_the_sdk_on_one_node_is_served_through_the_others(cluster):
    a, b, c = cluster
    a.cli("device", "create", "sdk-roamer")
    connection_string = a.cli("device", "connection-string", "sdk-roamer")
    client, patcher = sdk_client(b, connection_string)
    try:
        exercise_hub_features(c, client, "sdk-roamer")
    finally:
        patcher.stop()
    # The same device again, now on node 3 (its session moves there from node 2).
    client, patcher = sdk_client(c, connection_string)
    try:
        client.connect()
        client.send_message(Message("crossing", message_id="t-1"))
        client.shutdown()
    finally:
        patcher.stop()
    # send_message returned after node 3's commit; node 1 reads it from the shared store (pages hold messages
    # numbered at least 2 s ago on a cluster node).
    def stored():
        return [json.loads(line) for line in a.cli("telemetry", "sdk-roamer", "--json").splitlines()]
    assert eventually(lambda: [(m["body"], m["systemProperties"]["messageId"]) for m in stored()] == [("crossing", "t-1")])
