# Sourced by the check scripts: starts `warden serve` ($1, default .build/debug/warden) on free ports in a
# temporary data directory that is removed, with the server, on exit. Sets $work, $url, $https_port and
# $mqtts_port; exits naming $2 when the server does not start.
binary="${1:-.build/debug/warden}"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$binary" serve --data-dir "$work/data" --https-port 0 --mqtt-port 0 --amqp-port 0 >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 120); do
  grep -q "^MQTT: mqtts://" "$work/serve.log" 2>/dev/null && break
  sleep 0.5
done
url=$(grep -o 'listening on https://[^ ]*' "$work/serve.log" | head -1 | sed 's/listening on //')
https_port=${url##*:}
mqtts_port=$(grep -o '^MQTT: mqtts://[^ ]*' "$work/serve.log" | head -1 | sed 's/.*://')
if [ -z "$url" ] || [ -z "$mqtts_port" ]; then
  echo "$2: warden did not start" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
