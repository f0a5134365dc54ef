#ifndef CWARDEN_TLS_H
#define CWARDEN_TLS_H

#include <stdint.h>

/// Makes a server's `SSL_CTX` (BoringSSL, as swift-nio-ssl links it) choose the cipher suite by its own order
/// of preference instead of the client's (`SSL_OP_CIPHER_SERVER_PREFERENCE`; TLS 1.2 and below). swift-nio-ssl
/// offers no setting for it. Returns the context's options afterwards.
uint32_t warden_tls_prefer_server_ciphers(void *ssl_ctx);

/// The option bit `warden_tls_prefer_server_ciphers` sets.
extern const uint32_t warden_tls_server_preference_option;

/// The standard (RFC) name of the cipher suite a connection's `SSL` negotiated, or NULL before the handshake.
/// swift-nio-ssl does not expose it; the Defender's inventory reports it per device.
const char *warden_tls_cipher_name(void *ssl);

#endif
