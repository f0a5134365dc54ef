#!/usr/bin/env bash
# Property-based API testing (issue 13): schemathesis generates requests from the live OpenAPI document of a
# fresh `warden serve` and checks that no answer is a server error and every answer matches the document.
# It runs as the bootstrap admin and as a signed-in user with the monitor role, with path parameters bound to a
# seeded tenant and device so that operations reach real code rather than answering 404. Bounded for CI: a fixed seed and EXAMPLES examples per operation (default 10).
# Usage: scripts/check-api.sh [path to warden]   (default .build/debug/warden)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-.build/debug/warden}"
examples="${EXAMPLES:-10}"

venv=.venv-api
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s Interop/api/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r Interop/api/requirements.txt
  cp Interop/api/requirements.txt "$venv/requirements.txt"
fi

source scripts/start-warden.sh "$binary" check-api

warden() { "$binary" "$@" --data-dir "$work/data"; }
warden device create st-1 >/dev/null
warden device create st-2 >/dev/null
# The monitor is a person: a user with the monitor role in the default tenant, signed in for an access token.
password="st-monitor-password-$RANDOM$RANDOM"
admin_token=$(cat "$work/data/admin.token")
curl -sf --cacert "$work/data/tls/ca.pem" -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
  -d "{\"username\":\"st-monitor\",\"password\":\"$password\",\"roles\":{\"default\":\"monitor\"}}" \
  "$url/api/v1/users" >/dev/null
# Signed in just before its run (after the admin's), so that nothing the admin run does ends the session first.
sign_in_monitor() {
  curl -sf --cacert "$work/data/tls/ca.pem" -H 'Content-Type: application/json' \
    -d "{\"username\":\"st-monitor\",\"password\":\"$password\"}" "$url/api/v1/auth/signin" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.tenant" = "default"
"path.device" = "st-1"
TOML

status=0
for who in admin monitor; do
  token=$([ "$who" = admin ] && echo "$admin_token" || sign_in_monitor)
  # The monitor's own session stays up for the whole run: signing out or changing its password would end it.
  exclude=$([ "$who" = monitor ] && echo "--exclude-operation-id signOut --exclude-operation-id changePassword" || true)
  echo "check-api: as $who, $examples examples per operation"
  SCHEMATHESIS_HOOKS=Interop/api/hooks.py "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$url/api/v1/openapi.json" \
    --tls-verify "$work/data/tls/ca.pem" -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance --max-examples "$examples" --seed 13 --workers 1 $exclude \
    >"$work/$who.txt" 2>&1 || { status=1; cat "$work/$who.txt"; }
  tail -8 "$work/$who.txt"
done
exit $status
