"""Starts the built `warden` binary in a temporary data directory for interop tests."""
import os
import pathlib
import re
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = os.environ.get("WARDEN_BINARY", str(ROOT / ".build/debug/warden"))


class Warden:
    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [BINARY, "serve", "--data-dir", str(data_dir), "--https-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")},
        )
        self.url = None
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            match = re.search(r"listening on (https://\S+)", line)
            if match:
                self.url = match.group(1)
                break
            if time.monotonic() > deadline:
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("warden serve did not start: " + self.process.stderr.read())

    @property
    def ca(self) -> str:
        return str(self.data_dir / "tls/ca.pem")

    def cli(self, *arguments: str) -> str:
        result = subprocess.run(
            [BINARY, *arguments, "--data-dir", str(self.data_dir)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

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
