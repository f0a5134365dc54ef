#!/usr/bin/env bash
# A local cluster for development and tests (issue 18): PostgreSQL, three NATS servers routed to each other and
# three Warden nodes on loopback, sharing one database, one master key and one development CA.
#
#   scripts/cluster.sh up DIR     starts everything and returns once all three nodes answer /readyz
#   scripts/cluster.sh down DIR   stops everything `up` started in DIR
#   scripts/cluster.sh start-nats DIR N   starts NATS server N again (after a failure test stopped it)
#   scripts/cluster.sh stop-postgres DIR  stops PostgreSQL (a failure test), and start-postgres DIR starts it again
#
# Node N (1…3): HTTPS on 8442+N, MQTT/TLS on 8882+N, data directory DIR/node-N, log DIR/node-N/serve.log.
# NATS server N: clients on 4231+N, routes on 6231+N (not 4222: a packaged nats-server may hold it). PostgreSQL: 55440 (DIR/postgresql, or where
# DIR/postgresql.path says). `down` removes the database; the nodes' folders stay for their logs.
# Clients trust DIR/ca.pem; DIR/admin.token is the administrator's credential (the CLI's WARDEN_TOKEN).
# The binary is WARDEN_BINARY (default .build/debug/warden); build it first. The nodes get no other WARDEN_*
# variable from the caller's environment: their settings are this script's.
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: scripts/cluster.sh up|down DIR}
dir=$(mkdir -p "${2:?usage: scripts/cluster.sh up|down DIR}" && cd "$2" && pwd)
binary=$(realpath "${WARDEN_BINARY:-.build/debug/warden}")
nodes=(1 2 3)
postgres_port=55440

# PostgreSQL's folder. Run as root, the server runs as `postgres`, which must reach it: the folder then lives
# under /tmp (DIR's parents may be the caller's only) and DIR/postgresql.path says where.
postgres_dir() {
  if [ "$(id -u)" -ne 0 ]; then echo "$dir/postgresql"; return; fi
  if [ ! -f "$dir/postgresql.path" ]; then
    local folder
    folder=$(mktemp -d /tmp/warden-cluster-postgresql.XXXXXX)
    chmod 755 "$folder"
    echo "$folder" >"$dir/postgresql.path"
  fi
  cat "$dir/postgresql.path"
}

nats_urls() {  # the node's own NATS server first, then the others
  local first=$1
  local urls="nats://127.0.0.1:$((4231 + first))"
  for n in "${nodes[@]}"; do [ "$n" = "$first" ] || urls+=",nats://127.0.0.1:$((4231 + n))"; done
  echo "$urls"
}

start_nats() {
  local n=$1
  local routes=""
  for other in "${nodes[@]}"; do
    [ "$other" = "$n" ] || routes+="${routes:+,}nats://127.0.0.1:$((6231 + other))"
  done
  nats-server -a 127.0.0.1 -p $((4231 + n)) -n "warden-nats-$n" --cluster_name warden \
    --cluster "nats://127.0.0.1:$((6231 + n))" --routes "$routes" -l "$dir/nats-$n.log" \
    -P "$dir/nats-$n.pid" </dev/null >/dev/null 2>&1 &
}

wait_port() {  # PORT SECONDS
  for _ in $(seq $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_node() {
  local n=$1
  local data="$dir/node-$n"
  mkdir -p -m 700 "$data"
  local inherited
  inherited=$(env | { grep -o '^WARDEN_[A-Za-z0-9_]*' || true; } | sed 's/^/-u /' | tr '\n' ' ')
  # shellcheck disable=SC2086 # one word per variable to unset
  env $inherited \
    WARDEN_MASTER_KEY=$(cat "$dir/master.key") \
    WARDEN_STORE_BACKEND=postgresql \
    WARDEN_STORE_URL="postgres://warden@127.0.0.1:$postgres_port/warden?sslmode=verify-full&sslrootcert=$(postgres_dir)/server.crt" \
    WARDEN_STORE_PASSWORD=$(cat "$(postgres_dir)/password") \
    WARDEN_CLUSTER_NATS_URLS=$(nats_urls "$n") \
    WARDEN_CLUSTER_NODE_NAME="node-$n" \
    "$binary" serve --data-dir "$data" --https-port $((8442 + n)) --mqtt-port $((8882 + n)) --amqp-port $((5670 + n)) \
    </dev/null >"$data/serve.log" 2>&1 &
  echo $! >"$dir/node-$n.pid"
}

wait_ready() {  # N
  local n=$1
  for _ in $(seq 600); do
    if curl -sf --cacert "$dir/ca.pem" "https://localhost:$((8442 + n))/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$dir/node-$n.pid")" 2>/dev/null; then
      echo "node $n stopped; its log:" >&2
      cat "$dir/node-$n/serve.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "node $n did not become ready in 60 s; its log:" >&2
  cat "$dir/node-$n/serve.log" >&2
  return 1
}

case "$command" in
up)
  # Whatever fails, nothing started here is left running.
  trap 'echo "scripts/cluster.sh: start-up failed; stopping what it started" >&2; "$0" down "$dir" >/dev/null 2>&1' EXIT
  command -v nats-server >/dev/null || { echo "nats-server is not installed (apt-get install nats-server)" >&2; exit 1; }
  [ -x "$binary" ] || { echo "$binary is missing: swift build first" >&2; exit 1; }
  # As root the database lives outside DIR and `down` deletes it: nodes' data from an earlier run (the admin
  # credential, the CA, the audit head) would not match the new database, so they go too.
  if [ "$(id -u)" -eq 0 ] && [ ! -f "$dir/postgresql.path" ]; then
    for n in "${nodes[@]}"; do rm -rf "${dir:?}/node-$n"; done
    rm -f "$dir/admin.token" "$dir/ca.pem"
  fi
  scripts/postgres.sh start "$(postgres_dir)" "$postgres_port" >/dev/null
  for n in "${nodes[@]}"; do start_nats "$n"; done
  for n in "${nodes[@]}"; do wait_port $((4231 + n)) 10 || { echo "NATS server $n did not start" >&2; exit 1; }; done
  [ -f "$dir/master.key" ] || (umask 077 && openssl rand -base64 32 >"$dir/master.key")
  # The first node creates the development CA and the administrator; the others take both from it.
  start_node 1
  for _ in $(seq 600); do
    [ -f "$dir/node-1/tls/ca.pem" ] && [ -f "$dir/node-1/admin.token" ] && break
    kill -0 "$(cat "$dir/node-1.pid")" 2>/dev/null || { cat "$dir/node-1/serve.log" >&2; exit 1; }
    sleep 0.1
  done
  cp "$dir/node-1/tls/ca.pem" "$dir/ca.pem"
  cp "$dir/node-1/admin.token" "$dir/admin.token"
  wait_ready 1
  for n in 2 3; do
    mkdir -p -m 700 "$dir/node-$n/tls"
    cp "$dir/node-1/tls/ca.pem" "$dir/node-1/tls/ca.key.sealed" "$dir/node-$n/tls/"
    cp "$dir/admin.token" "$dir/node-$n/admin.token"
    start_node "$n"
  done
  for n in 2 3; do wait_ready "$n"; done
  trap - EXIT
  cat <<EOF
Cluster up in $dir:
  HTTPS   https://localhost:8443  https://localhost:8444  https://localhost:8445
  MQTT    mqtts://localhost:8883  mqtts://localhost:8884  mqtts://localhost:8885
  trust   $dir/ca.pem
  admin   WARDEN_URL=https://localhost:8443 WARDEN_CA_FILE=$dir/ca.pem WARDEN_TOKEN=\$(cat $dir/admin.token) $binary device list
  stop    scripts/cluster.sh down $dir
EOF
  ;;
start-nats)
  n=${3:?usage: scripts/cluster.sh start-nats DIR N}
  start_nats "$n"
  wait_port $((4231 + n)) 10
  ;;
stop-postgres)
  scripts/postgres.sh stop "$(postgres_dir)"
  ;;
start-postgres)
  scripts/postgres.sh start "$(postgres_dir)" "$postgres_port" >/dev/null
  ;;
down)
  for n in "${nodes[@]}"; do
    if [ -f "$dir/node-$n.pid" ]; then
      kill "$(cat "$dir/node-$n.pid")" 2>/dev/null || true
    fi
  done
  for n in "${nodes[@]}"; do
    if [ -f "$dir/node-$n.pid" ]; then
      pid=$(cat "$dir/node-$n.pid")
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/node-$n.pid"
    fi
  done
  for n in "${nodes[@]}"; do
    if [ -f "$dir/nats-$n.pid" ]; then kill "$(cat "$dir/nats-$n.pid")" 2>/dev/null || true; rm -f "$dir/nats-$n.pid"; fi
  done
  if [ "$(id -u)" -ne 0 ]; then
    scripts/postgres.sh stop "$dir/postgresql"
  elif [ -f "$dir/postgresql.path" ]; then
    scripts/postgres.sh stop "$(cat "$dir/postgresql.path")"
    rm -rf "$(cat "$dir/postgresql.path")" "$dir/postgresql.path"
  fi
  ;;
*)
  echo "usage: scripts/cluster.sh up|down|stop-postgres|start-postgres DIR, or start-nats DIR N" >&2
  exit 2
  ;;
esac
