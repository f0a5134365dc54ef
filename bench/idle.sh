#!/usr/bin/env bash
# Memory per idle connection, Warden and mosquitto side by side: for each broker, plain MQTT (anonymous) and
# MQTT/TLS (the same certificate for both; Warden's TLS clients are SAS-authenticated devices, mosquitto's
# anonymous), open N connections and report (RSS with them − RSS before) / N. The connections come from
# `warden-bench connect --hold`, or with LOADER=mqtt-load from bench/loader/mqtt-load.c (libmosquitto, no code of
# Warden's; built here with gcc), whose `--shape connect --hold` also reports connects/s and CONNACK latency.
# Usage: [LOADER=mqtt-load] [BIN=DIR (another build's warden)] bench/idle.sh [N]   (default 10000; beyond ~25,000 connections they are spread over
# several 127.0.0.x source addresses, ~28,000 ephemeral ports each). Each process holds N sockets: the script
# raises its soft open-file limit to the hard one and says when the hard one is too low. A libmosquitto client holds
# three descriptors (its socket and a socket pair that wakes its loop), so mqtt-load's clients are spread over
# processes of 5,000 each.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
LOADER=${LOADER:-warden-bench}
# Each process (the broker, the loader) holds N sockets.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((N + 1024)) ]; then
  echo "The hard open-file limit is $hard: $N connections need $((N + 1024)) per process (raise it with" \
    "ulimit -Hn as root, or in the container's settings)." >&2
  exit 1
fi
ulimit -n "$hard"
swift build -q -c release --scratch-path .build-release --product warden
swift build -q -c release --scratch-path .build-release --product warden-bench
bin=.build-release/release
server=${BIN:-$bin}
scratch=$(mktemp -d)
gcc -O2 -Wall -Wextra -Werror -o "$scratch/mqtt-load" bench/loader/mqtt-load.c -lmosquitto
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
measure() { # name pid warden-bench-arguments… -- mqtt-load-arguments…
  local name=$1 pid=$2; shift 2
  local bench=() loader=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do bench+=("$1"); shift; done
  [ $# -gt 0 ] && shift && loader=("$@")
  sleep 1
  local before after figures=""
  before=$(rss "$pid")
  if [ "$LOADER" = mqtt-load ]; then
    local per=5000 processes=() outputs=()
    local count=$(( (N + per - 1) / per ))
    for part in $(seq 0 $((count - 1))); do
      local clients=$(( N - part * per < per ? N - part * per : per )) credentials=()
      if [ -n "$CREDENTIALS" ]; then
        sed -n "$((part * per + 1)),$((part * per + clients))p" "$CREDENTIALS" >"$scratch/credentials.$part"
        credentials=(--credentials "$scratch/credentials.$part")
      fi
      rm -f "$scratch/out.$part"
      "$scratch/mqtt-load" --shape connect --clients "$clients" --rate $((2000 / count)) --hold 600 \
        "${loader[@]}" "${credentials[@]}" >"$scratch/out.$part" &
      processes+=($!)
      outputs+=("$scratch/out.$part")
    done
    for output in "${outputs[@]}"; do
      for _ in $(seq 1200); do [ -s "$output" ] && break; sleep 0.1; done
    done
    sleep 1
    after=$(awk '{printf "%.1f", $1 / 1024}' <<<"$(rss "$pid")")
    kill "${processes[@]}" 2>/dev/null || true
    wait "${processes[@]}" 2>/dev/null || true
    # Connects/s over all processes; the CONNACK p99 of the worst one.
    figures=$(cat "${outputs[@]}" | python3 -c "import json, sys; r = [json.loads(l) for l in sys.stdin]; print(' | {:,.0f} | {:.2f}'.format(sum(x['connects_per_second'] for x in r), max(x['connack_us']['p99'] for x in r) / 1000))")
    local connected; connected=$(cat "${outputs[@]}" | python3 -c "import json, sys; print(sum(json.loads(l)['connected'] for l in sys.stdin))")
    if [ "$connected" != "$N" ]; then
      echo "| $name | $N | only $connected connected | | | | |"
      return
    fi
  else
    "$bin/warden-bench" connect --devices "$N" --rate 2000 --hold 3 --source-addresses $(( N / 25000 + 1 )) \
      --broker-pid "$pid" "${bench[@]}" >"$scratch/out"
    after=$(grep -o 'RSS [0-9.]*' "$scratch/out" | awk '{print $2}')
  fi
  awk -v n="$N" -v b="$before" -v a="$after" -v name="$name" -v extra="$figures" \
    'BEGIN { printf "| %s | %d | %.1f | %.1f | %.1f%s |\n", name, n, b / 1024, a, (a * 1024 - b) / n, extra }'
}

if [ "$LOADER" = mqtt-load ]; then
  echo "| broker, listener | connections | RSS before (MiB) | RSS with them (MiB) | KiB per connection | connects/s | CONNACK p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
else
  echo "| broker, listener | connections | RSS before (MiB) | RSS with them (MiB) | KiB per connection |"
  echo "| --- | ---: | ---: | ---: | ---: |"
fi

# Warden: plain anonymous listener and the TLS listener, devices registered through the API.
cat >"$scratch/warden.yaml" <<YAML
log: {level: warning}
https: {port: 0}
amqp: {enabled: false}
mqtt:
  port: 8883
  max-connections: 200000
  connect-rate-per-ip: 1000000
  connect-burst-per-ip: 1000000
  max-pending-per-ip: 1000000
  max-pending: 1000000
  plain: {enabled: true, address: 127.0.0.1, port: 1883, anonymous: publish-subscribe}
tls: {certificate: $scratch/server.pem, private-key: $scratch/server.key}
YAML
# Each listener is measured on a fresh process, so that one's connections do not leave the other freed memory
# to reuse. Warden's TLS process starts with the devices already registered (the directory holds their keys).
start_warden() {
  "$server/warden" serve --config "$scratch/warden.yaml" --data-dir "$scratch/warden-data" >"$scratch/warden.out" 2>&1 &
  warden=$!
  for _ in $(seq 100); do grep -q "^Next steps" "$scratch/warden.out" 2>/dev/null && break; sleep 0.2; done
}
start_warden
CREDENTIALS=""
measure "Warden, plain" "$warden" --port 1883 --anonymous -- --port 1883
url=$(sed -nE 's/.*listening on (https:\/\/\S+).*/\1/p' "$scratch/warden.out" | head -1)
token=$(cat "$scratch/warden-data/admin.token")
api() { curl -sf --cacert "$scratch/ca.pem" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
key=$(api -X POST "$url/api/v1/tenants/default/shared-access-policies" \
  -d '{"name":"bench","permissions":["deviceConnect"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"]["primaryKey"])')
seq 0 $((N - 1)) | xargs -P 8 -I{} curl -sf --cacert "$scratch/ca.pem" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -X POST "$url/api/v1/tenants/default/devices" -d '{"deviceId":"bench-{}"}' -o /dev/null
# mqtt-load's devices: SAS tokens signed with the policy's key, as warden-bench signs them.
bench/sas-credentials bench "$key" "$N" >"$scratch/credentials"
CREDENTIALS="$scratch/credentials"
kill "$warden"; wait "$warden" 2>/dev/null || true
start_warden
measure "Warden, TLS (SAS devices)" "$warden" --port 8883 --ca "$scratch/ca.pem" --host localhost --policy bench \
  --key "$key" -- --port 8883 --host localhost --cafile "$scratch/ca.pem"
CREDENTIALS=""
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
measure "mosquitto, plain" "$mosquitto" --port 1883 --anonymous -- --port 1883
kill "$mosquitto"; wait "$mosquitto" 2>/dev/null || true
mosquitto -c "$scratch/mosquitto.conf" >"$scratch/mosquitto.out" 2>&1 &
mosquitto=$!
measure "mosquitto, TLS" "$mosquitto" --port 8883 --ca "$scratch/ca.pem" --host localhost --anonymous -- \
  --port 8883 --host localhost --cafile "$scratch/ca.pem"
kill "$mosquitto"
