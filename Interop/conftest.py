"""Starts the built `warden` binary in a temporary data directory for interop tests (standard library only,
shared by Interop/azure and Interop/mqtt, which run in separate virtual environments)."""
import os
import pathlib
import re
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = os.environ.get("WARDEN_BINARY", str(ROOT / ".build/debug/warden"))


class Warden:
    """`warden serve` with its own data directory; `settings` are configuration keys (docs/configuration.md)."""

    def __init__(self, data_dir: pathlib.Path, settings: dict | None = None):
        self.data_dir = data_dir
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
        for key, value in (settings or {}).items():
            environment["WARDEN_" + re.sub(r"[^A-Za-z0-9]", "_", key).upper()] = str(value)
        self.process = subprocess.Popen(
            [BINARY, "serve", "--data-dir", str(data_dir), "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self.url = None
        self.mqtt = {}
        self.amqp = None
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            match = re.search(r"listening on (https://\S+)", line)
            if match:
                self.url = match.group(1)
            match = re.match(r"MQTT: (mqtts?)://([^:]+):(\d+)", line)
            if match:
                self.mqtt[match.group(1)] = int(match.group(3))
            match = re.match(r"AMQP: amqps://([^:]+):(\d+)", line)
            if match:
                self.amqp = int(match.group(2))
            if line.startswith("Next steps") or time.monotonic() > deadline:
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("warden serve did not start: " + self.process.stderr.read())
        # Keep draining stderr so that a chatty server never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    @property
    def ca(self) -> str:
        return str(self.data_dir / "tls/ca.pem")

    def run_cli(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [BINARY, *arguments, "--data-dir", str(self.data_dir)], capture_output=True, text=True, timeout=60
        )

    def cli(self, *arguments: str) -> str:
        result = self.run_cli(*arguments)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def kill(self):
        """SIGKILL: no chance to flush anything."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def warden(tmp_path):
    server = Warden(tmp_path / "warden-data")
    yield server
    server.stop()


@pytest.fixture
def warden_factory(tmp_path):
    """Starts servers with settings; stops them all at the end."""
    started = []

    def start(settings: dict | None = None, name: str = "warden-data") -> Warden:
        server = Warden(tmp_path / name, settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Node:
    """One node of the cluster, shaped like the fixtures' `Warden` for the helpers in hub.py."""

    def __init__(self, directory: pathlib.Path, number: int):
        self.number = number
        self.data_dir = directory / f"node-{number}"
        self.url = f"https://localhost:{8442 + number}"
        self.mqtt = {"mqtts": 8882 + number}
        self.ca = str(directory / "ca.pem")
        self.binary = BINARY

    def run_cli(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *arguments, "--data-dir", str(self.data_dir)],
                              capture_output=True, text=True, timeout=60)

    def cli(self, *arguments: str) -> str:
        result = self.run_cli(*arguments)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


CLUSTER_SCRIPT = str(ROOT / "scripts/cluster.sh")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`scripts/cluster.sh`'s three nodes on one PostgreSQL and NATS (issue 18), once per module: fixed ports
    (8443-8445, 8883-8885, 4232-4234, 55440)."""
    directory = tmp_path_factory.mktemp("cluster")
    up = subprocess.run([CLUSTER_SCRIPT, "up", str(directory)], capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield [Node(directory, n) for n in (1, 2, 3)]
    finally:
        subprocess.run([CLUSTER_SCRIPT, "down", str(directory)], capture_output=True, timeout=120)
