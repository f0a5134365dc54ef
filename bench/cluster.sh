#!/usr/bin/env bash
# The cost of a second node, under the independent loader (issue 18): starts the three-node cluster
# (scripts/cluster.sh, release build unless BIN=DIR), registers DEVICES publisher/subscriber pairs under a tenant
# policy, and runs bench/loader/mqtt-load twice per round: every pair on node 1 ("one node": its messages still
# go to NATS, where nobody takes them), and publishers on node 1 with their subscribers on node 2 ("two nodes").
# Prints one JSON line per run with "placement" added.
# Usage: bench/cluster.sh [ROUNDS] [mqtt-load options…]   (for example 2 --qos 1 --duration 4)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
shift || true
DEVICES=${DEVICES:-10}
if [ -z "${BIN:-}" ]; then
  swift build -q -c release --scratch-path .build-release --product warden
  BIN=.build-release/release
fi
work=$(mktemp -d)
trap 'scripts/cluster.sh down "$work/cluster" >/dev/null 2>&1; rm -rf "$work"' EXIT
WARDEN_BINARY="$BIN/warden" scripts/cluster.sh up "$work/cluster" >/dev/null
gcc -O2 -Wall -Wextra -Werror -o "$work/mqtt-load" bench/loader/mqtt-load.c -lmosquitto
ca="$work/cluster/ca.pem"
token=$(cat "$work/cluster/admin.token")
url=https://localhost:8443
api() { curl -sf --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

for role in pub sub; do
  seq 0 $((DEVICES - 1)) | xargs -P 8 -I{} curl -sf --cacert "$ca" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -X POST "$url/api/v1/tenants/default/devices" \
    -d "{\"deviceId\":\"bench-{}-$role\",\"attributes\":{\"role\":\"bench\"}}" -o /dev/null
done
api -X PUT "$url/api/v1/tenants/default/policies/document" -o /dev/null -d '{"statements": [
  {"id": "bench", "effect": "allow", "principals": {"attributes": {"role": "bench"}},
   "actions": ["publish", "subscribe", "receive"], "resources": ["bench/#"]}]}'
for role in -pub -sub; do
  for index in $(seq 0 $((DEVICES - 1))); do
    device="bench-$index$role"
    sas=$(api -X POST "$url/api/v1/tenants/default/devices/$device/sas-tokens" -d '{"ttlSeconds": 3600}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    echo "$device localhost/$device $sas"
  done
done >"$work/credentials"

run() {  # PLACEMENT SUBSCRIBER_PORT mqtt-load options…
  local placement=$1 port=$2
  shift 2
  "$work/mqtt-load" --host localhost --port 8883 --subscriber-port "$port" --cafile "$ca" \
    --credentials "$work/credentials" --clients "$DEVICES" "$@" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r['placement']='$placement'; print(json.dumps(r))"
}
for _ in $(seq "$rounds"); do
  run "one node" 8883 --shape pairs "$@"
  run "two nodes" 8884 --shape pairs "$@"
done
