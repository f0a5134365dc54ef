"""Cloud-to-device throughput, end to end: DEVICES devices connect over MQTT/TLS (paho) and subscribe to their
devicebound topics; THREADS concurrent HTTPS clients send MESSAGES messages through the management API
(each 201 means committed), round robin over the devices. Reports sends per second (accepted, durable) and
deliveries per second (until every device received and acknowledged — each PUBACK a committed completion).

Run with the interop virtual environment against a running server:
  .venv-mqtt/bin/python bench/c2d.py --data-dir DIR [--devices 10] [--messages 5000] [--threads 8]
bench/c2d.sh starts a release server and runs this.
"""
import argparse
import concurrent.futures
import http.client
import json
import pathlib
import ssl
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--warden", default=".build-release/release/warden")
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    data = pathlib.Path(args.data_dir)
    url = json.loads((data / "endpoint.json").read_text())["url"]
    admin = (data / "admin.token").read_text().strip()
    context = ssl.create_default_context(cafile=str(data / "tls/ca.pem"))

    def cli(*arguments):
        return subprocess.run([args.warden, *arguments, "--data-dir", str(data)], check=True,
                              capture_output=True, text=True).stdout.strip()

    received = [0]
    lock = threading.Lock()
    done = threading.Event()
    clients = []
    for index in range(args.devices):
        device = f"c2d-{index}"
        cli("device", "create", device)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv311)
        client.username_pw_set(f"localhost/{device}/?api-version=2021-04-12", cli("token", device))
        client.tls_set(ca_certs=str(data / "tls/ca.pem"))

        def on_message(c, u, m):
            with lock:
                received[0] += 1
                if received[0] == args.messages:
                    done.set()

        client.on_message = on_message
        client.connect("localhost", args.mqtt_port)
        client.subscribe(f"devices/{device}/messages/devicebound/#", qos=1)
        client.loop_start()
        clients.append(client)
    time.sleep(1)

    body = json.dumps({"body": "x" * 64}).encode()
    host, port = url.removeprefix("https://").rsplit(":", 1)
    local = threading.local()

    def send(n):
        # One kept-alive TLS connection per client thread, as a real backend would hold.
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPSConnection(host, int(port), context=context)
        headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        while True:
            local.connection.request("POST", f"/api/v1/tenants/default/devices/c2d-{n % args.devices}/c2d", body,
                                     headers)
            response = local.connection.getresponse()
            response.read()
            if response.status != 429:  # a full queue: the device is still taking the earlier ones
                return response.status
            time.sleep(0.005)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        statuses = list(pool.map(send, range(args.messages)))
    sent = time.monotonic() - start
    assert all(status == 201 for status in statuses)
    if not done.wait(120):
        sys.exit(f"only {received[0]} of {args.messages} delivered")
    delivered = time.monotonic() - start
    for client in clients:
        client.loop_stop()
    print(f"{args.messages} messages to {args.devices} devices with {args.threads} API clients: "
          f"{args.messages / sent:.0f} sends/s accepted (committed), "
          f"{args.messages / delivered:.0f} deliveries/s completed over MQTT")


if __name__ == "__main__":
    main()
