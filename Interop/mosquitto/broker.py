"""Stands in for `mosquitto -v -p PORT` in mosquitto's broker test scripts: starts `warden serve` with its plain
listener on PORT open to anonymous clients, in a fresh copy of a prepared data directory (a copy starts in a
fraction of the time a first start takes, and the suite gives a broker two seconds).

Environment (set by run.py): WARDEN_BINARY, WARDEN_TEMPLATE (a data directory), WARDEN_SCRATCH (where copies go);
MOSQUITTO_BINARY instead, to check the runner against mosquitto itself.
"""
import os
import shutil
import sys
import tempfile


def port_from(arguments: list[str]) -> int:
    if "-c" in arguments:
        sys.exit("the Warden stand-in takes no mosquitto configuration file (-c)")
    if "-p" not in arguments or arguments.index("-p") + 1 >= len(arguments):
        sys.exit("usage: mosquitto [-v] -p PORT")
    return int(arguments[arguments.index("-p") + 1])


if "MOSQUITTO_BINARY" in os.environ:
    os.execv(os.environ["MOSQUITTO_BINARY"], [os.environ["MOSQUITTO_BINARY"], *sys.argv[1:]])
port = port_from(sys.argv[1:])
data = tempfile.mkdtemp(prefix=f"port-{port}-", dir=os.environ["WARDEN_SCRATCH"])
shutil.copytree(os.environ["WARDEN_TEMPLATE"], data, dirs_exist_ok=True)
environment = {key: value for key, value in os.environ.items() if not key.startswith("WARDEN_")}
environment.update({
    "WARDEN_MQTT_PLAIN_ENABLED": "true",
    "WARDEN_MQTT_PLAIN_PORT": str(port),
    "WARDEN_MQTT_PLAIN_ANONYMOUS": "publish-subscribe",
    "WARDEN_LOG_LEVEL": "warning",
})
# stdout carries the start banner, which no test reads; stderr stays the test's, as mosquitto's log is.
devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(devnull, 1)
binary = os.environ["WARDEN_BINARY"]
os.execve(binary, [binary, "serve", "--data-dir", data, "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"], environment)
