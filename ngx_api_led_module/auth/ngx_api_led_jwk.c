
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JOSE keys and signatures: the algorithm table, strict base64url, JWKS
 * (RFC 7517) and PEM parsing into key sets, the algorithm/key match that
 * prevents algorithm confusion, and signature verification with OpenSSL's
 * EVP API.
 */


/* the low-level SHA-256 for the token cache's key: see below */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ngx_api_led_jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>


#define NGX_API_LED_JWK_OK        NGX_OK
#define NGX_API_LED_JWK_SKIP      NGX_DECLINED
#define NGX_API_LED_JWK_INVALID   NGX_ERROR

#define NGX_API_LED_JWKS_MAX_KID  256


static void ngx_api_led_jwks_cleanup(void *data);
static ngx_int_t ngx_api_led_jwks_parse_json(ngx_api_led_jwks_t *jwks,
    u_char *data, size_t len, ngx_uint_t strict, ngx_log_t *log, u_char *err);
static ngx_int_t ngx_api_led_jwks_parse_pem(ngx_api_led_jwks_t *jwks,
    u_char *data, size_t len, u_char *err);
static ngx_int_t ngx_api_led_jwk_parse(ngx_api_led_jwks_t *jwks,
    json_t *obj, ngx_api_led_jwk_t *key, u_char *err);
static ngx_int_t ngx_api_led_jwk_member(json_t *obj, const char *name,
    ngx_pool_t *pool, ngx_str_t *value, ngx_uint_t required, u_char *err);
static ngx_int_t ngx_api_led_jwk_rsa(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err);
static ngx_int_t ngx_api_led_jwk_rsa_weak(EVP_PKEY *pkey, u_char *reason,
    size_t size);
static ngx_int_t ngx_api_led_jwk_ec(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err);
static ngx_int_t ngx_api_led_jwk_okp(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err);
static ngx_int_t ngx_api_led_jwk_from_pkey(ngx_api_led_jwk_t *key,
    EVP_PKEY *pkey, u_char *err);
static ngx_int_t ngx_api_led_jwks_add(ngx_api_led_jwks_t *jwks,
    ngx_api_led_jwk_t *key, ngx_uint_t strict, ngx_log_t *log, u_char *err);
static ngx_int_t ngx_api_led_jwk_verify_digest(EVP_PKEY *pkey,
    const EVP_MD *md, ngx_uint_t pss, u_char *input, size_t input_len,
    u_char *sig, size_t sig_len);


ngx_api_led_jwt_alg_t  ngx_api_led_jwt_algs[] = {
    { ngx_string("HS256"), NGX_API_LED_JWK_OCT, "SHA256", 32, 0 },
    { ngx_string("HS384"), NGX_API_LED_JWK_OCT, "SHA384", 48, 0 },
    { ngx_string("HS512"), NGX_API_LED_JWK_OCT, "SHA512", 64, 0 },
    { ngx_string("RS256"), NGX_API_LED_JWK_RSA, "SHA256", 32, 0 },
    { ngx_string("RS384"), NGX_API_LED_JWK_RSA, "SHA384", 48, 0 },
    { ngx_string("RS512"), NGX_API_LED_JWK_RSA, "SHA512", 64, 0 },
    { ngx_string("PS256"), NGX_API_LED_JWK_RSA, "SHA256", 32, 0 },
    { ngx_string("PS384"), NGX_API_LED_JWK_RSA, "SHA384", 48, 0 },
    { ngx_string("PS512"), NGX_API_LED_JWK_RSA, "SHA512", 64, 0 },
    { ngx_string("ES256"), NGX_API_LED_JWK_EC, "SHA256", 32,
      NID_X9_62_prime256v1 },
    { ngx_string("ES384"), NGX_API_LED_JWK_EC, "SHA384", 48, NID_secp384r1 },
    { ngx_string("ES512"), NGX_API_LED_JWK_EC, "SHA512", 66, NID_secp521r1 },
    { ngx_string("EdDSA"), NGX_API_LED_JWK_OKP, NULL, 0, 0 },
    { ngx_string("Ed25519"), NGX_API_LED_JWK_OKP, NULL, 0, NID_ED25519 },
    { ngx_string("Ed448"), NGX_API_LED_JWK_OKP, NULL, 0, NID_ED448 },
    { ngx_null_string, 0, NULL, 0, 0 }
};


typedef struct {
    const char                  *crv;
    const char                  *group;
    int                          nid;
    size_t                       size;
} ngx_api_led_jwk_curve_t;


static ngx_api_led_jwk_curve_t  ngx_api_led_jwk_curves[] = {
    { "P-256", "prime256v1", NID_X9_62_prime256v1, 32 },
    { "P-384", "secp384r1", NID_secp384r1, 48 },
    { "P-521", "secp521r1", NID_secp521r1, 66 },
    { NULL, NULL, 0, 0 }
};


/* unique for the life of the process, see ngx_api_led_jwks_t */
static ngx_uint_t  ngx_api_led_jwks_generation;


static const u_char  ngx_api_led_b64url[256] = {
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 62, 77, 77,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 77, 77, 77, 77, 77, 77,
    77,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 77, 77, 77, 77, 63,
    77, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 77, 77, 77, 77, 77,

    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77
};


static const EVP_MD *
ngx_api_led_jwt_md(ngx_api_led_jwt_alg_t *a)
{
    switch (a->size) {
    case 32:
        return EVP_sha256();
    case 48:
        return EVP_sha384();
    default: /* 64, and 66 for ES512 */
        return EVP_sha512();
    }
}


ngx_int_t
ngx_api_led_jwt_alg_find(u_char *name, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; ngx_api_led_jwt_algs[i].name.len; i++) {
        if (ngx_api_led_jwt_algs[i].name.len == len
            && ngx_strncmp(ngx_api_led_jwt_algs[i].name.data, name, len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/*
 * Strict base64url (RFC 7515 2): the URL-safe alphabet only, no padding,
 * no whitespace, and the unused bits of the last character zero, so that
 * every value has exactly one encoding.  dst->data must hold
 * ngx_base64_decoded_length(len) bytes.
 */

ngx_int_t
ngx_api_led_jwt_b64url_decode(ngx_str_t *dst, u_char *src, size_t len)
{
    u_char  *d, c0, c1, c2, c3;
    size_t   i;

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (ngx_api_led_b64url[src[i]] == 77) {
            return NGX_ERROR;
        }
    }

    d = dst->data;

    for (i = 0; i + 4 <= len; i += 4) {
        c0 = ngx_api_led_b64url[src[i]];
        c1 = ngx_api_led_b64url[src[i + 1]];
        c2 = ngx_api_led_b64url[src[i + 2]];
        c3 = ngx_api_led_b64url[src[i + 3]];

        *d++ = (u_char) (c0 << 2 | c1 >> 4);
        *d++ = (u_char) (c1 << 4 | c2 >> 2);
        *d++ = (u_char) (c2 << 6 | c3);
    }

    switch (len - i) {

    case 2:
        c0 = ngx_api_led_b64url[src[i]];
        c1 = ngx_api_led_b64url[src[i + 1]];

        if (c1 & 0x0f) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (c0 << 2 | c1 >> 4);
        break;

    case 3:
        c0 = ngx_api_led_b64url[src[i]];
        c1 = ngx_api_led_b64url[src[i + 1]];
        c2 = ngx_api_led_b64url[src[i + 2]];

        if (c2 & 0x03) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (c0 << 2 | c1 >> 4);
        *d++ = (u_char) (c1 << 4 | c2 >> 2);
        break;
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


ngx_int_t
ngx_api_led_jwt_sha256(u_char *data, size_t len, u_char *digest)
{
    SHA256_CTX  sha;

    /*
     * Every request with a token hashes it (the cache's key): the
     * low-level functions hash on the stack, as the API-key look-up does;
     * EVP_Digest() of OpenSSL 3 fetches the algorithm from its provider
     * (locks, a name look-up) and allocates a context on every call.
     */

    if (SHA256_Init(&sha) != 1
        || SHA256_Update(&sha, data, len) != 1
        || SHA256_Final(digest, &sha) != 1)
    {
        ngx_explicit_memzero(&sha, sizeof(SHA256_CTX));
        return NGX_ERROR;
    }

    /*
     * the token is a credential: nothing of it stays on the stack (a
     * memset that is not optimised away; OPENSSL_cleanse() goes a byte
     * at a time)
     */
    ngx_explicit_memzero(&sha, sizeof(SHA256_CTX));

    return NGX_OK;
}


ngx_api_led_jwks_t *
ngx_api_led_jwks_create(ngx_pool_t *pool)
{
    ngx_pool_cleanup_t  *cln;
    ngx_api_led_jwks_t  *jwks;

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_api_led_jwks_t));
    if (cln == NULL) {
        return NULL;
    }

    jwks = cln->data;
    ngx_memzero(jwks, sizeof(ngx_api_led_jwks_t));

    if (ngx_array_init(&jwks->keys, pool, 4, sizeof(ngx_api_led_jwk_t))
        != NGX_OK)
    {
        return NULL;
    }

    jwks->generation = ++ngx_api_led_jwks_generation;
    jwks->pool = pool;

    cln->handler = ngx_api_led_jwks_cleanup;

    return jwks;
}


static void
ngx_api_led_jwks_cleanup(void *data)
{
    ngx_api_led_jwks_t  *jwks = data;

    ngx_uint_t          i;
    ngx_api_led_jwk_t  *key;

    key = jwks->keys.elts;

    for (i = 0; i < jwks->keys.nelts; i++) {
        if (key[i].pkey) {
            EVP_PKEY_free(key[i].pkey);
            key[i].pkey = NULL;
        }

        if (key[i].secret) {
            ngx_explicit_memzero(key[i].secret, key[i].secret_len);
        }
    }

    jwks->keys.nelts = 0;
}


/*
 * Adds the keys of one document (a JWKS, a single JWK or PEM blocks) to
 * the set.  strict (configuration files): any invalid or unusable key is
 * an error.  Otherwise (a fetched JWKS) invalid keys are skipped with a
 * warning, like keys meant for encryption.  err receives a message.
 */

ngx_int_t
ngx_api_led_jwks_parse(ngx_api_led_jwks_t *jwks, u_char *data, size_t len,
    ngx_uint_t strict, ngx_log_t *log, u_char *err)
{
    ngx_int_t   rc;
    ngx_uint_t  before;
    u_char     *p, *last;

    /* a message even if a path below fails without one */
    ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "could not be parsed");

    p = data;
    last = data + len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    before = jwks->keys.nelts;

    if (p < last && *p == '{') {
        rc = ngx_api_led_jwks_parse_json(jwks, data, len, strict, log, err);

    } else if (ngx_strlcasestrn(p, last, (u_char *) "-----BEGIN ", 11 - 1)
               != NULL)
    {
        rc = ngx_api_led_jwks_parse_pem(jwks, data, len, err);

    } else {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "neither a JWKS (JSON) nor PEM public keys");
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (jwks->keys.nelts == before) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "holds no key usable for signatures");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwks_parse_json(ngx_api_led_jwks_t *jwks, u_char *data,
    size_t len, ngx_uint_t strict, ngx_log_t *log, u_char *err)
{
    u_char             text[NGX_API_LED_JSON_ERRLEN];
    size_t             i, n;
    json_t            *root, *keys, *obj;
    ngx_int_t          rc;
    ngx_api_led_jwk_t  key;

    rc = ngx_api_led_json_parse(data, len, NGX_API_LED_JSON_UNIQUE, &root,
                                text, sizeof(text));

    if (rc == NGX_ERROR) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "out of memory");
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "invalid JSON: %V",
                         ngx_api_led_log_cstr(jwks->pool, (char *) text));
        return NGX_ERROR;
    }

    if (!json_is_object(root)) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "is not a JSON object");
        json_decref(root);
        return NGX_ERROR;
    }

    keys = json_object_get(root, "keys");

    if (keys == NULL && json_object_get(root, "kty")) {
        n = 1;

    } else if (json_is_array(keys)) {
        n = json_array_size(keys);

    } else {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "has no \"keys\" array (RFC 7517 JWKS)");
        json_decref(root);
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        obj = keys ? json_array_get(keys, i) : root;

        ngx_memzero(&key, sizeof(ngx_api_led_jwk_t));
        key.alg = -1;
        key.index = i + 1;

        rc = ngx_api_led_jwk_parse(jwks, obj, &key, err);

        if (rc == NGX_OK) {
            rc = ngx_api_led_jwks_add(jwks, &key, strict, log, err);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (key.pkey) {
            EVP_PKEY_free(key.pkey);
        }

        if (key.secret) {
            ngx_explicit_memzero(key.secret, key.secret_len);
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "api_led: JWK %uz skipped: %s", i + 1, err);
            continue;
        }

        if (rc == NGX_ERROR && !strict) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "api_led: JWK %uz ignored: %s", i + 1, err);
            continue;
        }

        json_decref(root);
        return NGX_ERROR;
    }

    json_decref(root);

    return NGX_OK;
}


/*
 * One JWK.  NGX_OK: usable for signature verification; NGX_DECLINED: a
 * key for something else (encryption, key agreement), skipped; NGX_ERROR:
 * invalid.  Private key material is refused: the gateway verifies only.
 */

static ngx_int_t
ngx_api_led_jwk_parse(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err)
{
    size_t                  i;
    json_t                 *v, *op;
    ngx_int_t               alg;
    ngx_str_t               k;
    const char             *kty, *s;
    ngx_api_led_jwt_alg_t  *a;

    if (!json_is_object(obj)) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "is not an object");
        return NGX_ERROR;
    }

    v = json_object_get(obj, "kty");
    if (!ngx_api_led_json_is_text(v)) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "has no \"kty\"");
        return NGX_ERROR;
    }

    kty = json_string_value(v);

    v = json_object_get(obj, "use");
    if (v) {
        if (!ngx_api_led_json_is_text(v)) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"use\" is not a string");
            return NGX_ERROR;
        }

        if (ngx_strcmp(json_string_value(v), "sig") != 0) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"use\" is \"%V\", not \"sig\"",
                             ngx_api_led_log_cstr(jwks->pool,
                                                  json_string_value(v)));
            return NGX_DECLINED;
        }
    }

    v = json_object_get(obj, "key_ops");
    if (v) {
        if (!json_is_array(v)) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"key_ops\" is not an array");
            return NGX_ERROR;
        }

        json_array_foreach(v, i, op) {
            if (ngx_api_led_json_is_text(op)
                && ngx_strcmp(json_string_value(op), "verify") == 0)
            {
                break;
            }
        }

        if (i == json_array_size(v)) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"key_ops\" has no \"verify\"");
            return NGX_DECLINED;
        }
    }

    v = json_object_get(obj, "alg");
    if (v) {
        if (!ngx_api_led_json_is_text(v)) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"alg\" is not a string");
            return NGX_ERROR;
        }

        s = json_string_value(v);

        alg = ngx_api_led_jwt_alg_find((u_char *) s, ngx_strlen(s));
        if (alg == NGX_ERROR) {
            /* "RSA-OAEP", "ECDH-ES": a key for encryption */
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"alg\" \"%V\" is not a JWS algorithm",
                             ngx_api_led_log_cstr(jwks->pool, s));
            return NGX_DECLINED;
        }

        key->alg = alg;
    }

    v = json_object_get(obj, "kid");
    if (v) {
        if (!ngx_api_led_json_is_text(v)
            || json_string_length(v) == 0
            || json_string_length(v) > NGX_API_LED_JWKS_MAX_KID)
        {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"kid\" is not a string of 1 to %d characters",
                             NGX_API_LED_JWKS_MAX_KID);
            return NGX_ERROR;
        }

        key->kid.len = json_string_length(v);
        key->kid.data = ngx_pnalloc(jwks->pool, key->kid.len);
        if (key->kid.data == NULL) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "out of memory");
            return NGX_ERROR;
        }

        ngx_memcpy(key->kid.data, json_string_value(v), key->kid.len);
    }

    if (ngx_strcmp(kty, "oct") == 0) {
        key->kty = NGX_API_LED_JWK_OCT;

        if (ngx_api_led_jwk_member(obj, "k", jwks->pool, &k, 1, err)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        key->secret = k.data;
        key->secret_len = k.len;
        key->bits = k.len * 8;

        /* RFC 7518 3.2: a key at least as long as the hash output */
        if (k.len < 32) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"oct\" key is shorter than 32 bytes");
            return NGX_ERROR;
        }

    } else if (ngx_strcmp(kty, "RSA") == 0) {
        key->kty = NGX_API_LED_JWK_RSA;

        if (ngx_api_led_jwk_rsa(jwks, obj, key, err) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ngx_strcmp(kty, "EC") == 0) {
        key->kty = NGX_API_LED_JWK_EC;

        if (ngx_api_led_jwk_ec(jwks, obj, key, err) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ngx_strcmp(kty, "OKP") == 0) {
        key->kty = NGX_API_LED_JWK_OKP;

        return ngx_api_led_jwk_okp(jwks, obj, key, err);

    } else {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "unsupported \"kty\" \"%V\"",
                         ngx_api_led_log_cstr(jwks->pool, kty));
        return NGX_ERROR;
    }

    if (key->alg != -1) {
        a = &ngx_api_led_jwt_algs[key->alg];

        if (a->kty != key->kty
            || (a->nid && a->nid != key->nid)
            || (key->kty == NGX_API_LED_JWK_OCT && key->secret_len < a->size))
        {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"alg\" \"%V\" does not fit the key", &a->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a base64url member of a JWK, decoded */

static ngx_int_t
ngx_api_led_jwk_member(json_t *obj, const char *name, ngx_pool_t *pool,
    ngx_str_t *value, ngx_uint_t required, u_char *err)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (v == NULL && !required) {
        ngx_str_null(value);
        return NGX_OK;
    }

    if (!ngx_api_led_json_is_text(v) || json_string_length(v) == 0) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "\"%s\" is missing or not a string", name);
        return NGX_ERROR;
    }

    value->data = ngx_pnalloc(pool,
                              ngx_base64_decoded_length(json_string_length(v)));
    if (value->data == NULL) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "out of memory");
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(value, (u_char *) json_string_value(v),
                                      json_string_length(v))
        != NGX_OK)
    {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "\"%s\" is not base64url", name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwk_private(json_t *obj, u_char *err)
{
    static const char  *members[] = { "d", "p", "q", "dp", "dq", "qi",
                                      "oth", NULL };
    ngx_uint_t          i;

    for (i = 0; members[i]; i++) {
        if (json_object_get(obj, members[i])) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "holds private key material (\"%s\"): give the "
                             "public key only", members[i]);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwk_rsa(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err)
{
    BIGNUM          *n, *e;
    ngx_int_t        rc;
    ngx_str_t        nv, ev;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *pctx;
    OSSL_PARAM_BLD  *bld;

    if (ngx_api_led_jwk_private(obj, err) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwk_member(obj, "n", jwks->pool, &nv, 1, err) != NGX_OK
        || ngx_api_led_jwk_member(obj, "e", jwks->pool, &ev, 1, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    n = NULL;
    e = NULL;
    bld = NULL;
    params = NULL;
    pctx = NULL;

    n = BN_bin2bn(nv.data, nv.len, NULL);
    e = BN_bin2bn(ev.data, ev.len, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n == NULL || e == NULL || bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        goto failed;
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

    if (params == NULL || pctx == NULL
        || EVP_PKEY_fromdata_init(pctx) <= 0
        || EVP_PKEY_fromdata(pctx, &key->pkey, EVP_PKEY_PUBLIC_KEY, params)
           <= 0)
    {
        goto failed;
    }

    key->bits = EVP_PKEY_get_bits(key->pkey);

    if (key->bits < NGX_API_LED_JWK_RSA_MIN_BITS) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "RSA key of %ui bits, at least %d are required",
                         key->bits, NGX_API_LED_JWK_RSA_MIN_BITS);
        goto done;
    }

    if (ngx_api_led_jwk_rsa_weak(key->pkey, err, NGX_API_LED_JWT_ERRLEN)
        != NGX_OK)
    {
        goto done;
    }

    rc = NGX_OK;
    goto done;

failed:

    ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "invalid RSA key");

done:

    ERR_clear_error();
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    return rc;
}


/*
 * An RSA public key that makes signatures forgeable is refused: with e = 1
 * any padded digest is its own signature, e = 2 is Rabin's scheme, not
 * RSA, and an even e or n is no RSA key at all.  NGX_ERROR: "reason"
 * says why.
 */

static ngx_int_t
ngx_api_led_jwk_rsa_weak(EVP_PKEY *pkey, u_char *reason, size_t size)
{
    BIGNUM     *n, *e;
    ngx_int_t   rc;

    n = NULL;
    e = NULL;
    rc = NGX_ERROR;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1
        || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
    {
        ngx_api_led_errf(reason, size, "invalid RSA key");

    } else if (BN_num_bits(e) <= 2 && BN_get_word(e) < 3) {
        ngx_api_led_errf(reason, size, "RSA key with public exponent %ui, "
                         "at least 3 is required", (ngx_uint_t) BN_get_word(e));

    } else if (!BN_is_odd(e)) {
        ngx_api_led_errf(reason, size, "RSA key with an even public "
                         "exponent");

    } else if (!BN_is_odd(n)) {
        ngx_api_led_errf(reason, size, "RSA key with an even modulus");

    } else {
        rc = NGX_OK;
    }

    ERR_clear_error();
    BN_free(n);
    BN_free(e);

    return rc;
}


static ngx_int_t
ngx_api_led_jwk_ec(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err)
{
    u_char                   pub[1 + 2 * 66];
    json_t                  *v;
    ngx_int_t                rc;
    ngx_str_t                x, y;
    OSSL_PARAM               params[3];
    EVP_PKEY_CTX            *pctx;
    ngx_api_led_jwk_curve_t  *c;

    if (ngx_api_led_jwk_private(obj, err) != NGX_OK) {
        return NGX_ERROR;
    }

    v = json_object_get(obj, "crv");
    if (!ngx_api_led_json_is_text(v)) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "has no \"crv\"");
        return NGX_ERROR;
    }

    for (c = ngx_api_led_jwk_curves; c->crv; c++) {
        if (ngx_strcmp(json_string_value(v), c->crv) == 0) {
            break;
        }
    }

    if (c->crv == NULL) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "unsupported EC curve \"%V\"",
                         ngx_api_led_log_cstr(jwks->pool,
                                              json_string_value(v)));
        return NGX_ERROR;
    }

    if (ngx_api_led_jwk_member(obj, "x", jwks->pool, &x, 1, err) != NGX_OK
        || ngx_api_led_jwk_member(obj, "y", jwks->pool, &y, 1, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* RFC 7518 6.2.1.2: coordinates are exactly the curve's size */
    if (x.len != c->size || y.len != c->size) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "\"x\" and \"y\" of a %s key must be %uz bytes",
                         c->crv, c->size);
        return NGX_ERROR;
    }

    pub[0] = 0x04;
    ngx_memcpy(pub + 1, x.data, c->size);
    ngx_memcpy(pub + 1 + c->size, y.data, c->size);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) c->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, 1 + 2 * c->size);
    params[2] = OSSL_PARAM_construct_end();

    rc = NGX_ERROR;

    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (pctx == NULL
        || EVP_PKEY_fromdata_init(pctx) <= 0
        || EVP_PKEY_fromdata(pctx, &key->pkey, EVP_PKEY_PUBLIC_KEY, params)
           <= 0)
    {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "invalid EC key (not a point of %s)", c->crv);
        goto done;
    }

    EVP_PKEY_CTX_free(pctx);

    /* the point must be on the curve */

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

    if (pctx == NULL || EVP_PKEY_public_check(pctx) != 1) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "invalid EC key (not a point of %s)", c->crv);
        goto done;
    }

    key->nid = c->nid;
    key->bits = EVP_PKEY_get_bits(key->pkey);

    rc = NGX_OK;

done:

    ERR_clear_error();
    EVP_PKEY_CTX_free(pctx);

    return rc;
}


static ngx_int_t
ngx_api_led_jwk_okp(ngx_api_led_jwks_t *jwks, json_t *obj,
    ngx_api_led_jwk_t *key, u_char *err)
{
    int                     type;
    size_t                  size;
    json_t                 *v;
    ngx_str_t               x;
    const char             *crv;
    ngx_api_led_jwt_alg_t  *a;

    v = json_object_get(obj, "crv");
    if (!ngx_api_led_json_is_text(v)) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "has no \"crv\"");
        return NGX_ERROR;
    }

    crv = json_string_value(v);

    if (ngx_strcmp(crv, "Ed25519") == 0) {
        type = EVP_PKEY_ED25519;
        size = 32;

    } else if (ngx_strcmp(crv, "Ed448") == 0) {
        type = EVP_PKEY_ED448;
        size = 57;

    } else if (ngx_strcmp(crv, "X25519") == 0
               || ngx_strcmp(crv, "X448") == 0)
    {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "\"%s\" is a key agreement curve", crv);
        return NGX_DECLINED;

    } else {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "unsupported OKP curve \"%V\"",
                         ngx_api_led_log_cstr(jwks->pool, crv));
        return NGX_ERROR;
    }

    if (ngx_api_led_jwk_private(obj, err) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwk_member(obj, "x", jwks->pool, &x, 1, err) != NGX_OK) {
        return NGX_ERROR;
    }

    if (x.len != size) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "\"x\" of an %s key must be %uz bytes", crv, size);
        return NGX_ERROR;
    }

    key->pkey = EVP_PKEY_new_raw_public_key(type, NULL, x.data, x.len);
    if (key->pkey == NULL) {
        ERR_clear_error();
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "invalid %s key", crv);
        return NGX_ERROR;
    }

    key->nid = type;
    key->bits = EVP_PKEY_get_bits(key->pkey);

    if (key->alg != -1) {
        a = &ngx_api_led_jwt_algs[key->alg];

        if (a->kty != NGX_API_LED_JWK_OKP || (a->nid && a->nid != type)) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "\"alg\" \"%V\" does not fit the key", &a->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * PEM: "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) and
 * "CERTIFICATE" blocks, one key each.  A private key is refused.
 */

static ngx_int_t
ngx_api_led_jwks_parse_pem(ngx_api_led_jwks_t *jwks, u_char *data,
    size_t len, u_char *err)
{
    BIO                *bio;
    X509               *x509;
    long                der_len;
    char               *name, *header;
    EVP_PKEY           *pkey;
    ngx_int_t           rc;
    ngx_uint_t          n;
    unsigned char      *der;
    const u_char       *p;
    ngx_api_led_jwk_t   key, *k;

    bio = BIO_new_mem_buf(data, len);
    if (bio == NULL) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "BIO_new_mem_buf() failed");
        return NGX_ERROR;
    }

    rc = NGX_OK;

    for (n = 1; /* void */; n++) {

        name = NULL;
        header = NULL;
        der = NULL;

        if (PEM_read_bio(bio, &name, &header, &der, &der_len) != 1) {
            break;
        }

        p = der;
        pkey = NULL;

        if (ngx_strcmp(name, "PUBLIC KEY") == 0) {
            pkey = d2i_PUBKEY(NULL, &p, der_len);

        } else if (ngx_strcmp(name, "RSA PUBLIC KEY") == 0) {
            pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, der_len);

        } else if (ngx_strcmp(name, "CERTIFICATE") == 0) {
            x509 = d2i_X509(NULL, &p, der_len);
            if (x509) {
                pkey = X509_get_pubkey(x509);
                X509_free(x509);
            }

        } else if (ngx_strstr(name, "PRIVATE KEY")) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "PEM block %ui holds a private key: give the "
                             "public key only", n);
            rc = NGX_ERROR;

        } else {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "PEM block %ui: unsupported \"%V\"", n,
                             ngx_api_led_log_cstr(jwks->pool, name));
            rc = NGX_ERROR;
        }

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);

        if (rc != NGX_OK) {
            break;
        }

        if (pkey == NULL) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "PEM block %ui is not a valid public key", n);
            rc = NGX_ERROR;
            break;
        }

        ngx_memzero(&key, sizeof(ngx_api_led_jwk_t));
        key.alg = -1;
        key.index = n;

        if (ngx_api_led_jwk_from_pkey(&key, pkey, err) != NGX_OK) {
            EVP_PKEY_free(pkey);
            rc = NGX_ERROR;
            break;
        }

        k = ngx_array_push(&jwks->keys);
        if (k == NULL) {
            EVP_PKEY_free(pkey);
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "out of memory");
            rc = NGX_ERROR;
            break;
        }

        *k = key;
    }

    ERR_clear_error();
    BIO_free(bio);

    return rc;
}


static ngx_int_t
ngx_api_led_jwk_from_pkey(ngx_api_led_jwk_t *key, EVP_PKEY *pkey,
    u_char *err)
{
    char                      group[64];
    u_char                    reason[NGX_API_LED_JWT_ERRLEN];
    size_t                    len;
    ngx_api_led_jwk_curve_t  *c;

    key->pkey = pkey;
    key->bits = EVP_PKEY_get_bits(pkey);

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        key->kty = NGX_API_LED_JWK_RSA;

        if (key->bits < NGX_API_LED_JWK_RSA_MIN_BITS) {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "PEM block %ui: RSA key of %ui bits, at least %d "
                             "are required", key->index, key->bits,
                             NGX_API_LED_JWK_RSA_MIN_BITS);
            return NGX_ERROR;
        }

        if (ngx_api_led_jwk_rsa_weak(pkey, reason, sizeof(reason))
            != NGX_OK)
        {
            ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                             "PEM block %ui: %s", key->index, reason);
            return NGX_ERROR;
        }

        return NGX_OK;

    case EVP_PKEY_EC:
        key->kty = NGX_API_LED_JWK_EC;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), &len)
            == 1)
        {
            for (c = ngx_api_led_jwk_curves; c->crv; c++) {
                if (ngx_strcmp(group, c->group) == 0) {
                    key->nid = c->nid;
                    return NGX_OK;
                }
            }
        }

        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                         "PEM block %ui: EC key not on P-256, P-384 or P-521",
                         key->index);
        return NGX_ERROR;

    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
        key->kty = NGX_API_LED_JWK_OKP;
        key->nid = EVP_PKEY_get_base_id(pkey);
        return NGX_OK;
    }

    ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                     "PEM block %ui: unsupported key type", key->index);
    return NGX_ERROR;
}


/*
 * A kid selects exactly one key: in a configured set a repeated kid is an
 * error, in a fetched set the later key is dropped.
 */

static ngx_int_t
ngx_api_led_jwks_add(ngx_api_led_jwks_t *jwks, ngx_api_led_jwk_t *key,
    ngx_uint_t strict, ngx_log_t *log, u_char *err)
{
    ngx_uint_t          i;
    ngx_api_led_jwk_t  *k;

    if (key->kid.len) {
        k = jwks->keys.elts;

        for (i = 0; i < jwks->keys.nelts; i++) {
            if (k[i].kid.len == key->kid.len
                && ngx_memcmp(k[i].kid.data, key->kid.data, key->kid.len)
                   == 0)
            {
                ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN,
                                 "\"kid\" \"%V\" is not unique", &key->kid);
                return strict ? NGX_ERROR : NGX_DECLINED;
            }
        }
    }

    k = ngx_array_push(&jwks->keys);
    if (k == NULL) {
        ngx_api_led_errf(err, NGX_API_LED_JWT_ERRLEN, "out of memory");
        return NGX_ERROR;
    }

    *k = *key;

    return NGX_OK;
}


/*
 * The algorithm/key match: the key type and curve the algorithm needs,
 * the JWK's own "alg" if it has one, and an HMAC key as long as the hash.
 * An RSA public key (PEM or JWK) is never an HMAC secret.
 */

ngx_int_t
ngx_api_led_jwk_matches(ngx_api_led_jwk_t *key, ngx_uint_t alg)
{
    ngx_api_led_jwt_alg_t  *a;

    a = &ngx_api_led_jwt_algs[alg];

    if (key->alg != -1 && (ngx_uint_t) key->alg != alg) {
        return 0;
    }

    if (key->kty != a->kty) {
        return 0;
    }

    switch (key->kty) {

    case NGX_API_LED_JWK_OCT:
        return key->secret_len >= a->size;

    case NGX_API_LED_JWK_RSA:
        return key->bits >= NGX_API_LED_JWK_RSA_MIN_BITS;

    case NGX_API_LED_JWK_EC:
        return key->nid == a->nid;

    default: /* NGX_API_LED_JWK_OKP */
        return a->nid == 0 || key->nid == a->nid;
    }
}


/*
 * NGX_OK: the signature is valid; NGX_DECLINED: it is not (including
 * signatures of the wrong length or encoding); NGX_ERROR: OpenSSL failed.
 */

ngx_int_t
ngx_api_led_jwk_verify(ngx_api_led_jwk_t *key, ngx_uint_t alg,
    u_char *input, size_t input_len, u_char *sig, size_t sig_len,
    ngx_log_t *log)
{
    int                     der_len;
    u_char                  mac[EVP_MAX_MD_SIZE], der[160], *p;
    BIGNUM                 *r, *s;
    ngx_int_t               rc;
    ECDSA_SIG              *es;
    unsigned int            mac_len;
    ngx_api_led_jwt_alg_t  *a;

    a = &ngx_api_led_jwt_algs[alg];

    switch (a->kty) {

    case NGX_API_LED_JWK_OCT:

        if (sig_len != a->size) {
            return NGX_DECLINED;
        }

        if (HMAC(ngx_api_led_jwt_md(a), key->secret, (int) key->secret_len,
                 input, input_len, mac, &mac_len)
            == NULL
            || mac_len != a->size)
        {
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ALERT, log, 0, "api_led: HMAC() failed");
            return NGX_ERROR;
        }

        rc = (CRYPTO_memcmp(mac, sig, a->size) == 0) ? NGX_OK : NGX_DECLINED;

        ngx_explicit_memzero(mac, sizeof(mac));

        return rc;

    case NGX_API_LED_JWK_RSA:

        if (sig_len != (size_t) EVP_PKEY_get_size(key->pkey)) {
            return NGX_DECLINED;
        }

        return ngx_api_led_jwk_verify_digest(key->pkey, ngx_api_led_jwt_md(a),
                                             alg >= NGX_API_LED_JWT_PS256,
                                             input, input_len, sig, sig_len);

    case NGX_API_LED_JWK_EC:

        /* JOSE: R || S, each exactly the curve's size; OpenSSL: DER */

        if (sig_len != 2 * a->size) {
            return NGX_DECLINED;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, a->size, NULL);
        s = BN_bin2bn(sig + a->size, a->size, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "api_led: ECDSA_SIG_set0() failed");
            return NGX_ERROR;
        }

        der_len = i2d_ECDSA_SIG(es, NULL);

        if (der_len <= 0 || der_len > (int) sizeof(der)) {
            ECDSA_SIG_free(es);
            ERR_clear_error();
            return NGX_DECLINED;
        }

        p = der;
        der_len = i2d_ECDSA_SIG(es, &p);

        ECDSA_SIG_free(es);

        if (der_len <= 0) {
            ERR_clear_error();
            return NGX_DECLINED;
        }

        return ngx_api_led_jwk_verify_digest(key->pkey, ngx_api_led_jwt_md(a),
                                             0, input, input_len, der,
                                             der_len);

    default: /* NGX_API_LED_JWK_OKP */

        if (sig_len != (key->nid == EVP_PKEY_ED25519 ? 64 : 114)) {
            return NGX_DECLINED;
        }

        return ngx_api_led_jwk_verify_digest(key->pkey, NULL, 0, input,
                                             input_len, sig, sig_len);
    }
}


static ngx_int_t
ngx_api_led_jwk_verify_digest(EVP_PKEY *pkey, const EVP_MD *md,
    ngx_uint_t pss, u_char *input, size_t input_len, u_char *sig,
    size_t sig_len)
{
    int            rc;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    rc = 0;

    if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey) != 1) {
        goto done;
    }

    if (pss) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
        {
            goto done;
        }
    }

    rc = EVP_DigestVerify(mctx, sig, sig_len, input, input_len);

done:

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();

    return (rc == 1) ? NGX_OK : NGX_DECLINED;
}
