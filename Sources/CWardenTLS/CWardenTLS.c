#include "CWardenTLS.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// BoringSSL's symbols carry swift-nio-ssl's prefix; NIOSSL links the library into every binary that uses it. Its
// headers are not a product of swift-nio-ssl, so the few functions used here are declared by hand, with opaque
// pointers for its types.
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

uint32_t CNIOBoringSSL_SSL_CTX_set_options(SSL_CTX *ctx, uint32_t options);
uint32_t CNIOBoringSSL_SSL_CTX_get_options(const SSL_CTX *ctx);
int CNIOBoringSSL_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, int mode);
int CNIOBoringSSL_SSL_CTX_get_session_cache_mode(const SSL_CTX *ctx);
int CNIOBoringSSL_SSL_CTX_set_num_tickets(SSL_CTX *ctx, size_t num_tickets);
size_t CNIOBoringSSL_SSL_CTX_get_num_tickets(const SSL_CTX *ctx);

BIO_METHOD *CNIOBoringSSL_BIO_meth_new(int type, const char *name);
int CNIOBoringSSL_BIO_meth_set_write(BIO_METHOD *method, int (*write)(BIO *, const char *, int));
int CNIOBoringSSL_BIO_meth_set_read(BIO_METHOD *method, int (*read)(BIO *, char *, int));
int CNIOBoringSSL_BIO_meth_set_ctrl(BIO_METHOD *method, long (*ctrl)(BIO *, int, long, void *));
BIO *CNIOBoringSSL_BIO_new(const BIO_METHOD *method);
int CNIOBoringSSL_BIO_free(BIO *bio);
void CNIOBoringSSL_BIO_set_data(BIO *bio, void *data);
void *CNIOBoringSSL_BIO_get_data(BIO *bio);
void CNIOBoringSSL_BIO_set_init(BIO *bio, int init);
void CNIOBoringSSL_BIO_set_retry_read(BIO *bio);
void CNIOBoringSSL_BIO_clear_retry_flags(BIO *bio);

SSL *CNIOBoringSSL_SSL_new(SSL_CTX *ctx);
void CNIOBoringSSL_SSL_free(SSL *ssl);
void CNIOBoringSSL_SSL_set_bio(SSL *ssl, BIO *rbio, BIO *wbio);
void CNIOBoringSSL_SSL_set_accept_state(SSL *ssl);
enum ssl_verify_result_t { ssl_verify_ok, ssl_verify_invalid, ssl_verify_retry };
void CNIOBoringSSL_SSL_set_custom_verify(
    SSL *ssl, int mode, enum ssl_verify_result_t (*callback)(SSL *ssl, uint8_t *out_alert));
int CNIOBoringSSL_SSL_do_handshake(SSL *ssl);
int CNIOBoringSSL_SSL_read(SSL *ssl, void *buf, int num);
int CNIOBoringSSL_SSL_write(SSL *ssl, const void *buf, int num);
int CNIOBoringSSL_SSL_shutdown(SSL *ssl);
int CNIOBoringSSL_SSL_get_error(const SSL *ssl, int ret_code);
int CNIOBoringSSL_SSL_version(const SSL *ssl);
const void *CNIOBoringSSL_SSL_get_current_cipher(const SSL *ssl);
const char *CNIOBoringSSL_SSL_CIPHER_standard_name(const void *cipher);
const void *CNIOBoringSSL_SSL_get0_peer_certificates(const SSL *ssl);
size_t CNIOBoringSSL_OPENSSL_sk_num(const void *stack);
void *CNIOBoringSSL_OPENSSL_sk_value(const void *stack, size_t index);
const uint8_t *CNIOBoringSSL_CRYPTO_BUFFER_data(const void *buffer);
size_t CNIOBoringSSL_CRYPTO_BUFFER_len(const void *buffer);
void CNIOBoringSSL_ERR_clear_error(void);
uint32_t CNIOBoringSSL_ERR_get_error(void);
char *CNIOBoringSSL_ERR_error_string_n(uint32_t packed_error, char *buf, size_t len);

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

enum {
    ssl_error_ssl = 1,
    ssl_error_want_read = 2,
    ssl_error_zero_return = 6,
    ssl_verify_peer = 1,
    bio_type_source_sink = 0x0400,
    bio_ctrl_flush = 11,
};

// More unsent ciphertext than this fails the write: the caller takes the output at every flush, so only a
// caller that never flushes gets near it.
static const size_t output_limit = 64u << 20;

struct warden_tls {
    SSL *ssl;
    const uint8_t *input;
    size_t input_left;
    uint8_t *output;
    size_t output_count;
    size_t output_capacity;
    bool close_sent;
};

static int bio_read(BIO *bio, char *into, int capacity) {
    warden_tls *tls = CNIOBoringSSL_BIO_get_data(bio);
    CNIOBoringSSL_BIO_clear_retry_flags(bio);
    if (capacity <= 0) return 0;
    if (tls->input_left == 0) {
        CNIOBoringSSL_BIO_set_retry_read(bio);
        return -1;
    }
    size_t count = tls->input_left < (size_t)capacity ? tls->input_left : (size_t)capacity;
    memcpy(into, tls->input, count);
    tls->input += count;
    tls->input_left -= count;
    return (int)count;
}

static int bio_write(BIO *bio, const char *bytes, int count) {
    warden_tls *tls = CNIOBoringSSL_BIO_get_data(bio);
    CNIOBoringSSL_BIO_clear_retry_flags(bio);
    if (count <= 0) return 0;
    size_t needed = tls->output_count + (size_t)count;
    if (needed > output_limit) return -1;
    if (needed > tls->output_capacity) {
        size_t capacity = tls->output_capacity == 0 ? 1024 : tls->output_capacity;
        while (capacity < needed) capacity *= 2;
        uint8_t *grown = realloc(tls->output, capacity);
        if (grown == NULL) return -1;
        tls->output = grown;
        tls->output_capacity = capacity;
    }
    memcpy(tls->output + tls->output_count, bytes, (size_t)count);
    tls->output_count = needed;
    return count;
}

static long bio_ctrl(BIO *bio, int command, long argument, void *pointer) {
    (void)bio;
    (void)argument;
    (void)pointer;
    // BoringSSL flushes after each flight; the output waits for the caller either way.
    return command == bio_ctrl_flush ? 1 : 0;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_method_once = PTHREAD_ONCE_INIT;

static void make_bio_method(void) {
    BIO_METHOD *method = CNIOBoringSSL_BIO_meth_new(bio_type_source_sink, "warden");
    if (method == NULL) return;
    CNIOBoringSSL_BIO_meth_set_read(method, bio_read);
    CNIOBoringSSL_BIO_meth_set_write(method, bio_write);
    CNIOBoringSSL_BIO_meth_set_ctrl(method, bio_ctrl);
    bio_method = method;
}

// Any chain passes here; the listener checks it against the tenants' CAs or thumbprints.
static enum ssl_verify_result_t accept_any_chain(SSL *ssl, uint8_t *out_alert) {
    (void)ssl;
    (void)out_alert;
    return ssl_verify_ok;
}

warden_tls *warden_tls_new(void *ssl_ctx) {
    pthread_once(&bio_method_once, make_bio_method);
    if (bio_method == NULL) return NULL;
    warden_tls *tls = calloc(1, sizeof(warden_tls));
    if (tls == NULL) return NULL;
    tls->ssl = CNIOBoringSSL_SSL_new(ssl_ctx);
    BIO *bio = CNIOBoringSSL_BIO_new(bio_method);
    if (tls->ssl == NULL || bio == NULL) {
        if (bio != NULL) CNIOBoringSSL_BIO_free(bio);
        if (tls->ssl != NULL) CNIOBoringSSL_SSL_free(tls->ssl);
        free(tls);
        return NULL;
    }
    CNIOBoringSSL_BIO_set_data(bio, tls);
    CNIOBoringSSL_BIO_set_init(bio, 1);
    // The same BIO both ways: the SSL takes the one reference and frees it.
    CNIOBoringSSL_SSL_set_bio(tls->ssl, bio, bio);
    CNIOBoringSSL_SSL_set_accept_state(tls->ssl);
    CNIOBoringSSL_SSL_set_custom_verify(tls->ssl, ssl_verify_peer, accept_any_chain);
    return tls;
}

void warden_tls_free(warden_tls *tls) {
    if (tls == NULL) return;
    CNIOBoringSSL_SSL_free(tls->ssl);
    free(tls->output);
    free(tls);
}

void warden_tls_set_input(warden_tls *tls, const uint8_t *bytes, size_t count) {
    tls->input = bytes;
    tls->input_left = bytes == NULL ? 0 : count;
}

size_t warden_tls_input_left(const warden_tls *tls) { return tls->input_left; }

int warden_tls_handshake(warden_tls *tls) {
    CNIOBoringSSL_ERR_clear_error();
    int result = CNIOBoringSSL_SSL_do_handshake(tls->ssl);
    if (result == 1) return 1;
    return CNIOBoringSSL_SSL_get_error(tls->ssl, result) == ssl_error_want_read ? 0 : -1;
}

long warden_tls_read(warden_tls *tls, uint8_t *into, size_t capacity) {
    CNIOBoringSSL_ERR_clear_error();
    int wanted = capacity > (size_t)(1 << 30) ? (1 << 30) : (int)capacity;
    int result = CNIOBoringSSL_SSL_read(tls->ssl, into, wanted);
    if (result > 0) return result;
    switch (CNIOBoringSSL_SSL_get_error(tls->ssl, result)) {
    case ssl_error_want_read: return 0;
    case ssl_error_zero_return: return -1;
    default: return -2;
    }
}

int warden_tls_write(warden_tls *tls, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        CNIOBoringSSL_ERR_clear_error();
        int chunk = count > (size_t)(1 << 30) ? (1 << 30) : (int)count;
        // The BIO never refuses a write for want of room, so BoringSSL writes all of it or fails.
        int result = CNIOBoringSSL_SSL_write(tls->ssl, bytes, chunk);
        if (result <= 0) return -2;
        bytes += result;
        count -= (size_t)result;
    }
    return 1;
}

void warden_tls_close(warden_tls *tls) {
    if (tls->close_sent) return;
    tls->close_sent = true;
    CNIOBoringSSL_ERR_clear_error();
    CNIOBoringSSL_SSL_shutdown(tls->ssl);
}

size_t warden_tls_output_count(const warden_tls *tls) { return tls->output_count; }

void warden_tls_take_output(warden_tls *tls, uint8_t *into) {
    if (tls->output_count > 0) memcpy(into, tls->output, tls->output_count);
    // Freed rather than kept: an idle connection holds no buffer.
    free(tls->output);
    tls->output = NULL;
    tls->output_count = 0;
    tls->output_capacity = 0;
}

void warden_tls_error(char *into, size_t capacity) {
    if (capacity == 0) return;
    into[0] = 0;
    uint32_t error = CNIOBoringSSL_ERR_get_error();
    if (error != 0) CNIOBoringSSL_ERR_error_string_n(error, into, capacity);
    CNIOBoringSSL_ERR_clear_error();
}

int warden_tls_version(const warden_tls *tls) { return CNIOBoringSSL_SSL_version(tls->ssl); }

const char *warden_tls_cipher_name(const warden_tls *tls) {
    const void *cipher = CNIOBoringSSL_SSL_get_current_cipher(tls->ssl);
    return cipher == NULL ? NULL : CNIOBoringSSL_SSL_CIPHER_standard_name(cipher);
}

size_t warden_tls_peer_certificate_count(const warden_tls *tls) {
    const void *chain = CNIOBoringSSL_SSL_get0_peer_certificates(tls->ssl);
    return chain == NULL ? 0 : CNIOBoringSSL_OPENSSL_sk_num(chain);
}

const uint8_t *warden_tls_peer_certificate(const warden_tls *tls, size_t index, size_t *length) {
    const void *chain = CNIOBoringSSL_SSL_get0_peer_certificates(tls->ssl);
    if (chain == NULL || index >= CNIOBoringSSL_OPENSSL_sk_num(chain)) {
        *length = 0;
        return NULL;
    }
    const void *certificate = CNIOBoringSSL_OPENSSL_sk_value(chain, index);
    *length = CNIOBoringSSL_CRYPTO_BUFFER_len(certificate);
    return CNIOBoringSSL_CRYPTO_BUFFER_data(certificate);
}
