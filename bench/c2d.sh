#!/usr/bin/env bash
# Cloud-to-device enqueue and delivery, end to end: a scratch server (release unless BUILD=debug), DEVICES
# devices on MQTT/TLS, and `warden-bench c2d` sending through the management API (each 201 means committed)
# while the devices take and acknowledge every message. Usage: bench/c2d.sh [warden-bench c2d options…]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-50}
source bench/lib.sh
register_devices "$DEVICES"
"$bin/warden-bench" c2d --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" --devices "$DEVICES" \
  --api "$url" --token "$token" "$@"
