#include "CWardenTLS.h"

// BoringSSL's symbols carry swift-nio-ssl's prefix; NIOSSL links the library into every binary that uses it.
uint32_t CNIOBoringSSL_SSL_CTX_set_options(void *ctx, uint32_t options);
const void *CNIOBoringSSL_SSL_get_current_cipher(const void *ssl);
const char *CNIOBoringSSL_SSL_CIPHER_standard_name(const void *cipher);

const uint32_t warden_tls_server_preference_option = 0x00400000u;

uint32_t warden_tls_prefer_server_ciphers(void *ssl_ctx) {
    return CNIOBoringSSL_SSL_CTX_set_options(ssl_ctx, warden_tls_server_preference_option);
}

const char *warden_tls_cipher_name(void *ssl) {
    const void *cipher = CNIOBoringSSL_SSL_get_current_cipher(ssl);
    return cipher == 0 ? 0 : CNIOBoringSSL_SSL_CIPHER_standard_name(cipher);
}
