#!/usr/bin/env bash
# A private PostgreSQL server in a folder, for the tests and the local cluster (Debian's postgresql package):
#
#   scripts/postgres.sh start DIR [PORT]   initialises DIR once, starts the server on 127.0.0.1:PORT (55432) with
#                                          TLS (a self-signed certificate, DIR/server.crt) and password logins only,
#                                          and prints the URL of its `warden` database (also in DIR/url)
#   scripts/postgres.sh stop DIR           stops it
#
# The `warden` role may create databases (the store tests make one per test). Run as root, the server runs as
# the `postgres` user, which PostgreSQL requires. Its socket (for this script, as the superuser) is the owner's
# only; the URL file holds the password and is the owner's only too.
set -euo pipefail

command=${1:?usage: scripts/postgres.sh start|stop DIR [PORT]}
dir=$(mkdir -p "${2:?usage: scripts/postgres.sh start|stop DIR [PORT]}" && cd "$2" && pwd)
port=${3:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

# The caller's other descriptors (a test harness's pipes) must not live on in the server started here: a
# process waiting for this script's end would wait for the server's.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
  # DIR/url is written last: without it, an earlier start failed half-way and begins again.
  if [ ! -f "$dir/url" ]; then
    [ -f "$dir/data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir/data" "$dir/socket"
    password=$(openssl rand -hex 16)
    mkdir -p -m 700 "$dir/data" "$dir/socket"
    printf '%s\n' "$password" >"$dir/password"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.crt" \
      2>/dev/null
    chmod 600 "$dir/server.key" "$dir/password"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --no-sync >/dev/null
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_min_protocol_version = 'TLSv1.2'
max_connections = 200
unix_socket_permissions = 0700
EOF
    # Loopback TCP only over TLS, with a password; the socket (for this script) as the owner.
    cat >"$dir/data/pg_hba.conf" <<EOF
local all postgres trust
hostssl all all 127.0.0.1/32 scram-sha-256
EOF
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    as_owner "$bin/psql" -q -h "$dir/socket" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE warden LOGIN CREATEDB PASSWORD '$password'" -c "CREATE DATABASE warden OWNER warden"
    (umask 077 && echo "postgres://warden:$password@127.0.0.1:$port/warden" >"$dir/url")
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/url"
  elif ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
  fi
  cat "$dir/url"
  ;;
stop)
  [ -f "$dir/data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*)
  echo "usage: scripts/postgres.sh start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
