"""warden-bench as a client of the real binary: bad options are refused before anything connects, MQTT 5
runs carry messages, and refusals are reported by their code. (Benchmarks are not tests: a few hundred
messages, nothing timed.)"""
import json
import pathlib
import subprocess

import pytest

from conftest import BINARY

BENCH = str(pathlib.Path(BINARY).with_name("warden-bench"))


def bench(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([BENCH, *arguments], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("arguments, message", [
    (["connect", "--tls-groups", "x448"], "--tls-groups"),
    (["connect", "--ca", "ca.pem", "--tls-groups", "x448"], "unknown group x448"),
    (["connect", "--anonymous", "--source-addresses", "0"], "--source-addresses is 1 to 254"),
    (["pubsub", "--username", "bench"], "--username needs --password"),
    (["pubsub", "--anonymous", "--username", "bench", "--password", "x"], "Choose one of"),
    (["telemetry", "--policy", "bench", "--key", "not base64!"], "--policy needs --key"),
    (["connect", "--anonymous", "--devices", "0"], "--devices must be at least 1"),
    (["pubsub", "--anonymous", "--mqtt-version", "4"], "'3.1.1' and '5'"),
])
def test_bad_options_are_refused_before_connecting(arguments, message):
    # Port 1 has no listener: a run that got past validation would report connection errors instead.
    result = bench(*arguments, "--port", "1")
    assert result.returncode == 64, result.stdout + result.stderr
    assert message in result.stderr


def test_mqtt5_pairs_carry_messages_and_count_no_errors(warden_factory):
    warden = warden_factory({"mqtt.plain.enabled": "true", "mqtt.plain.port": 0,
                             "mqtt.plain.anonymous": "publish-subscribe"})
    result = bench("pubsub", "--port", str(warden.mqtt["mqtt"]), "--anonymous", "--mqtt-version", "5",
                   "--devices", "2", "--qos", "1", "--rate", "100", "--duration", "1", "--warm-up", "0", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["received"]["count"] > 0 and summary["received"]["errorsByKind"] == {}
    assert summary["published"]["errors"] == 0


def test_refusals_are_counted_by_code(warden):
    result = bench("connect", "--port", str(warden.mqtt["mqtts"]), "--host", "localhost", "--ca", warden.ca,
                   "--username", "bench", "--password", "not a SAS token", "--devices", "3", "--rate", "0",
                   "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["connections"] == 0 and summary["refusals"] == {"CONNACK 4": 3}
