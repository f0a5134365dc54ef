"""schemathesis hooks for check-api.sh: bodies that are bytes, not JSON, are sent as bytes."""
import schemathesis

# An OCSP request (RFC 6960) is DER; schemathesis generates arbitrary bytes for it like any binary body.
schemathesis.serializer.alias("application/ocsp-request", "application/octet-stream")
# A CRL (RFC 5280) is DER too, when a tenant uploads one for its CA.
schemathesis.serializer.alias("application/pkix-crl", "application/octet-stream")
