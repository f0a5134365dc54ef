#!/usr/bin/env bash
# The soak (issue 13; not in CI): a fleet of DEVICES (10,000) on MQTT/TLS with SAS tokens, each publishing QoS 1
# telemetry every 10 s and taking cloud-to-device messages, 20 of them leaving and coming back each second, an
# API client sending 10 C2D messages a second, for MINUTES (30) — against a release `warden serve` on its
# defaults (devices spread over 4 loopback source addresses, each within the per-address limits).
# bench/soak.py samples the server every 10 s (RSS, fds, CPU, event-loop lag p99, connections). Results go to
# OUT (soak-results/<date>): server.csv, bench.jsonl (one line per 10 s window), soak.csv, soak.png, and a
# Markdown summary on stdout. Usage: [DEVICES=N] [MINUTES=M] bench/soak.sh [more warden-bench soak options…]
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-10000}
MINUTES=${MINUTES:-30}
OUT=${OUT:-soak-results/$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT"
# The server and the fleet each hold a socket per device.
ulimit -n "$(( DEVICES * 2 + 4096 < $(ulimit -Hn) ? DEVICES * 2 + 4096 : $(ulimit -Hn) ))"
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q -r bench/requirements.txt
fi
source bench/lib.sh
register_devices "$DEVICES"
.venv-bench/bin/python bench/soak.py monitor "$server" "$url" "$token" "$data/tls/ca.pem" "$OUT/server.csv" &
monitor=$!
status=0
"$bin/warden-bench" soak --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" --devices "$DEVICES" \
  --api "$url" --token "$token" --duration $(( MINUTES * 60 )) --source-addresses 4 "$@" >"$OUT/bench.jsonl" \
  || status=$?
kill -TERM "$monitor"; wait "$monitor" || true
.venv-bench/bin/python bench/soak.py report "$OUT/server.csv" "$OUT/bench.jsonl" "$OUT"
echo "warden-bench soak exit status: $status (results in $OUT)"
exit "$status"
