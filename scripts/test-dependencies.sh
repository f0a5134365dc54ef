#!/usr/bin/env bash
# What the tests need from Debian, in one place: scripts/test.sh (the README's test command) and .ci/run call it.
# Run as root with apt, it installs what is missing; otherwise it names what is missing and the command for it,
# and fails only for missing packages (without the apt source entries, mosquitto's suite is skipped, and says so).
set -euo pipefail

# libsqlite3-dev: the build; python3-venv: the interop suites' virtual environments; mosquitto-clients: the MQTT
# interop tests drive mosquitto_pub and mosquitto_sub; openssl makes their test certificates; curl: the bench
# scripts register devices through the API; chromium and its driver: the portal tests (Selenium); testssl.sh:
# scripts/check-tls.sh scans both TLS listeners; gcc and libmosquitto-dev: bench/loader.sh builds the independent
# load generator (bench/loader/mqtt-load.c); libqpid-proton11-dev: bench/amqp.sh builds the AMQP one
# (bench/loader/amqp-load.c, Qpid Proton C); softhsm2: the master key wrapped in a PKCS #11 token
# (Interop/mqtt/test_hsm.py); postgresql: the store suites run against both engines (scripts/postgres.sh).
packages=(libsqlite3-dev python3-venv mosquitto-clients openssl curl chromium chromium-driver testssl.sh gcc
  libmosquitto-dev libqpid-proton11-dev softhsm2 postgresql nats-server)
# Interop/mosquitto runs mosquitto's own broker tests from Debian's source package, which needs apt's deb-src.
debian_sources=/etc/apt/sources.list.d/debian.sources
source_entries=/etc/apt/sources.list.d/warden-test-sources.sources

missing=()
for package in "${packages[@]}"; do
  # Installed, not merely known (a removed package keeps its configuration files and its dpkg entry).
  [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing+=("$package")
done
needs_sources=false
if ! grep -rqsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  needs_sources=true
fi
if [ ${#missing[@]} -eq 0 ] && ! $needs_sources; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "The tests need these Debian packages: ${missing[*]}. As root: scripts/test-dependencies.sh" >&2
    echo "(or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "No apt source entries (deb-src): mosquitto's own broker tests will be skipped." \
    "As root, scripts/test-dependencies.sh adds them." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if $needs_sources; then
  if [ -f "$debian_sources" ]; then
    sed 's/^Types: deb$/Types: deb-src/' "$debian_sources" >"$source_entries"
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/warden-test-sources.list
  fi
fi
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
