#ifndef CWARDEN_PKCS11_H
#define CWARDEN_PKCS11_H

#include <stddef.h>

/// One PKCS #11 token, opened and logged in: the module (loaded with dlopen, so that Warden needs no PKCS #11
/// library to build or run without an HSM), a read-write session, and the AES key Warden keeps in it.
typedef struct warden_pkcs11 warden_pkcs11;

/// Loads `module`, finds the token labelled `token_label`, logs in with `pin`, and finds (or, with `create`,
/// generates inside the token) the non-extractable AES-256 key labelled `key_label`. Returns NULL and writes a
/// sentence to `error` when any step fails.
warden_pkcs11 *warden_pkcs11_open(const char *module, const char *token_label, const char *pin,
                                  const char *key_label, int create, char *error, size_t error_length);

/// AES-256-GCM inside the token with the key: `output` receives the ciphertext and the 16-byte tag (encrypt),
/// or the plaintext (decrypt); `*output_length` is its capacity in, and the length out. 0 on success, else the
/// PKCS #11 return value.
unsigned long warden_pkcs11_encrypt(warden_pkcs11 *token, const unsigned char *iv, size_t iv_length,
                                    const unsigned char *aad, size_t aad_length, const unsigned char *input,
                                    size_t input_length, unsigned char *output, size_t *output_length);
unsigned long warden_pkcs11_decrypt(warden_pkcs11 *token, const unsigned char *iv, size_t iv_length,
                                    const unsigned char *aad, size_t aad_length, const unsigned char *input,
                                    size_t input_length, unsigned char *output, size_t *output_length);

/// Generates a P-256 key pair inside the token, its private half sensitive, non-extractable and for signing only,
/// both labelled `label`; writes the public point (uncompressed, 65 bytes) to `point`. 0 on success.
unsigned long warden_pkcs11_generate_p256(warden_pkcs11 *token, const char *label, unsigned char *point,
                                          size_t *point_length);

/// The public point (uncompressed) of the key pair labelled `label`; CKR_KEY_HANDLE_INVALID (0x60) when the
/// token holds none.
unsigned long warden_pkcs11_p256_point(warden_pkcs11 *token, const char *label, unsigned char *point,
                                       size_t *point_length);

/// ECDSA (CKM_ECDSA) over a digest with the private key labelled `label`, inside the token: r ‖ s.
unsigned long warden_pkcs11_sign(warden_pkcs11 *token, const char *label, const unsigned char *digest,
                                 size_t digest_length, unsigned char *signature, size_t *signature_length);

/// Logs out, closes the session and unloads the module.
void warden_pkcs11_close(warden_pkcs11 *token);

#endif
