#!/usr/bin/env bash
# Durable telemetry over AMQP beside the same over MQTT, on one server, both from clients Warden did not write:
# builds bench/loader/amqp-load.c (Qpid Proton C) and bench/loader/mqtt-load.c (libmosquitto) with gcc, starts
# `warden serve` (release unless BUILD=debug; BIN=DIR for another build), registers DEVICES devices and writes
# their SAS tokens, then runs ROUNDS alternating rounds of amqp-load (SASL PLAIN over TLS on the AMQP port, WINDOW
# unsettled messages per device, each settled `accepted` after its commit) and mqtt-load --shape telemetry (TLS
# on the MQTT port, WINDOW unacknowledged QoS 1 messages per device, each PUBACK after its commit). Prints each
# run's JSON line. mosquitto speaks no AMQP: this compares Warden's two device protocols, not two brokers.
# Usage: [DEVICES=20] [ROUNDS=2] bench/amqp.sh [DURATION=10] [WINDOW=100]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-20}
ROUNDS=${ROUNDS:-2}
duration=${1:-10}
window=${2:-100}
loaders=$(mktemp -d)
gcc -O2 -Wall -Wextra -Werror -o "$loaders/amqp-load" bench/loader/amqp-load.c -lqpid-proton
gcc -O2 -Wall -Wextra -Werror -o "$loaders/mqtt-load" bench/loader/mqtt-load.c -lmosquitto
source bench/lib.sh
amqp_port=$(sed -nE 's/^AMQP: amqps:\/\/[^:]+:([0-9]+).*/\1/p' "$data/out" | head -1)
add_devices "$DEVICES"
for index in $(seq 0 $((DEVICES - 1))); do
  sas=$(api -X POST "$url/api/v1/tenants/default/devices/bench-$index/sas-tokens" -d '{"ttlSeconds": 3600}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  echo "bench-$index localhost/bench-$index $sas"
done >"$loaders/credentials"
for _ in $(seq "$ROUNDS"); do
  "$loaders/amqp-load" --port "$amqp_port" --cafile "$data/tls/ca.pem" --credentials "$loaders/credentials" \
    --clients "$DEVICES" --window "$window" --duration "$duration"
  "$loaders/mqtt-load" --host localhost --port "$port" --cafile "$data/tls/ca.pem" \
    --credentials "$loaders/credentials" --clients "$DEVICES" --shape telemetry --qos 1 --window "$window" \
    --duration "$duration"
done
rm -rf "$loaders"
