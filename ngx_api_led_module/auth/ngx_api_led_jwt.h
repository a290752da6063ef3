
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the JWT concern (ngx_api_led_jwt*.c, ngx_api_led_jwk.c):
 * configuration, algorithms, keys, key sets, the verified-token cache and
 * remote key sets.  Nothing outside the JWT files includes it.
 */


#ifndef _NGX_API_LED_JWT_H_INCLUDED_
#define _NGX_API_LED_JWT_H_INCLUDED_


#include "ngx_api_led_auth.h"
#include "ngx_api_led_json.h"
#include "ngx_api_led_observe.h"
#include <openssl/evp.h>


/* JWS algorithms (RFC 7518, RFC 8037, fully specified Ed25519/Ed448) */
/* verified tokens a worker keeps when api_led_jwt_cache is not given */
#define NGX_API_LED_JWT_CACHE_DEFAULT  10000

#define NGX_API_LED_JWT_HS256      0
#define NGX_API_LED_JWT_HS384      1
#define NGX_API_LED_JWT_HS512      2
#define NGX_API_LED_JWT_RS256      3
#define NGX_API_LED_JWT_RS384      4
#define NGX_API_LED_JWT_RS512      5
#define NGX_API_LED_JWT_PS256      6
#define NGX_API_LED_JWT_PS384      7
#define NGX_API_LED_JWT_PS512      8
#define NGX_API_LED_JWT_ES256      9
#define NGX_API_LED_JWT_ES384      10
#define NGX_API_LED_JWT_ES512      11
#define NGX_API_LED_JWT_EDDSA      12
#define NGX_API_LED_JWT_ED25519    13
#define NGX_API_LED_JWT_ED448      14
#define NGX_API_LED_JWT_NALGS      15

#define NGX_API_LED_JWT_ALL_ALGS   ((1 << NGX_API_LED_JWT_NALGS) - 1)

/* key types (JWK "kty") */
#define NGX_API_LED_JWK_OCT        1
#define NGX_API_LED_JWK_RSA        2
#define NGX_API_LED_JWK_EC         3
#define NGX_API_LED_JWK_OKP        4

/* RFC 7518 3.3: RSA keys of 2048 bits or larger */
#define NGX_API_LED_JWK_RSA_MIN_BITS  2048

#define NGX_API_LED_JWT_ERRLEN     256

#define NGX_API_LED_JWT_CACHE_MISS  1
#define NGX_API_LED_JWT_CACHE_HIT   2

/* a SHA-256 digest (of a fetched key set) */
#define NGX_API_LED_JWT_DIGEST_LEN  32


typedef struct {
    ngx_str_t                    name;
    ngx_uint_t                   kty;
    const char                  *md;          /* digest name, NULL: EdDSA */
    size_t                       size;        /* HMAC/hash or EC coord size */
    int                          nid;         /* curve, 0: any of the kty */
} ngx_api_led_jwt_alg_t;


typedef struct {
    ngx_str_t                    kid;         /* "" when the key has none */
    ngx_uint_t                   kty;         /* NGX_API_LED_JWK_* */
    int                          nid;         /* EC curve, Ed25519, Ed448 */
    ngx_int_t                    alg;         /* the JWK's own "alg", -1 */
    EVP_PKEY                    *pkey;        /* RSA, EC, OKP */
    u_char                      *secret;      /* oct */
    size_t                       secret_len;
    ngx_uint_t                   bits;
    ngx_uint_t                   index;       /* position, for messages */
} ngx_api_led_jwk_t;


/*
 * A key set: the keys of the api_led_jwt_keys files of a location, or one
 * fetched JWKS document.  The generation is unique for the life of the
 * process: the verified-token cache remembers which key set verified a
 * token without keeping a pointer to it.
 */
typedef struct {
    ngx_array_t                  keys;        /* ngx_api_led_jwk_t */
    ngx_uint_t                   generation;
    ngx_pool_t                  *pool;        /* own pool (remote sets) */
    u_char                       digest[NGX_API_LED_JWT_DIGEST_LEN];
} ngx_api_led_jwks_t;


typedef struct ngx_api_led_jwt_fetch_s  ngx_api_led_jwt_fetch_t;


/*
 * A remote key set (api_led_jwt_keys_uri): fetched by a subrequest to a
 * location, kept per worker.  The configuration holds one per distinct
 * URI and nothing else; what a worker fetched is in its own state
 * (ngx_api_led_jwt_keys.c), at the index of the remote.
 */
typedef struct {
    ngx_str_t                    uri;
    ngx_str_t                    args;
    time_t                       valid;
    time_t                       kid_refetch;
    ngx_uint_t                   index;       /* in jmcf->remotes */
} ngx_api_led_jwt_remote_t;


typedef struct ngx_api_led_jwt_cache_node_s  ngx_api_led_jwt_cache_node_t;

typedef struct {
    ngx_uint_t                   size;        /* max entries, 0: off */
    ngx_uint_t                   count;
    uint64_t                     seed;        /* of the keys, per worker */
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  lru;
} ngx_api_led_jwt_cache_t;


/* what the cache holds for a verified token */
struct ngx_api_led_jwt_cache_node_s {
    ngx_rbtree_node_t            node;        /* key: of the token's end */
    ngx_queue_t                  queue;
    ngx_str_t                    token;       /* its bytes follow the node */
    json_t                      *claims;
    /* the last requirements without variables it met, or NULL */
    ngx_array_t                 *requires_met;
    time_t                       exp;         /* 0: the token has no exp */
    ngx_uint_t                   generation;  /* of the verifying key set */
    ngx_uint_t                   alg;
};


/* the key set of one api_led_jwt_keys file list, shared by locations */
typedef struct {
    ngx_str_t                    files;
    ngx_api_led_jwks_t          *jwks;
} ngx_api_led_jwt_keyset_t;


typedef struct {
    ngx_uint_t                   cache_size;  /* tokens a worker keeps */
    ngx_array_t                  remotes;     /* ngx_api_led_jwt_remote_t * */
    ngx_array_t                  keysets;     /* ngx_api_led_jwt_keyset_t */

    /* metrics, NULL without a metrics zone or without their feature */
    ngx_api_led_metric_t        *cache_lookups;
    ngx_api_led_metric_t        *fetches;
} ngx_api_led_jwt_main_conf_t;


/* per-request state of the JWT step (the module's request ctx) */
typedef struct {
    ngx_api_led_jwt_remote_t    *remote;
    void                        *waiter;
    unsigned                     waiting:1;   /* suspended for a fetch */
    unsigned                     fetch_done:1;
    unsigned                     waited:1;    /* never wait twice */
    unsigned                     kid_refetched:1;
    unsigned                     cache_status:2;  /* 0, MISS, HIT */
} ngx_api_led_jwt_req_ctx_t;


#define NGX_API_LED_JWT_SOURCE_HEADER   1
#define NGX_API_LED_JWT_SOURCE_COOKIE   2
#define NGX_API_LED_JWT_SOURCE_QUERY    3

#define NGX_API_LED_JWT_REQ_ISS         1
#define NGX_API_LED_JWT_REQ_AUD         2
#define NGX_API_LED_JWT_REQ_SCOPE       3
#define NGX_API_LED_JWT_REQ_PRESENT     4
#define NGX_API_LED_JWT_REQ_EQUAL       5


typedef struct {
    ngx_uint_t                   type;
    ngx_str_t                    name;
    ngx_uint_t                   authorization;  /* Bearer only */
} ngx_api_led_jwt_source_t;


typedef struct {
    ngx_str_t                    claim;
    ngx_array_t                 *pointer;     /* ngx_str_t tokens, or NULL */
    ngx_uint_t                   kind;
    ngx_uint_t                   registered;  /* a RFC 7519 claim: 401 */
    ngx_array_t                 *values;      /* ngx_http_complex_value_t */
} ngx_api_led_jwt_require_t;


typedef struct {
    ngx_api_led_jwks_t          *keys;
    ngx_api_led_jwt_remote_t    *remote;
    ngx_uint_t                   algorithms;
    ngx_array_t                 *sources;
    time_t                       leeway;
    ngx_array_t                 *requires;
    ngx_flag_t                   requires_constant;  /* no variables */
    ngx_str_t                    consumer_claim;
    ngx_array_t                 *consumer_pointer;
    size_t                       max_size;
    ngx_flag_t                   hide;
} ngx_api_led_jwt_loc_conf_t;


typedef struct {
    ngx_str_t                    text;
    ngx_array_t                 *pointer;
} ngx_api_led_jwt_claim_set_t;


/* the result of checking a token, before it is answered */
typedef struct {
    ngx_uint_t                   status;
    const char                  *error;       /* RFC 6750 error code */
    const char                  *description;
    const char                  *reason;      /* for the metrics, in a
                                                 word; NULL: "malformed" */
    ngx_str_t                    scope;
    unsigned                     logged:1;    /* with more detail */
} ngx_api_led_jwt_reject_t;



/* ngx_api_led_jwt_claims.c */

ngx_int_t ngx_api_led_jwt_check_time(json_t *claims, time_t leeway,
    ngx_api_led_jwt_reject_t *rj);
ngx_int_t ngx_api_led_jwt_check_requires(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, json_t *claims,
    ngx_api_led_jwt_reject_t *rj);
json_t *ngx_api_led_jwt_pointer_get(json_t *root, ngx_array_t *pointer);
ngx_int_t ngx_api_led_jwt_set_identity(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_ctx_t *ctx,
    json_t *claims);
ngx_int_t ngx_api_led_jwt_render(ngx_pool_t *pool, json_t *v,
    ngx_uint_t identity, ngx_str_t *out);


/* ngx_api_led_jwk.c */

extern ngx_api_led_jwt_alg_t  ngx_api_led_jwt_algs[];

ngx_int_t ngx_api_led_jwt_alg_find(u_char *name, size_t len);
ngx_int_t ngx_api_led_jwt_b64url_decode(ngx_str_t *dst, u_char *src,
    size_t len);
ngx_api_led_jwks_t *ngx_api_led_jwks_create(ngx_pool_t *pool);
ngx_int_t ngx_api_led_jwks_parse(ngx_api_led_jwks_t *jwks, u_char *data,
    size_t len, ngx_uint_t strict, ngx_log_t *log, u_char *err);
ngx_int_t ngx_api_led_jwk_matches(ngx_api_led_jwk_t *key, ngx_uint_t alg);
ngx_int_t ngx_api_led_jwk_verify(ngx_api_led_jwk_t *key, ngx_uint_t alg,
    u_char *input, size_t input_len, u_char *sig, size_t sig_len,
    ngx_log_t *log);
ngx_int_t ngx_api_led_jwt_sha256(u_char *data, size_t len, u_char *digest);


/* ngx_api_led_jwt_keys.c: the worker's state (init_process, exit_process) */

ngx_int_t ngx_api_led_jwt_worker_init(ngx_cycle_t *cycle,
    ngx_api_led_jwt_main_conf_t *jmcf);
void ngx_api_led_jwt_worker_exit(void);
/* NULL: no cache */
ngx_api_led_jwt_cache_t *ngx_api_led_jwt_worker_cache(void);


/* ngx_api_led_jwt_keys.c: the verified-token cache */

void ngx_api_led_jwt_cache_init(ngx_api_led_jwt_cache_t *cache);
ngx_api_led_jwt_cache_node_t *ngx_api_led_jwt_cache_lookup(
    ngx_api_led_jwt_cache_t *cache, ngx_str_t *token);
void ngx_api_led_jwt_cache_insert(ngx_api_led_jwt_cache_t *cache,
    ngx_str_t *token, json_t *claims, time_t exp, ngx_uint_t generation,
    ngx_uint_t alg, ngx_log_t *log);
void ngx_api_led_jwt_cache_delete(ngx_api_led_jwt_cache_t *cache,
    ngx_api_led_jwt_cache_node_t *cn);
void ngx_api_led_jwt_cache_free(ngx_api_led_jwt_cache_t *cache);


/* ngx_api_led_jwt_keys.c: remote key sets */

#define NGX_API_LED_JWT_NEED_KEYS   0   /* keys of any age will do */
#define NGX_API_LED_JWT_NEED_KID    1   /* a kid was not found: refetch? */

ngx_api_led_jwt_remote_t *ngx_api_led_jwt_remote_add(ngx_conf_t *cf,
    ngx_api_led_jwt_main_conf_t *jmcf, ngx_str_t *uri, time_t valid,
    time_t kid_refetch);
ngx_int_t ngx_api_led_jwt_remote_keys(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t need);
/* the keys this worker has for the remote key set, NULL if none yet */
ngx_api_led_jwks_t *ngx_api_led_jwt_remote_jwks(
    ngx_api_led_jwt_remote_t *remote);


#endif /* _NGX_API_LED_JWT_H_INCLUDED_ */
