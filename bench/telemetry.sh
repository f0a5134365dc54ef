#!/usr/bin/env bash
# Durable telemetry ingest, end to end: starts `warden serve` (release build unless BUILD=debug) in a scratch
# data directory, registers a deviceConnect policy and DEVICES devices through the API, and runs warden-bench:
# QoS 1 PUBLISHes on devices/{id}/messages/events/ over MQTT/TLS, each PUBACK sent only after the message is
# committed to SQLite. Prints the bench's summary. Usage: bench/telemetry.sh [warden-bench options…]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-20}
source bench/lib.sh
key=$(api -X POST "$url/api/v1/tenants/default/shared-access-policies" \
  -d '{"name":"bench","permissions":["deviceConnect"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["primaryKey"])')
for i in $(seq 0 $((DEVICES - 1))); do
  api -X POST "$url/api/v1/tenants/default/devices" -d "{\"deviceId\":\"bench-$i\"}" >/dev/null
done
"$bin/warden-bench" --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" --devices "$DEVICES" "$@"
stored=$(api "$url/api/v1/tenants/default/devices/bench-0/telemetry?limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "device bench-0 has $stored stored messages (first page, at most 1000)"
[ "$stored" -gt 0 ]
