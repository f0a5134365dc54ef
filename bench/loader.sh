#!/usr/bin/env bash
# The independent loader against Warden under a tenant policy: builds bench/loader/mqtt-load.c (libmosquitto,
# no code of Warden's) with gcc, starts `warden serve` (release unless BUILD=debug; BIN=DIR for another build),
# registers DEVICES pairs that the policy lets use bench/# (lib.sh add_bench_pairs), writes their plain-MQTT
# usernames and SAS tokens to a credentials file, and runs mqtt-load over MQTT/TLS: every PUBLISH, SUBSCRIBE
# and delivery is decided by the policy engine. With --shape telemetry, DEVICES devices publish to their own
# telemetry topic instead (stored durably: a PUBACK follows the commit); with --shape connect, DEVICES of them
# connect at once (a connect storm, timed to each CONNACK). Prints mqtt-load's JSON line.
# Usage: bench/loader.sh [mqtt-load options…]   (for example --shape pairs --qos 1 --duration 10;
#        DEVICES=20 bench/loader.sh --shape telemetry --qos 1 --window 100 --duration 10)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-10}
loader=$(mktemp -d)
gcc -O2 -Wall -Wextra -Werror -o "$loader/mqtt-load" bench/loader/mqtt-load.c -lmosquitto
source bench/lib.sh
# --shape telemetry: DEVICES devices publishing to their own telemetry topic under the default policy (no pairs).
if [[ " $* " == *" --shape telemetry "* ]]; then
  add_bench_policy
  add_devices "$DEVICES"
  roles=("")
else
  add_bench_pairs "$DEVICES"
  roles=(-pub -sub)
fi
for role in "${roles[@]}"; do
  for index in $(seq 0 $((DEVICES - 1))); do
    device="bench-$index$role"
    sas=$(api -X POST "$url/api/v1/tenants/default/devices/$device/sas-tokens" -d '{"ttlSeconds": 3600}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    echo "$device localhost/$device $sas"
  done
done >"$loader/credentials"
"$loader/mqtt-load" --host localhost --port "$port" --cafile "$data/tls/ca.pem" --credentials "$loader/credentials" \
  --clients "$DEVICES" "$@"
rm -rf "$loader"
