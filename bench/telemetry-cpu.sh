#!/usr/bin/env bash
# The hub's CPU per durable telemetry message, by thread: runs the independent loader's telemetry shape
# (bench/loader.sh: DEVICES SAS devices over TLS, QoS 1 to their telemetry topic, 100 unacknowledged each, the
# PUBACK after the commit) and reads the server's threads' CPU time (/proc) at the loader's start and end.
# Prints the acknowledged rate, the PUBACK p99, and microseconds of CPU per acknowledged message: the whole
# server, the connections' event loops (NIO-*), and the rest (SQLite's writer and everything else). CPU per
# message is steadier than throughput on a shared machine; compare two builds in alternating runs:
#     BIN=/tmp/before bench/telemetry-cpu.sh; BIN=.build-release/release bench/telemetry-cpu.sh; …
# Usage: [BIN=DIR] [DEVICES=20] bench/telemetry-cpu.sh [DURATION=10] [RATE per device, 0: unpaced]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
rate=${2:-0}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
DEVICES=${DEVICES:-20} bench/loader.sh --shape telemetry --qos 1 --window 100 --duration "$duration" --rate "$rate" \
  >"$out/json" 2>"$out/err" &
script=$!
# The script's own children: the server it started and, once the devices are registered, the loader.
loader=""
for _ in $(seq 600); do
  loader=$(pgrep -P "$script" -f "mqtt-load --host" || true)
  [ -n "$loader" ] && break
  sleep 0.1
done
[ -n "$loader" ] || { cat "$out/err" >&2; exit 1; }
server=$(pgrep -P "$script" -f "warden serve --data-dir")
# CPU ticks of the whole process (threads that ended included) and of its event loops (NIO-*, which live as
# long as it). Dispatch's worker threads, where SQLite's writer runs, come and go: they are the difference.
threads() {
  {
    echo "process $(awk '{print $14 + $15}' /proc/"$server"/stat)"
    for task in /proc/"$server"/task/*; do
      if [[ "$(cat "$task/comm")" == NIO-* ]]; then echo "connections $(awk '{print $14 + $15}' "$task/stat")"; fi
    done
  } 2>/dev/null | awk 'NF == 2 {ticks[$1] += $2} END {for (name in ticks) print name, ticks[name]}'
}
threads >"$out/start"
# The server stops with the loader, its threads going one by one: every reading is kept and each count's
# highest taken (they only grow while the threads live).
while kill -0 "$loader" 2>/dev/null; do
  threads >>"$out/end" || true
  sleep 0.2
done
wait
python3 - "$out" "$(getconf CLK_TCK)" <<'EOF'
import json, pathlib, sys
folder, hz = pathlib.Path(sys.argv[1]), int(sys.argv[2])
run = json.loads((folder / "json").read_text().strip().splitlines()[-1])
def read(name):
    highest = {}
    for line in (folder / name).read_text().splitlines():
        if len(line.split()) == 2:
            key, ticks = line.split()
            highest[key] = max(highest.get(key, 0), int(ticks))
    return highest
start, end = read("start"), read("end")
acknowledged = max(run["received"], 1)
per_message = {name: (end.get(name, 0) - start.get(name, 0)) * 1e6 / hz / acknowledged
               for name in ("process", "connections")}
print(f"acknowledged/s {run['received_per_second']:,}  PUBACK p99 {run['latency_us']['p99'] / 1000:.1f} ms  "
      f"CPU µs per message: total {per_message['process']:.1f}, connections {per_message['connections']:.1f}, "
      f"writer and the rest {per_message['process'] - per_message['connections']:.1f}")
EOF
