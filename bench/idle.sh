#!/usr/bin/env bash
# Memory per idle connection, Warden and mosquitto side by side: for each broker, plain MQTT (anonymous) and
# MQTT/TLS (the same certificate for both; Warden's TLS clients are SAS-authenticated devices, mosquitto's
# anonymous), open N connections with `warden-bench connect --hold`, and report (RSS with them − RSS before) / N.
# Usage: bench/idle.sh [N]   (default 10000; beyond ~28,000 connections the bench spreads them over several
# 127.0.0.x source addresses, ~28,000 ephemeral ports each; the open-file limit must allow N per process)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
# Each process (the broker, the bench) holds N sockets.
ulimit -n "$(( N + 1024 < $(ulimit -Hn) ? N + 1024 : $(ulimit -Hn) ))"
swift build -q -c release --scratch-path .build-release --product warden
swift build -q -c release --scratch-path .build-release --product warden-bench
bin=.build-release/release
scratch=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null; rm -rf "$scratch"' EXIT

# One certificate for both brokers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$scratch/ca.key" -out "$scratch/ca.pem" \
  -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$scratch/server.key" -out "$scratch/server.csr" \
  -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > "$scratch/san"
openssl x509 -req -in "$scratch/server.csr" -CA "$scratch/ca.pem" -CAkey "$scratch/ca.key" -CAcreateserial \
  -out "$scratch/server.pem" -days 2 -extfile "$scratch/san" 2>/dev/null
# mosquitto started as root drops to its own user, which must read these (throwaway test keys).
chmod 755 "$scratch" && chmod 644 "$scratch"/*.pem "$scratch"/*.key

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
measure() { # name pid bench-arguments…
  local name=$1 pid=$2; shift 2
  sleep 1
  local before; before=$(rss "$pid")
  "$bin/warden-bench" connect --devices "$N" --rate 2000 --hold 3 --source-addresses $(( N / 25000 + 1 )) \
    --broker-pid "$pid" "$@" >"$scratch/out"
  local after; after=$(grep -o 'RSS [0-9.]*' "$scratch/out" | awk '{print $2}')
  awk -v n="$N" -v b="$before" -v a="$after" -v name="$name" -v line="$(cat "$scratch/out")" \
    'BEGIN { printf "| %s | %d | %.1f | %.1f | %.1f |\n", name, n, b / 1024, a, (a * 1024 - b) / n }'
}

echo "| broker, listener | connections | RSS before (MiB) | RSS with them (MiB) | KiB per connection |"
echo "| --- | ---: | ---: | ---: | ---: |"

# Warden: plain anonymous listener and the TLS listener, devices registered through the API.
cat >"$scratch/warden.yaml" <<YAML
log: {level: warning}
https: {port: 0}
mqtt:
  port: 8883
  max-connections: 200000
  connect-rate-per-ip: 1000000
  connect-burst-per-ip: 1000000
  plain: {enabled: true, address: 127.0.0.1, port: 1883, anonymous: publish-subscribe}
tls: {certificate: $scratch/server.pem, private-key: $scratch/server.key}
YAML
"$bin/warden" serve --config "$scratch/warden.yaml" --data-dir "$scratch/warden-data" >"$scratch/warden.out" 2>&1 &
warden=$!
for _ in $(seq 100); do grep -q "^Next steps" "$scratch/warden.out" 2>/dev/null && break; sleep 0.2; done
measure "Warden, plain" "$warden" --port 1883 --anonymous
url=$(sed -nE 's/.*listening on (https:\/\/\S+).*/\1/p' "$scratch/warden.out" | head -1)
token=$(cat "$scratch/warden-data/admin.token")
api() { curl -sf --cacert "$scratch/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
key=$(api -X POST "$url/api/v1/tenants/default/shared-access-policies" \
  -d '{"name":"bench","permissions":["deviceConnect"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["primaryKey"])')
seq 0 $((N - 1)) | xargs -P 8 -I{} curl -sf --cacert "$scratch/ca.pem" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -X POST "$url/api/v1/tenants/default/devices" -d '{"deviceId":"bench-{}"}' -o /dev/null
measure "Warden, TLS (SAS devices)" "$warden" --port 8883 --ca "$scratch/ca.pem" --host localhost --policy bench --key "$key"
kill "$warden"; wait "$warden" 2>/dev/null || true

# mosquitto: the same two listeners, anonymous.
cat >"$scratch/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
persistence false
log_type error
max_connections -1
listener 1883 127.0.0.1
listener 8883 127.0.0.1
cafile $scratch/ca.pem
certfile $scratch/server.pem
keyfile $scratch/server.key
CONF
mosquitto -c "$scratch/mosquitto.conf" >"$scratch/mosquitto.out" 2>&1 &
mosquitto=$!
measure "mosquitto, plain" "$mosquitto" --port 1883 --anonymous
measure "mosquitto, TLS" "$mosquitto" --port 8883 --ca "$scratch/ca.pem" --host localhost --anonymous
kill "$mosquitto"
