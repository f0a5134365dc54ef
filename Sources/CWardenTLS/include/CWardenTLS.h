#ifndef CWARDEN_TLS_H
#define CWARDEN_TLS_H

#include <stdint.h>

/// Makes a server's `SSL_CTX` (BoringSSL, as swift-nio-ssl links it) choose the cipher suite by its own order
/// of preference instead of the client's (`SSL_OP_CIPHER_SERVER_PREFERENCE`; TLS 1.2 and below). swift-nio-ssl
/// offers no setting for it. Returns the context's options afterwards.
uint32_t warden_tls_prefer_server_ciphers(void *ssl_ctx);

/// The option bit `warden_tls_prefer_server_ciphers` sets.
extern const uint32_t warden_tls_server_preference_option;

#endif
