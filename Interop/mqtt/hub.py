"""Device helpers: register devices through the CLI and connect paho-mqtt 2.x clients with SAS over TLS."""
import json
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

API_VERSION = "2021-04-12"


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Client:
    """A paho client that records what happens to it."""

    def __init__(self, client_id: str, version: int = mqtt.MQTTv311, clean: bool = True, transport: str = "tcp"):
        kwargs = {"clean_session": clean} if version != mqtt.MQTTv5 else {}
        self.paho = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version, transport=transport, **kwargs)
        self.version = version
        self.connected = threading.Event()
        self.connack = None
        self.disconnect_reason = None
        self.disconnected = threading.Event()
        self.messages = []
        self.subacks = {}
        self.pubacks = {}
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = lambda c, u, m: self.messages.append(m)
        self.paho.on_subscribe = lambda c, u, mid, codes, p: self.subacks.__setitem__(mid, codes)
        self.paho.on_publish = lambda c, u, mid, code, p: self.pubacks.__setitem__(mid, code)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = (reason_code, flags, properties)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_reason = reason_code
        self.disconnected.set()

    def start(self, port: int, host: str = "127.0.0.1", keepalive: int = 60, **kwargs):
        self.paho.reconnect_delay_set(60, 120)
        self.paho.connect(host, port, keepalive=keepalive, **kwargs)
        self.paho.loop_start()
        assert self.connected.wait(15), "no CONNACK"
        return self.connack[0]

    def stop(self):
        self.paho.disconnect()
        self.paho.loop_stop()

    def payloads(self, topic: str | None = None) -> list[bytes]:
        return [m.payload for m in self.messages if topic is None or m.topic == topic]


def create_device(warden, device_id: str, *extra: str):
    warden.cli("device", "create", device_id, *extra)


def token(warden, device_id: str, ttl: str = "1h") -> str:
    return warden.cli("token", device_id, "--ttl", ttl)


def username(device_id: str, host: str = "localhost") -> str:
    return f"{host}/{device_id}/?api-version={API_VERSION}"


def device_client(warden, device_id: str, version: int = mqtt.MQTTv311, password: str | None = None,
                  client_id: str | None = None, clean: bool = True) -> Client:
    client = Client(client_id or device_id, version, clean)
    client.paho.username_pw_set(username(device_id), password if password is not None else token(warden, device_id))
    client.paho.tls_set(ca_certs=warden.ca)
    return client


def api(warden, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict, bytes]:
    """The management API with the bootstrap credential: status, headers, body."""
    token = (warden.data_dir / "admin.token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return https(warden, method, path, headers, json.dumps(body).encode() if body is not None else None)


def https(warden, method: str, path: str, headers: dict, body: bytes | None = None,
          certificate: tuple[str, str] | None = None) -> tuple[int, dict, bytes]:
    """One request to the HTTPS port, trusting the server's CA (and presenting a client certificate and key
    when given): status, headers, body."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=warden.ca)
    if certificate:
        context.load_cert_chain(*certificate)
    request = urllib.request.Request(warden.url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def stream(warden, path: str):
    """Opens a server-sent event stream on the management API; yields each event's (id, data)."""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=warden.ca)
    token = (warden.data_dir / "admin.token").read_text().strip()
    request = urllib.request.Request(warden.url + path, headers={"Authorization": f"Bearer {token}"})
    response = urllib.request.urlopen(request, context=context, timeout=30)
    event = {}
    for raw in response:
        line = raw.decode().rstrip("\n")
        if not line:
            if "data" in event:
                yield event.get("id"), event["data"]
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value
