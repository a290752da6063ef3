
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The JWT step (auth/ngx_api_led_jwt_verify.c, _claims.c, _keys.c): the
 * compact JWS parser, the JOSE header checks, key selection, signature
 * verification, the verified-token cache, the claim rules and the
 * identity, through the authentication step of the access phase
 * (ngx_api_led_auth_access(): "api_led_auth jwt", the refusal and its
 * WWW-Authenticate challenge) of a request in a location configured by
 * the module's own directives (t/fixtures/jwt keys).  The first byte of
 * the input chooses:
 *
 *   bits 0-1  0: the rest is the Authorization header as sent;
 *             1: the rest is "HEADER\nPAYLOAD" (any bytes): the harness
 *                encodes both and signs them as the header's alg and kid
 *                ask, with the fixtures' private keys;
 *             2: the same, then one bit of the signature flipped;
 *             3: the same, signed with HS256 keyed with the public key
 *                (algorithm confusion) or with the wrong alg;
 *   bit 2     the location: A (jwks.json, no rules) or B
 *             (jwks.json and rfc.json, iss/aud/scope/claim rules, a
 *             consumer pointer); the worker caches 8 tokens;
 *   bit 3     "Bearer" written in lower case, with tabs.
 *
 * Properties: a token the harness tampered with or signed with the wrong
 * key is never accepted; a token it signed as the header asks is never
 * refused for its signature; the step never fails (a 500) or waits;
 * the same token gives the same answer twice (the second time from the
 * cache); WWW-Authenticate and the consumer id hold no control
 * characters; the claim variables render.
 */


#include "harness.h"

/* the access step and the claim variables are static: the files are in */
#include "ngx_api_led_auth.c"
#include "ngx_api_led_jwt.c"

#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

ngx_int_t __wrap_ngx_api_led_problem_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *detail, ...);


#define MODE_RAW      0
#define MODE_SIGNED   1
#define MODE_TAMPER   2
#define MODE_CONFUSE  3


typedef struct {
    const char         *kid;
    const char         *file;
    EVP_PKEY           *pkey;
    u_char             *pem;       /* the public key, for confusion */
    size_t              pem_len;
} key_t_;


static key_t_  keys[] = {
    { "rsa-1", "rsa", NULL, NULL, 0 },
    { "ec256-1", "ec256", NULL, NULL, 0 },
    { "ec384-1", "ec384", NULL, NULL, 0 },
    { "ec521-1", "ec521", NULL, NULL, 0 },
    { "ed25519-1", "ed25519", NULL, NULL, 0 },
    { "ed448-1", "ed448", NULL, NULL, 0 },
    { NULL, NULL, NULL, NULL, 0 }
};

static u_char    hs_secret[64];

static fz_t      loc[2];

/* what the problem stub saw */
static ngx_uint_t   answered;
static ngx_uint_t   answer_status;
static u_char       answer_detail[256];

static const uint8_t  *input;
static size_t          input_size;


extern ngx_module_t  ngx_api_led_observe_module;

static ngx_module_t  *modules[] = {
    &ngx_api_led_module, &ngx_api_led_observe_module,
    &ngx_api_led_consumer_module, &ngx_api_led_jwt_module,
    &ngx_api_led_auth_module, NULL
};


static const char  *config[2] = {
    "api_led_auth jwt;"
    "api_led_jwt_keys " FZ_FIXTURES "/jwks.json;"
    "api_led_jwt_cache 8;",

    "api_led_auth jwt;"
    "api_led_jwt_keys " FZ_FIXTURES "/jwks.json " FZ_FIXTURES "/rfc.json;"
    "api_led_jwt_leeway 100y;"
    "api_led_jwt_require iss joe issuer.example;"
    "api_led_jwt_require aud api;"
    "api_led_jwt_require scope read;"
    "api_led_jwt_require /realm/roles admin 7 true;"
    "api_led_jwt_require tenant;"
    "api_led_jwt_consumer_claim /client/id;"
    "api_led_jwt_max_size 4096;"
};


/* the problem the refusal leaves for nginx's answer: noted */

ngx_int_t
__wrap_ngx_api_led_problem_refuse(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *detail, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, detail);
    p = ngx_vslprintf(answer_detail, answer_detail + sizeof(answer_detail) - 1,
                      detail, args);
    va_end(args);

    *p = '\0';

    answered = 1;
    answer_status = status;

    return status;
}


static void
load_keys(void)
{
    FILE      *f;
    char       name[512];
    size_t     n;
    key_t_    *k;

    for (k = keys; k->kid; k++) {
        snprintf(name, sizeof(name), "%s/%s.key", FZ_FIXTURES, k->file);

        f = fopen(name, "r");
        if (f == NULL || (k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL))
                         == NULL)
        {
            fprintf(stderr, "jws: cannot read %s\n", name);
            abort();
        }

        fclose(f);

        snprintf(name, sizeof(name), "%s/%s.pub", FZ_FIXTURES, k->file);

        k->pem = malloc(4096);
        f = fopen(name, "r");
        if (f == NULL || k->pem == NULL) {
            abort();
        }

        k->pem_len = fread(k->pem, 1, 4096, f);
        fclose(f);
    }

    snprintf(name, sizeof(name), "%s/hs.secret", FZ_FIXTURES);

    f = fopen(name, "r");
    if (f == NULL) {
        abort();
    }

    n = fread(hs_secret, 1, sizeof(hs_secret), f);
    fclose(f);

    if (n != sizeof(hs_secret)) {
        abort();
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t     i;
    ngx_module_t  **m;

    fz_init();
    load_keys();

    /* two locations, configured once, as nginx -t would */

    for (i = 0; i < 2; i++) {
        fz_begin(&loc[i]);

        for (m = modules; *m; m++) {
            if (fz_conf_create(&loc[i], *m) != NGX_CONF_OK) {
                abort();
            }
        }

        if (fz_conf_text(&loc[i], modules, (u_char *) config[i],
                         strlen(config[i]))
            != NGX_CONF_OK)
        {
            fprintf(stderr, "jws: the configuration failed\n");
            abort();
        }

        for (m = modules; *m; m++) {
            if (fz_conf_init(&loc[i], *m) != NGX_CONF_OK) {
                abort();
            }
        }
    }

    /* the worker's verified-token cache, as init_process makes it */
    if (ngx_api_led_jwt_worker_init((ngx_cycle_t *) ngx_cycle,
                                    fz_main_conf(&loc[0],
                                                 &ngx_api_led_jwt_module))
        != NGX_OK
        || ngx_api_led_jwt_worker_cache() == NULL)
    {
        abort();
    }

    return 0;
}


/* signing, as an issuer would */

static const EVP_MD *
alg_md(const char *alg)
{
    if (ngx_strstr(alg, "256")) {
        return EVP_sha256();
    }

    if (ngx_strstr(alg, "384")) {
        return EVP_sha384();
    }

    return EVP_sha512();
}


static size_t
sign(const char *alg, key_t_ *key, u_char *in, size_t len, u_char *sig)
{
    int             ok, size;
    size_t          n;
    u_char          der[256];
    const BIGNUM   *r, *s;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *mctx;
    EVP_PKEY_CTX   *pctx;
    const u_char   *p;
    unsigned int    mlen;

    if (alg[0] == 'H') {
        if (HMAC(alg_md(alg), hs_secret, sizeof(hs_secret), in, len, sig,
                 &mlen)
            == NULL)
        {
            abort();
        }

        return mlen;
    }

    if (key == NULL) {
        return 0;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        abort();
    }

    n = 1024;
    ok = 0;

    if (alg[0] == 'E' && alg[1] == 'd') {
        ok = EVP_DigestSignInit(mctx, NULL, NULL, NULL, key->pkey) == 1
             && EVP_DigestSign(mctx, sig, &n, in, len) == 1;

    } else if (alg[0] == 'R' || alg[0] == 'P') {
        ok = EVP_DigestSignInit(mctx, &pctx, alg_md(alg), NULL, key->pkey)
             == 1;

        if (ok && alg[0] == 'P') {
            ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                 == 1
                 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                     RSA_PSS_SALTLEN_DIGEST)
                    == 1;
        }

        ok = ok && EVP_DigestSign(mctx, sig, &n, in, len) == 1;

    } else if (alg[0] == 'E') {
        n = sizeof(der);
        ok = EVP_DigestSignInit(mctx, NULL, alg_md(alg), NULL, key->pkey)
             == 1
             && EVP_DigestSign(mctx, der, &n, in, len) == 1;

        if (ok) {
            size = ngx_strstr(alg, "512") ? 66
                   : ngx_strstr(alg, "384") ? 48 : 32;

            /* not an EC key for the alg: no signature */
            p = der;
            es = d2i_ECDSA_SIG(NULL, &p, n);

            if (es) {
                ECDSA_SIG_get0(es, &r, &s);
                ok = BN_bn2binpad(r, sig, size) == size
                     && BN_bn2binpad(s, sig + size, size) == size;
                ECDSA_SIG_free(es);

            } else {
                ok = 0;
            }

            n = 2 * size;
        }
    }

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();

    return ok ? n : 0;
}


/* the key the header asks for: its kid, else the first of its type */

static key_t_ *
choose(const char *alg, const char *kid)
{
    key_t_  *k;

    if (kid) {
        for (k = keys; k->kid; k++) {
            if (ngx_strcmp(k->kid, kid) == 0) {
                return k;
            }
        }

        return NULL;
    }

    if (alg[0] == 'R' || alg[0] == 'P') {
        return &keys[0];
    }

    if (ngx_strcmp(alg, "ES256") == 0) {
        return &keys[1];
    }

    if (ngx_strcmp(alg, "ES384") == 0) {
        return &keys[2];
    }

    if (ngx_strcmp(alg, "ES512") == 0) {
        return &keys[3];
    }

    if (ngx_strcmp(alg, "Ed448") == 0) {
        return &keys[5];
    }

    return &keys[4];
}


/* whether the key the harness signed with is the one the header names */

static ngx_uint_t
fits(const char *alg, const char *kid, key_t_ *key)
{
    static const char  *algs[] = { "HS256", "HS384", "HS512", "RS256",
        "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
        "ES512", "EdDSA", "Ed25519", "Ed448", NULL };
    ngx_uint_t          i;

    for (i = 0; algs[i]; i++) {
        if (ngx_strcmp(algs[i], alg) == 0) {
            break;
        }
    }

    if (algs[i] == NULL) {
        return 0;
    }

    if (alg[0] == 'H') {
        return kid == NULL || ngx_strcmp(kid, "hs-1") == 0;
    }

    if (key == NULL) {
        return 0;
    }

    if (alg[0] == 'R' || alg[0] == 'P') {
        return key == &keys[0];
    }

    if (alg[0] == 'E' && alg[1] == 'S') {
        return key == choose(alg, NULL);
    }

    if (ngx_strcmp(alg, "Ed25519") == 0) {
        return key == &keys[4];
    }

    if (ngx_strcmp(alg, "Ed448") == 0) {
        return key == &keys[5];
    }

    return key == &keys[4] || key == &keys[5];   /* EdDSA */
}


/*
 * "HEADER\nPAYLOAD" as a signed token; *genuine: signed as the header
 * says, with its key
 */

static ngx_int_t
make_token(ngx_pool_t *pool, ngx_uint_t mode, u_char *p, size_t len,
    ngx_str_t *token, ngx_uint_t *genuine)
{
    u_char       *nl, sig[1024], *q;
    size_t        n;
    json_t       *h, *v;
    key_t_       *key;
    ngx_str_t     src, dst, signature;
    const char   *alg, *kid;
    json_error_t  err;

    nl = ngx_strlchr(p, p + len, '\n');
    if (nl == NULL) {
        return NGX_DECLINED;
    }

    *genuine = 0;

    token->data = ngx_pnalloc(pool, ngx_base64_encoded_length(len) + 4
                                    + ngx_base64_encoded_length(1024));
    if (token->data == NULL) {
        abort();
    }

    src.data = p;
    src.len = nl - p;
    ngx_encode_base64url(token, &src);
    q = token->data + token->len;
    *q++ = '.';

    src.data = nl + 1;
    src.len = p + len - src.data;
    dst.data = q;
    ngx_encode_base64url(&dst, &src);
    q += dst.len;

    /* the header as the issuer meant it */

    alg = "HS256";
    kid = NULL;

    h = json_loadb((char *) p, nl - p, 0, &err);

    v = json_object_get(h, "alg");
    if (json_is_string(v)) {
        alg = json_string_value(v);
    }

    v = json_object_get(h, "kid");
    if (json_is_string(v)) {
        kid = json_string_value(v);
    }

    key = choose(alg, kid);

    if (mode == MODE_CONFUSE) {
        if (alg[0] == 'H') {
            /* an HMAC token signed as RS256 would be */
            n = sign("RS256", &keys[0], token->data, q - token->data, sig);

        } else {
            /* the classic: the public key as an HMAC secret */
            n = HMAC(EVP_sha256(), key ? key->pem : keys[0].pem,
                     key ? key->pem_len : keys[0].pem_len,
                     token->data, q - token->data, sig, NULL)
                ? 32 : 0;
        }

    } else {
        n = sign(alg, key, token->data, q - token->data, sig);
        *genuine = (n > 0 && fits(alg, kid, key));

        if (mode == MODE_TAMPER && n > 0) {
            sig[(len + n) % n] ^= (u_char) (1 << (len % 8));
            *genuine = 0;
        }
    }

    json_decref(h);

    *q++ = '.';
    src.data = sig;
    src.len = n;
    signature.data = q;
    ngx_encode_base64url(&signature, &src);
    q += signature.len;

    token->len = q - token->data;

    return NGX_OK;
}


static void
failed(const char *what, ngx_str_t *value)
{
    fz_dump("input", input, input_size);
    fz_dump("Authorization", value->data, value->len);
    fprintf(stderr, "answered: %lu, status %lu, \"%s\"\n",
            (unsigned long) answered, (unsigned long) answer_status,
            answer_detail);
    fz_fail("%s", what);
}


/* crashes/jws/del-in-subject: DEL (0x7f) was left raw in claims */

static ngx_uint_t
has_control(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


/* one request with that Authorization header */

static ngx_int_t
authenticate(ngx_pool_t *pool, fz_t *conf, ngx_str_t *value,
    ngx_str_t *consumer)
{
    ngx_int_t                   rc;
    ngx_str_t                   name;
    ngx_uint_t                  i;
    ngx_list_part_t            *part;
    ngx_table_elt_t            *h;
    ngx_api_led_ctx_t          *ctx;
    ngx_http_request_t         *r;
    ngx_http_variable_value_t   vv;

    static ngx_str_t  claims[] = {
        ngx_string("api_led_jwt_claim_sub"),
        ngx_string("api_led_jwt_claim_aud"),
        ngx_string("api_led_jwt_claim_realm"),
        ngx_null_string
    };

    r = fz_request_in(pool, conf->cf);

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        abort();
    }

    ngx_str_set(&h->key, "Authorization");
    h->value = *value;
    h->hash = 1;
    h->lowcase_key = (u_char *) "authorization";
    r->headers_in.authorization = h;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        abort();
    }

    answered = 0;
    answer_status = 0;
    answer_detail[0] = '\0';

    rc = ngx_api_led_auth_access(r, ctx);

    if (rc == NGX_ERROR || rc == NGX_AGAIN
        || rc == NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        failed("the JWT step failed (a 500) or waits", value);
    }

    if ((rc >= NGX_HTTP_BAD_REQUEST) != answered) {
        failed("a refusal without a problem, or a problem without it",
               value);
    }

    if (has_control(&ctx->consumer_id)) {
        failed("the consumer id holds a control character", value);
    }

    *consumer = ctx->consumer_id;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (has_control(&h[i].value)) {
            failed("a response header holds a control character", value);
        }
    }

    if (rc == NGX_OK) {
        for (i = 0; claims[i].len; i++) {
            name = claims[i];
            ngx_memzero(&vv, sizeof(vv));

            if (ngx_api_led_jwt_variable_claim(r, &vv, (uintptr_t) &name)
                != NGX_OK)
            {
                failed("a claim variable failed", value);
            }

            if (!vv.not_found) {
                name.data = vv.data;
                name.len = vv.len;

                if (has_control(&name)) {
                    failed("a claim variable holds a control character",
                           value);
                }
            }
        }
    }

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *p;
    fz_t        *conf;
    ngx_int_t    rc, rc2;
    ngx_str_t    token, value, c1, c2;
    ngx_uint_t   mode, genuine, status;
    ngx_pool_t  *pool;

    if (size < 1) {
        return 0;
    }

    input = data;
    input_size = size;

    mode = data[0] & 3;
    conf = &loc[(data[0] >> 2) & 1];
    genuine = 0;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        abort();
    }

    if (mode == MODE_RAW) {
        value.data = (u_char *) data + 1;
        value.len = size - 1;

    } else {
        if (make_token(pool, mode, (u_char *) data + 1, size - 1, &token,
                       &genuine)
            != NGX_OK)
        {
            ngx_destroy_pool(pool);
            return 0;
        }

        value.data = ngx_pnalloc(pool, token.len + 8);
        if (value.data == NULL) {
            abort();
        }

        p = ngx_cpymem(value.data, (data[0] & 8) ? "bearer\t " : "Bearer ",
                       (data[0] & 8) ? 8 : 7);
        p = ngx_cpymem(p, token.data, token.len);
        value.len = p - value.data;
    }

    rc = authenticate(pool, conf, &value, &c1);
    status = answer_status;

    if ((mode == MODE_TAMPER || mode == MODE_CONFUSE) && rc == NGX_OK) {
        failed("a tampered or wrongly signed token was accepted", &value);
    }

    if (genuine && answered
        && ngx_strstr(answer_detail, "signature is invalid"))
    {
        failed("a token signed as its header says was refused for its "
               "signature", &value);
    }

    /* again: the cache (location A) answers the same */

    rc2 = authenticate(pool, conf, &value, &c2);

    if (rc2 != rc || answer_status != status
        || c1.len != c2.len
        || (c1.len && ngx_memcmp(c1.data, c2.data, c1.len) != 0))
    {
        failed("the same token, another answer", &value);
    }

    fz_end_pool(pool);

    /* the next input starts with an empty cache */

    ngx_api_led_jwt_cache_free(ngx_api_led_jwt_worker_cache());

    return 0;
}
