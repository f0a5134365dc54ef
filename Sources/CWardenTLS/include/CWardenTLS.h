#ifndef CWARDEN_TLS_H
#define CWARDEN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Sets what swift-nio-ssl has no setting for on a server's `SSL_CTX` (BoringSSL, as swift-nio-ssl links it): the
/// cipher suite chosen by the server's order of preference instead of the client's
/// (`SSL_OP_CIPHER_SERVER_PREFERENCE`; TLS 1.2 and below), and no session resumption (no session cache, no
/// tickets in TLS 1.2 or 1.3). Returns whether the context reads back as set.
bool warden_tls_configure_server(void *ssl_ctx);

/// The standard (RFC) name of the cipher suite a connection's `SSL` negotiated, or NULL before the handshake.
/// swift-nio-ssl does not expose it; the Defender's inventory reports it per device.
const char *warden_tls_cipher_name(void *ssl);

#endif
