# Shared by the bench scripts: build (release unless BUILD=debug) and start a scratch `warden serve`.
# Sets bin, data, url, port (MQTT/TLS), token (admin) and api (a curl with both); stops the server on exit.
# BIN=DIR takes warden and warden-bench as built in DIR instead (to compare two builds in one session).
BUILD=${BUILD:-release}
if [ -n "${BIN:-}" ]; then
  bin=$BIN
elif [ "$BUILD" = release ]; then
  swift build -q -c release --scratch-path .build-release --product warden
  swift build -q -c release --scratch-path .build-release --product warden-bench
  bin=.build-release/release
else
  swift build -q --product warden
  swift build -q --product warden-bench
  bin=.build/debug
fi

data=$(mktemp -d)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
"$bin/warden" serve --data-dir "$data" --https-port 0 --mqtt-port 0 --amqp-port 0 --log-level warning >"$data/out" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "^Next steps" "$data/out" 2>/dev/null && break; sleep 0.2; done
url=$(sed -nE 's/.*listening on (https:\/\/\S+).*/\1/p' "$data/out" | head -1)
port=$(sed -nE 's/^MQTT: mqtts:\/\/[^:]+:([0-9]+).*/\1/p' "$data/out" | head -1)
token=$(cat "$data/admin.token")
api() { curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }

# Registers a deviceConnect policy "bench" (its key in $key).
add_bench_policy() {
  key=$(api -X POST "$url/api/v1/tenants/default/shared-access-policies" \
    -d '{"name":"bench","permissions":["deviceConnect"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["primaryKey"])')
}

# The policy "bench" and devices bench-0 … bench-(N-1).
register_devices() {
  add_bench_policy
  add_devices "$1"
}

# Registers devices bench-0SUFFIX … bench-(N-1)SUFFIX with ATTRIBUTES (a JSON object), eight at a time:
# add_devices N [SUFFIX] [ATTRIBUTES].
add_devices() {
  # xargs replaces every "{}" in the body: an attributes object is only added when given.
  seq 0 $(($1 - 1)) | xargs -P 8 -I{} curl -sf --cacert "$data/tls/ca.pem" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -X POST "$url/api/v1/tenants/default/devices" \
    -d "{\"deviceId\":\"bench-{}${2:-}\"${3:+,\"attributes\":$3}}" -o /dev/null
}

# DEVICES pairs bench-N-pub and bench-N-sub with the attribute role=bench, and a tenant policy letting them
# publish, subscribe and receive on bench/#: every PUBLISH, SUBSCRIBE and delivery is decided by the engine.
add_bench_pairs() {
  add_bench_policy
  for role in pub sub; do add_devices "$1" "-$role" '{"role":"bench"}'; done
  api -X PUT "$url/api/v1/tenants/default/policies/document" -o /dev/null -d '{"statements": [
    {"id": "bench", "effect": "allow", "principals": {"attributes": {"role": "bench"}},
     "actions": ["publish", "subscribe", "receive"], "resources": ["bench/#"]}]}'
}
