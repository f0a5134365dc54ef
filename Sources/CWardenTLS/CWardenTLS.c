#include "CWardenTLS.h"

// BoringSSL's symbols carry swift-nio-ssl's prefix; NIOSSL links the library into every binary that uses it.
uint32_t CNIOBoringSSL_SSL_CTX_set_options(void *ctx, uint32_t options);
int CNIOBoringSSL_SSL_CTX_set_session_cache_mode(void *ctx, int mode);
int CNIOBoringSSL_SSL_CTX_set_num_tickets(void *ctx, size_t num_tickets);
const void *CNIOBoringSSL_SSL_get_current_cipher(const void *ssl);
const char *CNIOBoringSSL_SSL_CIPHER_standard_name(const void *cipher);

// SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET
const uint32_t warden_tls_server_options = 0x00400000u | 0x00004000u;

uint32_t warden_tls_configure_server(void *ssl_ctx) {
    CNIOBoringSSL_SSL_CTX_set_session_cache_mode(ssl_ctx, 0);  // SSL_SESS_CACHE_OFF
    CNIOBoringSSL_SSL_CTX_set_num_tickets(ssl_ctx, 0);
    return CNIOBoringSSL_SSL_CTX_set_options(ssl_ctx, warden_tls_server_options);
}

const char *warden_tls_cipher_name(void *ssl) {
    const void *cipher = CNIOBoringSSL_SSL_get_current_cipher(ssl);
    return cipher == 0 ? 0 : CNIOBoringSSL_SSL_CIPHER_standard_name(cipher);
}
