#!/usr/bin/env bash
# Runs every test: the Swift suites (unit and integration, which start the real `warden` binary) and the
# interop suites with third-party clients (Interop/, pytest). The README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
swift test --skip-build

venv=.venv-interop
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r Interop/requirements.txt
fi
WARDEN_BINARY="$PWD/.build/debug/warden" "$venv/bin/pytest" -q Interop
