"""The Azure IoT device SDK (azure-iot-device 2.14.0) accepts what `warden` hands out.

The SDK parses the connection string from `warden device connection-string`, and the SAS token it derives
from it is byte-for-byte the token `warden token` issues for the same expiry.
"""
import urllib.parse
from unittest import mock

import pytest

pytest.importorskip("azure.iot.device", reason="needs azure-iot-device (Interop/requirements.txt)")
from azure.iot.device.common.auth import connection_string as cs  # noqa: E402
from azure.iot.device.common.auth import sastoken  # noqa: E402
from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism  # noqa: E402


def sdk_token(connection_string: str, expiry: int) -> str:
    parsed = cs.ConnectionString(connection_string)
    uri = parsed[cs.HOST_NAME] + "/devices/" + parsed[cs.DEVICE_ID]
    with mock.patch.object(sastoken.time, "time", return_value=expiry - 3600):
        return str(sastoken.RenewableSasToken(uri, SymmetricKeySigningMechanism(parsed[cs.SHARED_ACCESS_KEY]), ttl=3600))


@pytest.mark.parametrize("device_id", ["my-device", "weird#id$(1)!=@'"])
def test_sdk_derives_the_same_token(warden, device_id):
    warden.cli("device", "create", device_id)
    connection_string = warden.cli("device", "connection-string", device_id)
    parsed = cs.ConnectionString(connection_string)
    assert parsed[cs.HOST_NAME] == "localhost"
    assert parsed[cs.DEVICE_ID] == device_id
    token = warden.cli("token", device_id, "--ttl", "1h")
    expiry = int(urllib.parse.parse_qs(token.split(" ", 1)[1])["se"][0])
    assert sdk_token(connection_string, expiry) == token


def test_other_tenants_name_a_gateway_host(warden):
    warden.cli("tenant", "create", "acme")
    warden.cli("device", "create", "d1", "--tenant", "acme")
    parsed = cs.ConnectionString(warden.cli("device", "connection-string", "d1", "--tenant", "acme"))
    assert parsed[cs.HOST_NAME] == "acme.localhost"
    assert parsed[cs.GATEWAY_HOST_NAME] == "localhost"
