#include "CWardenTLS.h"

// BoringSSL's symbols carry swift-nio-ssl's prefix; NIOSSL links the library into every binary that uses it.
uint32_t CNIOBoringSSL_SSL_CTX_set_options(void *ctx, uint32_t options);
uint32_t CNIOBoringSSL_SSL_CTX_get_options(const void *ctx);
int CNIOBoringSSL_SSL_CTX_set_session_cache_mode(void *ctx, int mode);
int CNIOBoringSSL_SSL_CTX_get_session_cache_mode(const void *ctx);
int CNIOBoringSSL_SSL_CTX_set_num_tickets(void *ctx, size_t num_tickets);
size_t CNIOBoringSSL_SSL_CTX_get_num_tickets(const void *ctx);
const void *CNIOBoringSSL_SSL_get_current_cipher(const void *ssl);
const char *CNIOBoringSSL_SSL_CIPHER_standard_name(const void *cipher);

// SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET
static const uint32_t server_options = 0x00400000u | 0x00004000u;
static const int session_cache_off = 0;  // SSL_SESS_CACHE_OFF

bool warden_tls_configure_server(void *ssl_ctx) {
    CNIOBoringSSL_SSL_CTX_set_options(ssl_ctx, server_options);
    CNIOBoringSSL_SSL_CTX_set_session_cache_mode(ssl_ctx, session_cache_off);
    CNIOBoringSSL_SSL_CTX_set_num_tickets(ssl_ctx, 0);
    // Read back: the setters report nothing useful.
    return (CNIOBoringSSL_SSL_CTX_get_options(ssl_ctx) & server_options) == server_options
        && CNIOBoringSSL_SSL_CTX_get_session_cache_mode(ssl_ctx) == session_cache_off
        && CNIOBoringSSL_SSL_CTX_get_num_tickets(ssl_ctx) == 0;
}

const char *warden_tls_cipher_name(void *ssl) {
    const void *cipher = CNIOBoringSSL_SSL_get_current_cipher(ssl);
    return cipher == 0 ? 0 : CNIOBoringSSL_SSL_CIPHER_standard_name(cipher);
}
