#!/usr/bin/env bash
# Cloud-to-device enqueue and delivery, end to end (bench/c2d.py): a scratch release server, DEVICES devices
# on MQTT/TLS, API clients sending. Needs the interop virtual environment (.venv-mqtt, made by scripts/test.sh).
# Usage: bench/c2d.sh [--devices 10] [--messages 5000] [--threads 8]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
.venv-mqtt/bin/python bench/c2d.py --data-dir "$data" --warden "$bin/warden" --mqtt-port "$port" "$@"
