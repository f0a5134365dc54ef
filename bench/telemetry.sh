#!/usr/bin/env bash
# Durable telemetry ingest, end to end: starts `warden serve` (release build unless BUILD=debug) in a scratch
# data directory, registers a deviceConnect policy and DEVICES devices through the API, and runs warden-bench:
# QoS 1 PUBLISHes on devices/{id}/messages/events/ over MQTT/TLS, each PUBACK sent only after the message is
# committed to SQLite. Prints the bench's summary. Usage: bench/telemetry.sh [warden-bench telemetry options…]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-20}
source bench/lib.sh
register_devices "$DEVICES"
"$bin/warden-bench" telemetry --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" --devices "$DEVICES" "$@"
stored=$(api "$url/api/v1/tenants/default/devices/bench-0/telemetry?limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "device bench-0 has $stored stored messages (first page, at most 1000)"
[ "$stored" -gt 0 ]
