"""SAS token vectors made by the azure-iot-device SDK's own token code (2.14.0).

`python sas_vectors.py > ../../Tests/WardenSecurityTests/Vectors/azure-iot-device-2.14.0-sas.json` writes them;
test_sas_vectors.py checks that the committed file is exactly what the SDK produces.
"""
import json
import sys
from unittest import mock

from azure.iot.device.common.auth import sastoken
from azure.iot.device.common.auth.signing_mechanism import SymmetricKeySigningMechanism

# (resource URI, base64 key, policy name or None, expiry)
CASES = [
    ("myhub.azure-devices.net/devices/device1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", None, 1700000000),
    ("localhost/devices/my-device", "d+/M2qranl+y0gH8YZP8sor3zrza1Z75qn7QncpltCA=", None, 1795467254),
    ("acme.localhost/devices/sensor-42", "IZf9pSBhWxRAZNStbB5uYmk6wS9cBgRJdaGl2gf5HsU=", None, 2000000000),
    ("localhost/devices/weird#id$(1)!=@'", "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/lSh3lE=", None, 1800000000),
    ("localhost/devices/dev+plus%pct", "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=", None, 1800000001),
    ("localhost/devices", "Jsm0lyGpjaVYVP2g3FnmnmG9dI/9qU24wNoykUmermc=", "device", 1800000002),
    ("localhost", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "iothubowner", 1800000003),
]


def make_vectors():
    vectors = []
    for resource, key, key_name, expiry in CASES:
        ttl = 3600
        with mock.patch.object(sastoken.time, "time", return_value=expiry - ttl):
            token = sastoken.RenewableSasToken(
                resource, SymmetricKeySigningMechanism(key), key_name=key_name, ttl=ttl
            )
        vectors.append(
            {"resource": resource, "key": key, "keyName": key_name, "expiry": expiry, "token": str(token)}
        )
    return {
        "origin": "azure-iot-device 2.14.0 (PyPI), azure.iot.device.common.auth.sastoken.RenewableSasToken "
        "with SymmetricKeySigningMechanism; time.time patched to expiry - ttl. Regenerate with "
        "Interop/azure/sas_vectors.py.",
        "vectors": vectors,
    }


if __name__ == "__main__":
    json.dump(make_vectors(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
