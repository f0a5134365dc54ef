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

/// One server-side TLS connection: BoringSSL's `SSL` over a BIO that reads the bytes the caller lends it and
/// collects what BoringSSL writes until the caller takes it. Nothing is buffered here between calls but
/// ciphertext not yet taken, so an idle connection holds only BoringSSL's own state (which releases its
/// record buffers when they are empty).
typedef struct warden_tls warden_tls;

/// A connection on `ssl_ctx` (the `SSL_CTX` of a server context), asking for a client certificate without
/// requiring one and accepting any chain at this layer: the caller checks the chain it reads back with
/// `warden_tls_peer_certificate`. BoringSSL still checks the client's proof of possession of the key.
/// NULL when memory runs out. The context must set no callback that expects swift-nio-ssl's own per-connection
/// data (custom private keys, PSK, SNI context callbacks, key logging).
warden_tls *warden_tls_new(void *ssl_ctx);
void warden_tls_free(warden_tls *tls);

/// Lends `count` bytes read from the network to the calls that follow, until the next call of this function
/// (pass NULL, 0 to take them back). `warden_tls_input_left` says how many BoringSSL has not read.
void warden_tls_set_input(warden_tls *tls, const uint8_t *bytes, size_t count);
size_t warden_tls_input_left(const warden_tls *tls);

/// 1: the handshake is complete; 0: it needs more input; -1: it failed (the alert is in the output).
int warden_tls_handshake(warden_tls *tls);

/// Decrypts into `into`: the count of bytes (> 0); 0: more input needed; -1: the peer sent close_notify;
/// -2: the connection failed (an alert may be in the output).
long warden_tls_read(warden_tls *tls, uint8_t *into, size_t capacity);

/// Encrypts `count` bytes into the output as records: 1, or -2 when the connection failed.
int warden_tls_write(warden_tls *tls, const uint8_t *bytes, size_t count);

/// Puts close_notify in the output (once; later calls do nothing).
void warden_tls_close(warden_tls *tls);

/// The ciphertext waiting to be sent, and taking it: copies all of it into `into` (room for
/// `warden_tls_output_count` bytes) and frees it.
size_t warden_tls_output_count(const warden_tls *tls);
void warden_tls_take_output(warden_tls *tls, uint8_t *into);

/// Why the last call failed, from BoringSSL's error queue of this thread (empty when it says nothing).
void warden_tls_error(char *into, size_t capacity);

/// The negotiated version (0x0303 TLS 1.2, 0x0304 TLS 1.3), and the cipher suite's standard (RFC) name or NULL.
int warden_tls_version(const warden_tls *tls);
const char *warden_tls_cipher_name(const warden_tls *tls);

/// The certificates the client presented after the handshake, leaf first: their count, and one's DER bytes.
size_t warden_tls_peer_certificate_count(const warden_tls *tls);
const uint8_t *warden_tls_peer_certificate(const warden_tls *tls, size_t index, size_t *length);

#endif
