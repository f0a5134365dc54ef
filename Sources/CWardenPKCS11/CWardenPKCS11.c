// PKCS #11 (Cryptoki 2.40) through the module's exported C_ functions, declared here from the standard:
// only the types and constants Warden uses, so that building needs no PKCS #11 header.
#include "CWardenPKCS11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long ck_ulong;
typedef struct { ck_ulong type; void *value; ck_ulong length; } ck_attribute;
typedef struct { ck_ulong mechanism; void *parameter; ck_ulong length; } ck_mechanism;
typedef struct {
    unsigned char *iv; ck_ulong iv_length; ck_ulong iv_bits; unsigned char *aad; ck_ulong aad_length;
    ck_ulong tag_bits;
} ck_gcm_params;
typedef struct {
    void *create_mutex, *destroy_mutex, *lock_mutex, *unlock_mutex; ck_ulong flags; void *reserved;
} ck_initialize_args;

enum {
    CKR_OK = 0, CKR_USER_ALREADY_LOGGED_IN = 0x100, CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191,
    CKF_OS_LOCKING_OK = 2, CKF_RW_SESSION = 2, CKF_SERIAL_SESSION = 4, CKU_USER = 1,
    CKO_SECRET_KEY = 4, CKK_AES = 0x1f,
    CKA_CLASS = 0, CKA_TOKEN = 1, CKA_PRIVATE = 2, CKA_LABEL = 3, CKA_KEY_TYPE = 0x100, CKA_SENSITIVE = 0x103,
    CKA_ENCRYPT = 0x104, CKA_DECRYPT = 0x105, CKA_VALUE_LEN = 0x161, CKA_EXTRACTABLE = 0x162,
    CKM_AES_KEY_GEN = 0x1080, CKM_AES_GCM = 0x1087,
    CKO_PUBLIC_KEY = 2, CKO_PRIVATE_KEY = 3, CKK_EC = 3, CKA_SIGN = 0x108, CKA_VERIFY = 0x10a,
    CKA_EC_PARAMS = 0x180, CKA_EC_POINT = 0x181, CKM_EC_KEY_PAIR_GEN = 0x1040, CKM_ECDSA = 0x1041,
    CKR_KEY_HANDLE_INVALID = 0x60,
};

/// The DER object identifier of P-256 (prime256v1), as CKA_EC_PARAMS wants it.
static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

typedef ck_ulong (*fn_initialize)(void *);
typedef ck_ulong (*fn_finalize)(void *);
typedef ck_ulong (*fn_get_slot_list)(unsigned char, ck_ulong *, ck_ulong *);
typedef ck_ulong (*fn_get_token_info)(ck_ulong, void *);
typedef ck_ulong (*fn_open_session)(ck_ulong, ck_ulong, void *, void *, ck_ulong *);
typedef ck_ulong (*fn_close_session)(ck_ulong);
typedef ck_ulong (*fn_login)(ck_ulong, ck_ulong, const unsigned char *, ck_ulong);
typedef ck_ulong (*fn_logout)(ck_ulong);
typedef ck_ulong (*fn_find_init)(ck_ulong, ck_attribute *, ck_ulong);
typedef ck_ulong (*fn_find)(ck_ulong, ck_ulong *, ck_ulong, ck_ulong *);
typedef ck_ulong (*fn_find_final)(ck_ulong);
typedef ck_ulong (*fn_generate_key)(ck_ulong, ck_mechanism *, ck_attribute *, ck_ulong, ck_ulong *);
typedef ck_ulong (*fn_crypt_init)(ck_ulong, ck_mechanism *, ck_ulong);
typedef ck_ulong (*fn_crypt)(ck_ulong, const unsigned char *, ck_ulong, unsigned char *, ck_ulong *);
typedef ck_ulong (*fn_generate_key_pair)(ck_ulong, ck_mechanism *, ck_attribute *, ck_ulong, ck_attribute *,
                                         ck_ulong, ck_ulong *, ck_ulong *);
typedef ck_ulong (*fn_get_attribute_value)(ck_ulong, ck_ulong, ck_attribute *, ck_ulong);

struct warden_pkcs11 {
    void *library;
    ck_ulong session;
    ck_ulong key;
    fn_finalize finalize;
    fn_close_session close_session;
    fn_logout logout;
    fn_crypt_init encrypt_init, decrypt_init;
    fn_crypt encrypt, decrypt;
    fn_find_init find_init;
    fn_find find;
    fn_find_final find_final;
    fn_generate_key_pair generate_key_pair;
    fn_get_attribute_value get_attribute_value;
    fn_crypt_init sign_init;
    fn_crypt sign;
};

#define LOAD(name, type, symbol)                                                                   \
    type name = (type)dlsym(library, symbol);                                                      \
    if (!name) { snprintf(error, error_length, "The module has no %s.", symbol); goto fail; }

/// Whether a blank-padded 32-byte token label is `label`.
static int label_is(const unsigned char *padded, const char *label) {
    size_t length = strlen(label);
    if (length > 32 || memcmp(padded, label, length) != 0) return 0;
    for (size_t index = length; index < 32; index++) {
        if (padded[index] != ' ') return 0;
    }
    return 1;
}

warden_pkcs11 *warden_pkcs11_open(const char *module, const char *token_label, const char *pin,
                                  const char *key_label, int create, char *error, size_t error_length) {
    void *library = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, error_length, "Cannot load the PKCS #11 module %s: %s", module, dlerror());
        return NULL;
    }
    warden_pkcs11 *token = calloc(1, sizeof *token);
    ck_ulong slots[64], count = 64, rv;
    ck_ulong session = 0;
    int opened = 0;
    if (!token) { snprintf(error, error_length, "Out of memory."); goto fail; }
    LOAD(initialize, fn_initialize, "C_Initialize")
    LOAD(finalize, fn_finalize, "C_Finalize")
    LOAD(get_slot_list, fn_get_slot_list, "C_GetSlotList")
    LOAD(get_token_info, fn_get_token_info, "C_GetTokenInfo")
    LOAD(open_session, fn_open_session, "C_OpenSession")
    LOAD(close_session, fn_close_session, "C_CloseSession")
    LOAD(login, fn_login, "C_Login")
    LOAD(logout, fn_logout, "C_Logout")
    LOAD(find_init, fn_find_init, "C_FindObjectsInit")
    LOAD(find, fn_find, "C_FindObjects")
    LOAD(find_final, fn_find_final, "C_FindObjectsFinal")
    LOAD(generate_key, fn_generate_key, "C_GenerateKey")
    LOAD(encrypt_init, fn_crypt_init, "C_EncryptInit")
    LOAD(encrypt, fn_crypt, "C_Encrypt")
    LOAD(decrypt_init, fn_crypt_init, "C_DecryptInit")
    LOAD(decrypt, fn_crypt, "C_Decrypt")
    LOAD(generate_key_pair, fn_generate_key_pair, "C_GenerateKeyPair")
    LOAD(get_attribute_value, fn_get_attribute_value, "C_GetAttributeValue")
    LOAD(sign_init, fn_crypt_init, "C_SignInit")
    LOAD(sign, fn_crypt, "C_Sign")
    *token = (warden_pkcs11){library, 0, 0, finalize, close_session, logout, encrypt_init, decrypt_init,
                             encrypt, decrypt, find_init, find, find_final, generate_key_pair,
                             get_attribute_value, sign_init, sign};

    ck_initialize_args arguments = {0};
    arguments.flags = CKF_OS_LOCKING_OK;
    rv = initialize(&arguments);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        snprintf(error, error_length, "C_Initialize failed (0x%lx).", rv);
        goto fail;
    }
    rv = get_slot_list(1, slots, &count);
    if (rv != CKR_OK) { snprintf(error, error_length, "C_GetSlotList failed (0x%lx).", rv); goto fail; }
    ck_ulong slot = 0;
    int found = 0;
    for (ck_ulong index = 0; index < count && !found; index++) {
        unsigned char info[512] = {0};  // CK_TOKEN_INFO is 208 bytes; its label comes first.
        if (get_token_info(slots[index], info) == CKR_OK && label_is(info, token_label)) {
            slot = slots[index];
            found = 1;
        }
    }
    if (!found) { snprintf(error, error_length, "No token is labelled '%s'.", token_label); goto fail; }
    rv = open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
    if (rv != CKR_OK) { snprintf(error, error_length, "C_OpenSession failed (0x%lx).", rv); goto fail; }
    opened = 1;
    token->session = session;
    rv = login(session, CKU_USER, (const unsigned char *)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        snprintf(error, error_length, "C_Login failed (0x%lx%s).", rv, rv == 0xa0 ? ": wrong PIN" : "");
        goto fail;
    }

    ck_ulong class = CKO_SECRET_KEY, type = CKK_AES, value_length = 32;
    unsigned char yes = 1, no = 0;
    ck_attribute search[] = {
        {CKA_CLASS, &class, sizeof class}, {CKA_LABEL, (void *)key_label, strlen(key_label)},
    };
    ck_ulong key = 0, matches = 0;
    if (find_init(session, search, 2) != CKR_OK || find(session, &key, 1, &matches) != CKR_OK) {
        snprintf(error, error_length, "Cannot search the token for its key.");
        goto fail;
    }
    find_final(session);
    if (matches == 0) {
        if (!create) {
            snprintf(error, error_length, "The token holds no key labelled '%s'.", key_label);
            goto fail;
        }
        ck_attribute template[] = {
            {CKA_CLASS, &class, sizeof class}, {CKA_KEY_TYPE, &type, sizeof type},
            {CKA_VALUE_LEN, &value_length, sizeof value_length}, {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1},
            {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1}, {CKA_ENCRYPT, &yes, 1}, {CKA_DECRYPT, &yes, 1},
            {CKA_LABEL, (void *)key_label, strlen(key_label)},
        };
        ck_mechanism mechanism = {CKM_AES_KEY_GEN, NULL, 0};
        rv = generate_key(session, &mechanism, template, sizeof template / sizeof *template, &key);
        if (rv != CKR_OK) {
            snprintf(error, error_length, "C_GenerateKey failed (0x%lx).", rv);
            goto fail;
        }
    }
    token->key = key;
    return token;

fail:
    if (opened) {
        fn_close_session close = (fn_close_session)dlsym(library, "C_CloseSession");
        if (close) close(session);
    }
    fn_finalize done = (fn_finalize)dlsym(library, "C_Finalize");
    if (done) done(NULL);
    free(token);
    dlclose(library);
    return NULL;
}

static unsigned long gcm(warden_pkcs11 *token, int encrypting, const unsigned char *iv, size_t iv_length,
                           const unsigned char *aad, size_t aad_length, const unsigned char *input,
                           size_t input_length, unsigned char *output, size_t *output_length) {
    ck_gcm_params parameters = {(unsigned char *)iv, iv_length, iv_length * 8, (unsigned char *)aad, aad_length, 128};
    ck_mechanism mechanism = {CKM_AES_GCM, &parameters, sizeof parameters};
    ck_ulong rv = (encrypting ? token->encrypt_init : token->decrypt_init)(token->session, &mechanism, token->key);
    if (rv != CKR_OK) return rv;
    ck_ulong length = *output_length;
    rv = (encrypting ? token->encrypt : token->decrypt)(token->session, input, input_length, output, &length);
    // A token that says it wrote more than the buffer holds (or CK_UNAVAILABLE_INFORMATION) is not believed.
    if (rv == CKR_OK && length > *output_length) return 0x150;  // CKR_BUFFER_TOO_SMALL
    *output_length = length;
    return rv;
}

unsigned long warden_pkcs11_encrypt(warden_pkcs11 *token, const unsigned char *iv, size_t iv_length,
                                    const unsigned char *aad, size_t aad_length, const unsigned char *input,
                                    size_t input_length, unsigned char *output, size_t *output_length) {
    return gcm(token, 1, iv, iv_length, aad, aad_length, input, input_length, output, output_length);
}

unsigned long warden_pkcs11_decrypt(warden_pkcs11 *token, const unsigned char *iv, size_t iv_length,
                                    const unsigned char *aad, size_t aad_length, const unsigned char *input,
                                    size_t input_length, unsigned char *output, size_t *output_length) {
    return gcm(token, 0, iv, iv_length, aad, aad_length, input, input_length, output, output_length);
}

/// The object of `class` labelled `label`, or 0.
static ck_ulong find_object(warden_pkcs11 *token, ck_ulong class, const char *label) {
    ck_attribute search[] = {{CKA_CLASS, &class, sizeof class}, {CKA_LABEL, (void *)label, strlen(label)}};
    ck_ulong object = 0, matches = 0;
    if (token->find_init(token->session, search, 2) != CKR_OK) return 0;
    if (token->find(token->session, &object, 1, &matches) != CKR_OK) matches = 0;
    token->find_final(token->session);
    return matches ? object : 0;
}

/// CKA_EC_POINT is a DER OCTET STRING around the uncompressed point; this writes the point.
static unsigned long read_point(warden_pkcs11 *token, ck_ulong key, unsigned char *point, size_t *point_length) {
    unsigned char encoded[128];
    ck_attribute attribute = {CKA_EC_POINT, encoded, sizeof encoded};
    ck_ulong rv = token->get_attribute_value(token->session, key, &attribute, 1);
    if (rv != CKR_OK) return rv;
    // A length past the buffer (or CK_UNAVAILABLE_INFORMATION) would read beyond it.
    if (attribute.length > sizeof encoded) return 0x150;  // CKR_BUFFER_TOO_SMALL
    const unsigned char *start = encoded;
    size_t length = attribute.length;
    if (length > 2 && encoded[0] == 0x04 && encoded[1] == length - 2) {
        start += 2;
        length -= 2;
    }
    if (length > *point_length) return 0x150;  // CKR_BUFFER_TOO_SMALL
    memcpy(point, start, length);
    *point_length = length;
    return CKR_OK;
}

unsigned long warden_pkcs11_generate_p256(warden_pkcs11 *token, const char *label, unsigned char *point,
                                          size_t *point_length) {
    ck_ulong public_class = CKO_PUBLIC_KEY, private_class = CKO_PRIVATE_KEY, type = CKK_EC;
    unsigned char yes = 1, no = 0;
    ck_attribute public_template[] = {
        {CKA_CLASS, &public_class, sizeof public_class}, {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &yes, 1}, {CKA_VERIFY, &yes, 1}, {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    ck_attribute private_template[] = {
        {CKA_CLASS, &private_class, sizeof private_class}, {CKA_KEY_TYPE, &type, sizeof type},
        {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1}, {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1},
        {CKA_SIGN, &yes, 1}, {CKA_LABEL, (void *)label, strlen(label)},
    };
    ck_mechanism mechanism = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    ck_ulong public_key = 0, private_key = 0;
    ck_ulong rv = token->generate_key_pair(
        token->session, &mechanism, public_template, sizeof public_template / sizeof *public_template,
        private_template, sizeof private_template / sizeof *private_template, &public_key, &private_key);
    if (rv != CKR_OK) return rv;
    return read_point(token, public_key, point, point_length);
}

unsigned long warden_pkcs11_p256_point(warden_pkcs11 *token, const char *label, unsigned char *point,
                                       size_t *point_length) {
    ck_ulong key = find_object(token, CKO_PUBLIC_KEY, label);
    if (!key) return CKR_KEY_HANDLE_INVALID;
    return read_point(token, key, point, point_length);
}

unsigned long warden_pkcs11_sign(warden_pkcs11 *token, const char *label, const unsigned char *digest,
                                 size_t digest_length, unsigned char *signature, size_t *signature_length) {
    ck_ulong key = find_object(token, CKO_PRIVATE_KEY, label);
    if (!key) return CKR_KEY_HANDLE_INVALID;
    ck_mechanism mechanism = {CKM_ECDSA, NULL, 0};
    ck_ulong rv = token->sign_init(token->session, &mechanism, key);
    if (rv != CKR_OK) return rv;
    ck_ulong length = *signature_length;
    rv = token->sign(token->session, digest, digest_length, signature, &length);
    if (rv == CKR_OK && length > *signature_length) return 0x150;  // CKR_BUFFER_TOO_SMALL
    *signature_length = length;
    return rv;
}

void warden_pkcs11_close(warden_pkcs11 *token) {
    if (!token) return;
    token->logout(token->session);
    token->close_session(token->session);
    token->finalize(NULL);
    dlclose(token->library);
    free(token);
}
