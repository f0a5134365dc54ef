#!/usr/bin/env bash
# Pub/sub under a tenant policy, end to end: starts `warden serve` (release build unless BUILD=debug; BIN=DIR
# takes another build), registers devices bench-0-pub … and bench-0-sub … (DEVICES pairs) and a policy document
# that lets them publish, subscribe and receive on bench/#, and runs warden-bench pubsub over MQTT/TLS with SAS
# tokens: every PUBLISH and SUBSCRIBE is decided by the engine, every delivery asks `receive`.
# Usage: bench/policy.sh [warden-bench pubsub options…]   (for example --qos 1 --duration 10)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-10}
source bench/lib.sh
add_bench_pairs "$DEVICES"
"$bin/warden-bench" pubsub --port "$port" --ca "$data/tls/ca.pem" --policy bench --key "$key" --devices "$DEVICES" "$@"
