"""The committed SAS vectors are exactly what the azure-iot-device SDK's token code produces today."""
import json
import pathlib

import pytest

sas_vectors = pytest.importorskip("sas_vectors", reason="needs azure-iot-device (Interop/requirements-azure.txt)")

VECTORS = pathlib.Path(__file__).parent.parent.parent / "Tests/WardenSecurityTests/Vectors/azure-iot-device-2.14.0-sas.json"


def test_committed_vectors_match_the_sdk():
    assert json.loads(VECTORS.read_text()) == sas_vectors.make_vectors()
