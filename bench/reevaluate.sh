#!/usr/bin/env bash
# Live re-evaluation at scale: starts `warden serve` (release unless BUILD=debug; BIN=DIR for another build),
# registers DEVICES devices (default 10,000) with an attribute, connects them all over MQTT/TLS with SAS tokens
# (warden-bench connect, spread over 100 source addresses, held open), then times two policy writes through
# the API: a version that allows them (every connection and subscription decided again, none closed) and one
# that denies them `connect` (every connection closed). The API answers after the re-evaluation has run; the
# closes are then on their way, and the script waits until the broker counts no connection.
# Usage: bench/reevaluate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-10000}
source bench/lib.sh
add_bench_policy
add_devices "$DEVICES" "" '{"fleet":"bench"}'
connections() {
  api "$url/metrics" | sed -nE 's/^warden_mqtt_connections ([0-9.e+]+).*/\1/p' | python3 -c 'import sys; print(int(float(sys.stdin.read() or 0)))'
}
"$bin/warden-bench" connect --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" \
  --devices "$DEVICES" --rate 1000 --source-addresses 100 --hold 600 >"$data/bench.out" 2>&1 &
bench=$!
for _ in $(seq 600); do [ "$(connections)" -ge "$DEVICES" ] && break; sleep 0.5; done
echo "$(connections) devices connected"
put() {
  curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -X PUT "$url/api/v1/tenants/default/policies/document" -d "$1" -o /dev/null -w '%{time_total}'
}
allowed=$(put '{"statements": [{"id": "fleet", "effect": "allow", "principals": {"attributes": {"fleet": "bench"}},
  "actions": ["publish", "subscribe", "receive"], "resources": ["fleet/#"]}]}')
echo "a version that keeps every connection: the API answered in ${allowed} s; $(connections) still connected"
start=$(date +%s.%N)
denied=$(put '{"statements": [{"id": "fleet-off", "effect": "deny", "principals": {"attributes": {"fleet": "bench"}},
  "actions": ["connect"]}]}')
for _ in $(seq 600); do [ "$(connections)" -eq 0 ] && break; sleep 0.05; done
end=$(date +%s.%N)
echo "a version that denies them: the API answered in ${denied} s; no connection left after $(python3 -c "print(round($end - $start, 2))") s"
kill $bench 2>/dev/null || true
