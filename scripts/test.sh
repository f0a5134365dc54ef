#!/usr/bin/env bash
# Runs every test: the Swift suites (unit and integration, which start the real `warden` binary) and the
# interop suites with third-party clients (Interop/, pytest), each in its own virtual environment because
# azure-iot-device pins paho-mqtt below 2. The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-dependencies.sh
swift build --build-tests
# The store suites run against SQLite and against this private PostgreSQL server (scripts/postgres.sh).
postgres_dir=$(mktemp -d /tmp/warden-test-postgresql.XXXXXX)
chmod 755 "$postgres_dir"
trap 'scripts/postgres.sh stop "$postgres_dir"; rm -rf "$postgres_dir"' EXIT
WARDEN_TEST_POSTGRES_URL="$(scripts/postgres.sh start "$postgres_dir" 55433)?sslrootcert=$postgres_dir/server.crt"
export WARDEN_TEST_POSTGRES_URL
swift test --skip-build

# Both TLS listeners as testssl.sh sees them: no vulnerability, no finding but those a development CA cannot avoid.
scripts/check-tls.sh .build/debug/warden
# The management API against its own OpenAPI document with schemathesis: no server error, answers as documented.
scripts/check-api.sh .build/debug/warden

for suite in azure mqtt amqp portal; do
  venv=".venv-$suite"
  if [ ! -x "$venv/bin/pytest" ] || ! cmp -s "Interop/$suite/requirements.txt" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "Interop/$suite/requirements.txt"
    cp "Interop/$suite/requirements.txt" "$venv/requirements.txt"
  fi
  WARDEN_BINARY="$PWD/.build/debug/warden" "$venv/bin/pytest" -q "Interop/$suite"
done
# mosquitto's own broker tests; docs/conformance.md says why each one that fails does. Optional only for a
# developer who is not root and has no apt source entries (scripts/test-dependencies.sh said so).
python3 Interop/mosquitto/run.py --warden .build/debug/warden $([ "$(id -u)" -eq 0 ] || echo --optional)

# The load generators work end to end (a few hundred durable messages; benchmarks are not tests: no timing):
# warden-bench, and the independent loader built from source, for one second.
BUILD=debug DEVICES=2 bench/telemetry.sh --messages 400 --duration 30 --warm-up 0
BUILD=debug DEVICES=2 bench/loader.sh --qos 1 --duration 1 --warm-up 0
BUILD=debug DEVICES=2 bench/loader.sh --shape telemetry --qos 1 --duration 1 --warm-up 0
BUILD=debug DEVICES=2 bench/loader.sh --shape connect
BUILD=debug DEVICES=2 ROUNDS=1 bench/amqp.sh 1 20
