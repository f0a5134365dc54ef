#!/usr/bin/env bash
# Fails when a target imports a Warden module (or, for WardenCore, a framework) that the table in
# docs/architecture.md does not allow. Dependencies point one way, leaf first (STYLE R1.2).
set -euo pipefail
cd "$(dirname "$0")/.."

allowed() {
  case "$1" in
    WardenCore) echo "" ;;
    CWardenTLS) echo "" ;;
    CWardenAllocator) echo "" ;;
    CWardenClock) echo "" ;;
    CWardenSQLite) echo "" ;;
    CWardenPKCS11) echo "" ;;
    WardenSecurity) echo "WardenCore" ;;
    WardenStore) echo "WardenCore CWardenSQLite" ;;
    WardenTLS) echo "WardenCore" ;;
    WardenMQTT) echo "" ;;
    WardenAMQP) echo "" ;;
    WardenAMQPEndpoint) echo "WardenAMQP WardenCore WardenAuthentication WardenBroker WardenHub WardenAzure WardenTLS" ;;
    WardenNATS) echo "" ;;
    WardenCluster) echo "WardenCore WardenNATS WardenStore WardenBroker WardenMQTT WardenSecurity WardenHub WardenDefender" ;;
    WardenAzure) echo "WardenCore" ;;
    WardenAuthentication) echo "WardenCore WardenSecurity WardenRegistry WardenAzure" ;;
    WardenPolicy) echo "WardenCore WardenMQTT WardenAzure" ;;
    WardenBroker) echo "WardenCore WardenMQTT WardenSecurity WardenRegistry WardenPolicy WardenStore WardenAzure WardenAuthentication WardenTLS" ;;
    WardenRegistry) echo "WardenCore WardenStore WardenSecurity WardenPolicy" ;;
    WardenAccess) echo "WardenCore WardenStore WardenSecurity" ;;
    WardenAudit) echo "WardenCore WardenStore" ;;
    WardenHub) echo "WardenCore WardenStore WardenRegistry WardenBroker WardenMQTT WardenSecurity WardenAzure WardenAuthentication WardenPolicy" ;;
    WardenPKI) echo "WardenCore WardenStore WardenSecurity" ;;
    WardenDefender) echo "WardenCore WardenStore WardenMQTT" ;;
    WardenProvisioning) echo "WardenCore WardenStore WardenSecurity WardenRegistry WardenHub WardenBroker WardenAzure WardenAuthentication WardenPKI" ;;
    WardenAPI) echo "WardenCore WardenSecurity WardenRegistry WardenHub WardenAccess WardenAudit WardenAzure WardenPolicy WardenMQTT WardenPKI WardenProvisioning WardenDefender WardenAuthentication" ;;
    WardenPortal) echo "WardenCore WardenAPI WardenAccess WardenAudit WardenRegistry WardenHub WardenSecurity WardenPolicy WardenPKI WardenProvisioning WardenDefender" ;;
    WardenServer) echo "WardenTLS WardenAMQPEndpoint WardenCore WardenStore WardenSecurity WardenRegistry WardenAPI WardenBroker WardenAuthentication WardenMQTT WardenPolicy WardenHub WardenAccess WardenAudit WardenPortal WardenPKI WardenProvisioning WardenDefender WardenCluster WardenNATS" ;;
    warden) echo "WardenCore WardenServer WardenAPI" ;;
    warden-bench) echo "WardenCore WardenMQTT WardenSecurity" ;;
    *) echo "UNKNOWN" ;;
  esac
}

status=0
for dir in Sources/*/; do
  target=$(basename "$dir")
  permitted=$(allowed "$target")
  if [ "$permitted" = "UNKNOWN" ]; then
    echo "check-imports: target $target is not in the table; add it to docs/architecture.md and this script"
    status=1
    continue
  fi
  while IFS=: read -r file line module; do
    if [ "$module" != "$target" ] && ! [[ " $permitted " == *" $module "* ]]; then
      echo "check-imports: $file:$line: $target may not import $module"
      status=1
    fi
  done < <(grep -rnoE '^(public |package |internal |@testable )?import Warden[A-Za-z]*' "$dir" --include='*.swift' \
             | sed -E 's/^([^:]+):([0-9]+):.*import (Warden[A-Za-z]*)$/\1:\2:\3/')
done

# WardenMQTT is a pure codec: NIOCore's ByteBuffer and nothing else (no sockets, no Foundation).
if grep -rnE '^(public )?import ' Sources/WardenMQTT | grep -vE 'import NIOCore$'; then
  echo "check-imports: WardenMQTT may import NIOCore only"
  status=1
fi

# WardenAMQP is a pure codec too.
if grep -rnE '^(public )?import ' Sources/WardenAMQP | grep -vE 'import NIOCore$'; then
  echo "check-imports: WardenAMQP may import NIOCore only"
  status=1
fi

# WardenCore is the leaf: no networking, storage or web framework.
if grep -rnE '^(public )?import (NIO[A-Za-z]*|GRDB|Hummingbird[A-Za-z]*|PostgresNIO|Crypto|X509)$' Sources/WardenCore; then
  echo "check-imports: WardenCore must not import frameworks"
  status=1
fi
exit $status
