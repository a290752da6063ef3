
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Keys (auth/ngx_api_led_jwk.c): the input is a key file as
 * api_led_jwt_keys reads it (a JWKS, one JWK, or PEM blocks), parsed
 * strictly (configuration) and leniently (a fetched JWKS).  It is also
 * tried as base64url.  Properties:
 *
 *   - what the strict parser accepts, the lenient one accepts, with the
 *     same keys;
 *   - a kid names one key: 1 to 256 bytes, unique in the set;
 *   - the algorithm/key match (no algorithm confusion): a key matches an
 *     algorithm only with the algorithm's key type and curve, its own
 *     "alg" if it has one, an HMAC key as long as the hash, an RSA key of
 *     2048 bits or more;
 *   - a wrong signature is refused (never an OpenSSL failure); an HMAC
 *     computed with an "oct" key verifies;
 *   - the error message is terminated; for a fetched JWKS, what is
 *     logged holds no control character (no forged log lines);
 *   - strict base64url: what decodes, encodes back to the same text.
 */


#include "harness.h"
#include "ngx_api_led_jwt.h"

#include <openssl/hmac.h>


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what)
{
    fz_dump("input", input, input_size);
    fz_fail("%s", what);
}


/* the message is terminated; a peer's (fetched) one is printable */

static void
check_err(u_char *err, ngx_uint_t peer)
{
    size_t  i;

    for (i = 0; i < NGX_API_LED_JWT_ERRLEN && err[i]; i++) {
        if (peer && err[i] < 0x20) {
            fz_dump("error", err, i + 1);
            failed("the error message holds a control character");
        }
    }

    if (i == NGX_API_LED_JWT_ERRLEN) {
        failed("the error message is not terminated");
    }
}


static void
check_set(ngx_api_led_jwks_t *jwks, ngx_log_t *log)
{
    u_char                  mac[EVP_MAX_MD_SIZE], sig[1024];
    ngx_int_t               rc;
    ngx_uint_t              i, j, alg, len;
    unsigned int            mlen;
    ngx_api_led_jwk_t      *key;
    ngx_api_led_jwt_alg_t  *a;

    key = jwks->keys.elts;

    for (i = 0; i < jwks->keys.nelts; i++) {

        if (key[i].kid.len > 256) {
            failed("a kid longer than 256 bytes");
        }

        for (j = 0; key[i].kid.len && j < i; j++) {
            if (key[j].kid.len == key[i].kid.len
                && ngx_memcmp(key[j].kid.data, key[i].kid.data,
                              key[i].kid.len) == 0)
            {
                failed("two keys with one kid");
            }
        }

        for (alg = 0; alg < NGX_API_LED_JWT_NALGS; alg++) {
            a = &ngx_api_led_jwt_algs[alg];

            if (!ngx_api_led_jwk_matches(&key[i], alg)) {
                continue;
            }

            if (key[i].kty != a->kty
                || (key[i].alg != -1 && (ngx_uint_t) key[i].alg != alg)
                || (a->kty == NGX_API_LED_JWK_OCT
                    && key[i].secret_len < a->size)
                || (a->kty == NGX_API_LED_JWK_RSA && key[i].bits < 2048)
                || (a->kty == NGX_API_LED_JWK_EC && key[i].nid != a->nid)
                || (a->kty == NGX_API_LED_JWK_OKP && a->nid
                    && key[i].nid != a->nid))
            {
                failed("a key matches an algorithm it does not fit");
            }

            /* a signature of the right length, but wrong */

            switch (a->kty) {
            case NGX_API_LED_JWK_OCT:
                len = a->size;
                break;
            case NGX_API_LED_JWK_RSA:
                len = EVP_PKEY_get_size(key[i].pkey);
                break;
            case NGX_API_LED_JWK_EC:
                len = 2 * a->size;
                break;
            default:
                len = (key[i].nid == EVP_PKEY_ED25519) ? 64 : 114;
            }

            if (len > sizeof(sig)) {
                failed("a signature longer than 1024 bytes");
            }

            ngx_memset(sig, 0x5a, len);

            rc = ngx_api_led_jwk_verify(&key[i], alg, (u_char *) input,
                                        input_size, sig, len, log);
            if (rc != NGX_DECLINED) {
                failed("a wrong signature was not refused");
            }

            if (a->kty == NGX_API_LED_JWK_OCT) {
                if (HMAC(alg == NGX_API_LED_JWT_HS256 ? EVP_sha256()
                         : alg == NGX_API_LED_JWT_HS384 ? EVP_sha384()
                         : EVP_sha512(),
                         key[i].secret, key[i].secret_len, input, input_size,
                         mac, &mlen)
                    == NULL)
                {
                    abort();
                }

                if (ngx_api_led_jwk_verify(&key[i], alg, (u_char *) input,
                                           input_size, mac, mlen, log)
                    != NGX_OK)
                {
                    failed("a genuine HMAC was refused");
                }
            }
        }
    }
}


static void
check_base64url(ngx_pool_t *pool)
{
    ngx_str_t  dec, enc;

    dec.data = ngx_pnalloc(pool, ngx_base64_decoded_length(input_size) + 1);
    enc.data = ngx_pnalloc(pool, input_size + 4);
    if (dec.data == NULL || enc.data == NULL) {
        abort();
    }

    if (ngx_api_led_jwt_b64url_decode(&dec, (u_char *) input, input_size)
        != NGX_OK)
    {
        return;
    }

    ngx_encode_base64url(&enc, &dec);

    if (enc.len != input_size || ngx_memcmp(enc.data, input, input_size)) {
        failed("base64url: two texts for one value");
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               err[2 * NGX_API_LED_JWT_ERRLEN];
    u_char               err2[2 * NGX_API_LED_JWT_ERRLEN];
    fz_t                 fz;
    ngx_int_t            rc, lrc;
    ngx_uint_t           i;
    ngx_api_led_jwk_t   *k, *lk;
    ngx_api_led_jwks_t  *strict, *lenient;

    input = data;
    input_size = size;

    fz_begin(&fz);

    (void) ngx_api_led_jwt_alg_find((u_char *) data, size);

    check_base64url(fz.pool);

    strict = ngx_api_led_jwks_create(fz.pool);
    lenient = ngx_api_led_jwks_create(fz.pool);
    if (strict == NULL || lenient == NULL) {
        abort();
    }

    /*
     * The messages are NGX_API_LED_JWT_ERRLEN bytes at most, NUL included
     * (crashes/jwk/unterminated-error-long-kty: a truncated message lost
     * its NUL and was read past its end): no NUL after the buffer.
     */
    ngx_memset(err, 0xff, sizeof(err));
    ngx_memset(err2, 0xff, sizeof(err2));

    rc = ngx_api_led_jwks_parse(strict, (u_char *) data, size, 1,
                                fz.cf->log, err);
    /*
     * A fetched JWKS comes from a peer: what the lenient parser logs and
     * answers (ngx_api_led_jwt_remote_update() logs the message) must not
     * forge log lines (crashes/jwk/control-in-log-*: "kty" and jansson's
     * "near '...'" went to the log as they were).
     */
    fz_log_check = 1;

    lrc = ngx_api_led_jwks_parse(lenient, (u_char *) data, size, 0,
                                 fz.cf->log, err2);

    fz_log_check = 0;

    if (rc != NGX_OK) {
        check_err(err, 0);
    }

    if (lrc != NGX_OK) {
        check_err(err2, 1);
    }

    if (rc == NGX_OK) {
        if (lrc != NGX_OK || lenient->keys.nelts != strict->keys.nelts) {
            failed("accepted strictly, not leniently");
        }

        k = strict->keys.elts;
        lk = lenient->keys.elts;

        for (i = 0; i < strict->keys.nelts; i++) {
            if (k[i].kty != lk[i].kty || k[i].kid.len != lk[i].kid.len
                || k[i].bits != lk[i].bits)
            {
                failed("strict and lenient sets differ");
            }
        }

        check_set(strict, fz.cf->log);
    }

    if (lrc == NGX_OK) {
        check_set(lenient, fz.cf->log);
    }

    fz_end(&fz);

    return 0;
}
