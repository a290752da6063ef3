
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The signed caller assertion: the layer contract across nodes.
 *
 * A location with "api_led_caller_key FILE sign" adds to the requests it
 * proxies an API-Led-Caller header that asserts who calls: the layer and
 * API of the calling location (a subrequest's parent location, or the
 * location itself for a client's request), with the request's correlation
 * id, a timestamp and a nonce, under HMAC-SHA256 with the shared key:
 *
 *   API-Led-Caller: v1;layer=process;api=customer;ts=1767225600;
 *                   nonce=<22 base64url>;sig=<43 base64url>
 *
 *   sig = HMAC-SHA256(key, "api-led-caller v1\n" layer "\n" api "\n"
 *                          correlation-id "\n" ts "\n" nonce)
 *
 * On the receiving node, a client's request (r == r->main) in a location
 * with the key has its assertion verified once: signature (constant time),
 * time (|now - ts| <= max_age), then the nonce, which a node accepts once
 * (a shared-memory table of the nonces seen, kept until their time is up,
 * for all the node's workers).  A valid assertion makes the request's
 * caller the asserted layer for api_led_callers; anything else (missing,
 * malformed, forged, expired, replayed) leaves it "client".  The header is
 * removed from every incoming request of an API location or a location
 * with a key, valid or not: it never goes further (the next hop gets a
 * fresh one from a signing location).
 */


#include "ngx_api_led.h"
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>


#define NGX_API_LED_CALLER_KEY_MIN     32
#define NGX_API_LED_CALLER_KEY_MAX     256
#define NGX_API_LED_CALLER_NONCE       16      /* bytes */
#define NGX_API_LED_CALLER_NONCE_B64   22      /* base64url characters */
#define NGX_API_LED_CALLER_SIG_B64     43
#define NGX_API_LED_CALLER_VALUE_MAX   256

#define NGX_API_LED_CALLER_UNCHECKED   0
#define NGX_API_LED_CALLER_NONE        1       /* no header */
#define NGX_API_LED_CALLER_VALID       2
#define NGX_API_LED_CALLER_INVALID     3


typedef struct {
    ngx_str_t                    file;
    u_char                      *data;
    size_t                       len;
} ngx_api_led_caller_secret_t;


typedef struct {
    ngx_api_led_caller_secret_t *secret;      /* NULL: none */
    ngx_flag_t                   sign;
    time_t                       max_age;
    ngx_uint_t                   log_level;   /* api_led_callers_log_level */
} ngx_api_led_caller_loc_conf_t;


/* the nonces seen, in shared memory */

typedef struct {
    ngx_rbtree_node_t            node;        /* key: the nonce's first bytes */
    ngx_queue_t                  queue;       /* oldest last */
    time_t                       expire;
    u_char                       nonce[NGX_API_LED_CALLER_NONCE];
} ngx_api_led_caller_seen_t;


typedef ngx_api_led_shm_tree_t  ngx_api_led_caller_shctx_t;
typedef ngx_api_led_shm_zone_t  ngx_api_led_caller_zone_t;


typedef struct {
    ngx_shm_zone_t              *shm_zone;    /* NULL: no key anywhere */
    size_t                       zone_size;
} ngx_api_led_caller_main_conf_t;


static ngx_int_t ngx_api_led_caller_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_caller_init_process(ngx_cycle_t *cycle);
static void *ngx_api_led_caller_create_main_conf(ngx_conf_t *cf);
static char *ngx_api_led_caller_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_api_led_caller_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_caller_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_caller_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_caller_read_key(ngx_conf_t *cf,
    ngx_api_led_caller_secret_t *secret);
static ngx_int_t ngx_api_led_caller_preaccess(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_caller_subrequest(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, ngx_api_led_loc_conf_t *llcf);
static ngx_int_t ngx_api_led_caller_precontent(ngx_http_request_t *r);
static ngx_int_t ngx_api_led_caller_check(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static void ngx_api_led_caller_refused(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, const char *why);
static const char *ngx_api_led_caller_verify(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, ngx_str_t *value, ngx_str_t *cid,
    ngx_uint_t *layer, ngx_str_t *api);
static ngx_int_t ngx_api_led_caller_mac(ngx_api_led_caller_secret_t *secret,
    ngx_uint_t layer, ngx_str_t *api, ngx_str_t *cid, ngx_str_t *ts,
    ngx_str_t *nonce, u_char *sig);
static ngx_int_t ngx_api_led_caller_seen(ngx_http_request_t *r,
    u_char *nonce, time_t expire);
static ngx_uint_t ngx_api_led_caller_layer_of(ngx_str_t *name);
static void ngx_api_led_caller_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


static ngx_str_t  ngx_api_led_caller_header = ngx_string("API-Led-Caller");
static ngx_api_led_edit_name_t  ngx_api_led_caller_name =
    { ngx_string("API-Led-Caller"), ngx_string("api-led-caller"), 0 };
static ngx_str_t  ngx_api_led_caller_zone_name =
    ngx_string("api_led_caller_key");

/* the layers an assertion names, by NGX_API_LED_LAYER_* */
static ngx_str_t  ngx_api_led_caller_layers[] = {
    ngx_null_string,
    ngx_string("experience"),
    ngx_string("process"),
    ngx_string("system")
};


/* nonces: a random prefix per worker, then a counter */
static u_char    ngx_api_led_caller_prefix[8];
static uint64_t  ngx_api_led_caller_counter;


static ngx_command_t  ngx_api_led_caller_commands[] = {

    { ngx_string("api_led_caller_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_caller_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_callers_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_caller_loc_conf_t, log_level),
      ngx_api_led_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_caller_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_caller_init,               /* postconfiguration */

    ngx_api_led_caller_create_main_conf,   /* create main configuration */
    ngx_api_led_caller_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_caller_create_loc_conf,    /* create location configuration */
    ngx_api_led_caller_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_api_led_caller_module = {
    NGX_MODULE_V1,
    &ngx_api_led_caller_module_ctx,        /* module context */
    ngx_api_led_caller_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_caller_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The caller of a client's request as far as the layer contract goes:
 * the layer a valid assertion names, else the client (NGX_API_LED_LAYER_*
 * or "client_index").  The assertion is checked once per request.
 */

ngx_uint_t
ngx_api_led_caller_of(ngx_http_request_t *r, ngx_uint_t client_index)
{
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return client_index;
    }

    if (ctx->caller_state == NGX_API_LED_CALLER_UNCHECKED
        && ngx_api_led_caller_check(r, ctx) != NGX_OK)
    {
        return client_index;
    }

    if (ctx->caller_state == NGX_API_LED_CALLER_VALID) {
        return ctx->caller_layer;
    }

    return client_index;
}


/*
 * The level of the layer contract's log lines, api_led_callers_log_level:
 * a refused assertion (here) and a refused caller (ngx_api_led_layer.c).
 */

ngx_uint_t
ngx_api_led_callers_log_level(ngx_http_request_t *r)
{
    ngx_api_led_caller_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_caller_module);

    return lcf->log_level;
}


/* the API a valid assertion named, for log lines; NULL: none */

ngx_str_t *
ngx_api_led_caller_api(ngx_http_request_t *r)
{
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);

    if (ctx == NULL || ctx->caller_state != NGX_API_LED_CALLER_VALID) {
        return NULL;
    }

    return &ctx->caller_api;
}


/*
 * The preaccess phase: a client's request has its assertion checked (or,
 * without a key, removed) before anything else looks at its callers.
 */

static ngx_int_t
ngx_api_led_caller_preaccess(ngx_http_request_t *r)
{
    ngx_api_led_ctx_t              *ctx;
    ngx_api_led_loc_conf_t         *llcf;
    ngx_api_led_caller_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_caller_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (r != r->main) {
        return ngx_api_led_caller_subrequest(r, lcf, llcf);
    }

    if (lcf->secret == NULL && llcf->api.len == 0 && !llcf->forwards) {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->caller_state == NGX_API_LED_CALLER_UNCHECKED
        && ngx_api_led_caller_check(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * the client's, seen in the one look at its headers; after an internal
     * redirect, also those a policy of the first location set
     */
    ngx_api_led_request_headers(r, ctx);

    /* a composition's parts get these headers: cleaned as an API's */

    if ((llcf->api.len || llcf->forwards)
        && (ctx->consumer_headers || r->internal))
    {
        if (ngx_api_led_strip_consumer(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DECLINED;
}


/*
 * Who the consumer is, only the gateway says: a client's X-Consumer-*
 * headers go, whatever api_led_consumer_headers says (which sets the
 * gateway's own later, in the access phase).
 */

ngx_int_t
ngx_api_led_strip_consumer(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_str_t         names[8];
    ngx_uint_t        i, j, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->headers_in.headers.nalloc == 0) {
        /* HTTP/0.9: no headers */
        return NGX_OK;
    }

    do {
        n = 0;

        for (part = &r->headers_in.headers.part; part; part = part->next) {
            h = part->elts;

            for (i = 0; i < part->nelts; i++) {

                if (h[i].hash == 0
                    || h[i].key.len <= sizeof("X-Consumer-") - 1
                    || !ngx_api_led_header_name_is(h[i].key.data,
                                                   (u_char *) "X-Consumer-",
                                                   sizeof("X-Consumer-") - 1))
                {
                    continue;
                }

                for (j = 0; j < n; j++) {
                    if (names[j].len == h[i].key.len
                        && ngx_api_led_header_name_is(names[j].data,
                                                      h[i].key.data,
                                                      h[i].key.len))
                    {
                        break;
                    }
                }

                if (j == n && n < 8) {
                    names[n++] = h[i].key;
                }
            }
        }

        for (j = 0; j < n; j++) {
            if (ngx_api_led_edit_headers_in_remove(r, &names[j]) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        /* more than 8 names: again, until none is left */

    } while (n == 8);

    if (r == r->main) {
        ctx->consumer_cleaned = 1;
    }

    return NGX_OK;
}


/*
 * A subrequest that is no part of a composition (auth_request, mirror,
 * SSI) from a location that cleaned nothing carries the client's headers
 * as they came: into an API location or a location with a key, the
 * client's X-Consumer-* and API-Led-Caller go from its own copy of them,
 * as they would from a client's request there.
 */

static ngx_int_t
ngx_api_led_caller_subrequest(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, ngx_api_led_loc_conf_t *llcf)
{
    ngx_api_led_ctx_t  *ctx;

    if ((llcf->api.len == 0 && lcf->secret == NULL)
        || r->headers_in.headers.nalloc == 0)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_api_led_request_headers(r, ctx);

    if (ctx->consumer_headers && !ctx->consumer_cleaned
        && ngx_api_led_strip_consumer(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the client's, never checked (a gateway's is set later, precontent) */

    if (ctx->caller_header
        && ctx->caller_state == NGX_API_LED_CALLER_UNCHECKED
        && ngx_api_led_edit_headers_in_remove(r, &ngx_api_led_caller_header)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * Checks the request's assertion (at most one header; more than one is
 * invalid) and removes every API-Led-Caller header: none goes on.
 */

static ngx_int_t
ngx_api_led_caller_check(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_str_t                       api, *value, *cid;
    ngx_uint_t                      layer, n;
    const char                     *why;
    ngx_table_elt_t                *h;
    ngx_api_led_header_iter_t       it;
    ngx_api_led_caller_loc_conf_t  *lcf;

    ctx->caller_state = NGX_API_LED_CALLER_NONE;

    if (r != r->main || r->headers_in.headers.nalloc == 0) {
        /* a subrequest, or an HTTP/0.9 request without headers */
        return NGX_OK;
    }

    ngx_api_led_request_headers(r, ctx);

    if (!ctx->caller_header) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_caller_module);

    value = NULL;
    n = 0;
    it.part = NULL;

    while ((h = ngx_api_led_header_next(&r->headers_in.headers,
                                        &ngx_api_led_caller_header, &it)))
    {
        value = &h->value;
        n++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    ctx->caller_state = NGX_API_LED_CALLER_INVALID;

    if (lcf->secret == NULL) {
        why = "no api_led_caller_key here";

    } else if (n > 1) {
        why = "more than one header";

    } else {
        cid = ngx_api_led_correlation_id(r);
        if (cid == NULL) {
            return NGX_ERROR;
        }

        why = ngx_api_led_caller_verify(r, lcf, value, cid, &layer, &api);
        if (why == NULL) {
            ctx->caller_state = NGX_API_LED_CALLER_VALID;
            ctx->caller_layer = layer;
            ctx->caller_api = api;
        }
    }

    if (why) {
        ngx_api_led_caller_refused(r, lcf, why);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led: caller assertion of api \"%V\", layer %V",
                       &ctx->caller_api,
                       &ngx_api_led_caller_layers[ctx->caller_layer]);
    }

    /* the value is kept in ctx->caller_api; the header goes */
    return ngx_api_led_edit_headers_in_remove(r, &ngx_api_led_caller_header);
}


/*
 * Logged at the layer contract's level (api_led_callers_log_level).  The
 * request goes on to its authentication, which has not yet hidden a key
 * or token of the query: the line names the method and path, not the
 * request line nginx would add.
 */

static void
ngx_api_led_caller_refused(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, const char *why)
{
    u_char     *q;
    size_t      line;
    ngx_str_t   path;

    /* the client's path as it came (decoded, a "%0A" would be a newline) */

    path = r->unparsed_uri;

    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q) {
        path.len = q - path.data;
    }

    line = r->request_line.len;
    r->request_line.len = 0;

    ngx_log_error(lcf->log_level, r->connection->log, 0,
                  "api_led: caller assertion refused (%s), the request "
                  "counts as a client's: %V %V", why, &r->method_name,
                  &path);

    r->request_line.len = line;
}


/*
 * NULL when the value is a valid assertion of this request (its layer and
 * API set), else why not.  Signature first: nothing unverified is looked
 * up or remembered.
 */

static const char *
ngx_api_led_caller_verify(ngx_http_request_t *r,
    ngx_api_led_caller_loc_conf_t *lcf, ngx_str_t *value, ngx_str_t *cid,
    ngx_uint_t *layer, ngx_str_t *api)
{
    u_char     *p, *last, mac[NGX_API_LED_CALLER_SIG_B64 + 1];
    u_char      nonce[NGX_API_LED_CALLER_NONCE + 2];
    time_t      ts, now;
    ngx_int_t   rc;
    ngx_str_t   name, tstext, nonce64, sig, raw;

    if (value->len > NGX_API_LED_CALLER_VALUE_MAX
        || value->len < sizeof("v1;layer=;api=;ts=;nonce=;sig=") - 1
        || ngx_strncmp(value->data, "v1;layer=", 9) != 0)
    {
        return "malformed";
    }

    p = value->data + 9;
    last = value->data + value->len;

    /* layer=NAME;api=NAME;ts=DIGITS;nonce=B64;sig=B64, in this order */

    name.data = p;
    while (p < last && *p != ';') { p++; }
    name.len = p - name.data;

    *layer = ngx_api_led_caller_layer_of(&name);

    if (*layer == NGX_API_LED_LAYER_NONE
        || last - p < 5 || ngx_strncmp(p, ";api=", 5) != 0)
    {
        return "malformed";
    }

    p += 5;
    api->data = p;

    while (p < last
           && (isalnum(*p) || *p == '-' || *p == '_' || *p == '.'))
    {
        p++;
    }

    api->len = p - api->data;

    if (api->len == 0 || api->len > 64
        || last - p < 4 || ngx_strncmp(p, ";ts=", 4) != 0)
    {
        return "malformed";
    }

    p += 4;
    tstext.data = p;

    while (p < last && *p >= '0' && *p <= '9') { p++; }

    tstext.len = p - tstext.data;

    if (tstext.len == 0 || tstext.len > 10
        || last - p < 7 || ngx_strncmp(p, ";nonce=", 7) != 0)
    {
        return "malformed";
    }

    p += 7;
    nonce64.data = p;
    nonce64.len = NGX_API_LED_CALLER_NONCE_B64;
    p += NGX_API_LED_CALLER_NONCE_B64;

    if (p > last || last - p != 5 + NGX_API_LED_CALLER_SIG_B64
        || ngx_strncmp(p, ";sig=", 5) != 0)
    {
        return "malformed";
    }

    sig.data = p + 5;
    sig.len = NGX_API_LED_CALLER_SIG_B64;

    raw.data = nonce;

    if (ngx_decode_base64url(&raw, &nonce64) != NGX_OK
        || raw.len != NGX_API_LED_CALLER_NONCE)
    {
        return "malformed";
    }

    if (ngx_api_led_caller_mac(lcf->secret, *layer, api, cid, &tstext,
                               &nonce64, mac)
        != NGX_OK)
    {
        return "internal error";
    }

    if (CRYPTO_memcmp(mac, sig.data, NGX_API_LED_CALLER_SIG_B64) != 0) {
        return "bad signature";
    }

    ts = ngx_atotm(tstext.data, tstext.len);
    now = ngx_time();

    if (ts == NGX_ERROR || ts > now + lcf->max_age
        || ts < now - lcf->max_age)
    {
        return "expired";
    }

    rc = ngx_api_led_caller_seen(r, nonce, ts + lcf->max_age);

    if (rc == NGX_DECLINED) {
        return "replayed";
    }

    if (rc != NGX_OK) {
        return "the replay table is full";
    }

    return NULL;
}


/* the signature, base64url without padding, into sig (43 bytes + NUL) */

static ngx_int_t
ngx_api_led_caller_mac(ngx_api_led_caller_secret_t *secret,
    ngx_uint_t layer, ngx_str_t *api, ngx_str_t *cid, ngx_str_t *ts,
    ngx_str_t *nonce, u_char *sig)
{
    u_char        *p, msg[512], md[EVP_MAX_MD_SIZE];
    unsigned int   mdlen;
    ngx_str_t      src, dst;

    if (api->len + cid->len + ts->len + nonce->len + 64 > sizeof(msg)) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(msg, "api-led-caller v1\n%V\n%V\n%V\n%V\n%V",
                    &ngx_api_led_caller_layers[layer], api, cid, ts, nonce);

    if (HMAC(EVP_sha256(), secret->data, (int) secret->len, msg, p - msg, md,
             &mdlen)
        == NULL || mdlen != 32)
    {
        return NGX_ERROR;
    }

    src.data = md;
    src.len = mdlen;
    dst.data = sig;

    ngx_encode_base64url(&dst, &src);

    return (dst.len == NGX_API_LED_CALLER_SIG_B64) ? NGX_OK : NGX_ERROR;
}


/*
 * A nonce is accepted once by this node: NGX_OK (now remembered until
 * "expire"), NGX_DECLINED (seen), NGX_ERROR (the table is full of nonces
 * whose time is not up: refused rather than forgotten).
 */

static ngx_int_t
ngx_api_led_caller_seen(ngx_http_request_t *r, u_char *nonce, time_t expire)
{
    time_t                           now;
    uint32_t                         hash;
    ngx_int_t                        rc;
    ngx_queue_t                     *q;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_api_led_caller_zone_t       *zone;
    ngx_api_led_caller_seen_t       *seen;
    ngx_api_led_caller_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_api_led_caller_module);
    zone = cmcf->shm_zone->data;

    hash = ngx_crc32_short(nonce, NGX_API_LED_CALLER_NONCE);
    now = ngx_time();

    ngx_shmtx_lock(&zone->shpool->mutex);

    /* the nonces whose time is up go, oldest first */

    while (!ngx_queue_empty(&zone->sh->queue)) {
        q = ngx_queue_last(&zone->sh->queue);
        seen = ngx_queue_data(q, ngx_api_led_caller_seen_t, queue);

        if (seen->expire >= now) {
            break;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&zone->sh->rbtree, &seen->node);
        ngx_slab_free_locked(zone->shpool, seen);
    }

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        seen = (ngx_api_led_caller_seen_t *) node;

        rc = ngx_memcmp(nonce, seen->nonce, NGX_API_LED_CALLER_NONCE);

        if (rc == 0) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_DECLINED;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    seen = ngx_slab_alloc_locked(zone->shpool,
                                 sizeof(ngx_api_led_caller_seen_t));
    if (seen == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "api_led: the api_led_caller_key zone is full: an "
                      "assertion was refused (zone=SIZE)");
        return NGX_ERROR;
    }

    seen->node.key = hash;
    seen->expire = expire;
    ngx_memcpy(seen->nonce, nonce, NGX_API_LED_CALLER_NONCE);

    ngx_rbtree_insert(&zone->sh->rbtree, &seen->node);
    ngx_queue_insert_head(&zone->sh->queue, &seen->queue);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


static void
ngx_api_led_caller_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_api_led_caller_seen_t   *a, *b;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            a = (ngx_api_led_caller_seen_t *) node;
            b = (ngx_api_led_caller_seen_t *) temp;

            p = (ngx_memcmp(a->nonce, b->nonce, NGX_API_LED_CALLER_NONCE) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * The precontent phase of a signing location: the request it proxies
 * carries an assertion of its caller.  The caller is the location of the
 * parent request for a subrequest (the composition whose part this is),
 * the location itself for a client's request; a caller without a layer
 * asserts nothing.
 */

static ngx_int_t
ngx_api_led_caller_precontent(ngx_http_request_t *r)
{
    u_char                         *p, raw[NGX_API_LED_CALLER_NONCE];
    u_char                          tsbuf[NGX_TIME_T_LEN];
    u_char                          nonce[NGX_API_LED_CALLER_NONCE_B64 + 2];
    u_char                          sig[NGX_API_LED_CALLER_SIG_B64 + 1];
    ngx_str_t                       value, ts, n64, src, *cid;
    ngx_api_led_ctx_t              *ctx;
    ngx_api_led_loc_conf_t         *llcf;
    ngx_api_led_caller_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_caller_module);

    if (!lcf->sign || lcf->secret == NULL) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf((r == r->main) ? r : r->parent,
                                        ngx_api_led_module);

    if (llcf->layer == NGX_API_LED_LAYER_NONE || llcf->api.len == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cid = ngx_api_led_correlation_id(r);
    if (cid == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* unique per worker: its random prefix and a counter */

    ngx_memcpy(raw, ngx_api_led_caller_prefix, 8);
    ngx_api_led_caller_counter++;
    ngx_memcpy(raw + 8, &ngx_api_led_caller_counter, 8);

    src.data = raw;
    src.len = NGX_API_LED_CALLER_NONCE;
    n64.data = nonce;
    ngx_encode_base64url(&n64, &src);

    ts.data = tsbuf;
    ts.len = ngx_sprintf(tsbuf, "%T", ngx_time()) - tsbuf;

    if (ngx_api_led_caller_mac(lcf->secret, llcf->layer, &llcf->api, cid,
                               &ts, &n64, sig)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "api_led: the caller assertion could not be signed");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = sizeof("v1;layer=;api=;ts=;nonce=;sig=") - 1
                + ngx_api_led_caller_layers[llcf->layer].len + llcf->api.len
                + ts.len + n64.len + NGX_API_LED_CALLER_SIG_B64;

    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(value.data, "v1;layer=%V;api=%V;ts=%V;nonce=%V;sig=%*s",
                    &ngx_api_led_caller_layers[llcf->layer], &llcf->api,
                    &ts, &n64, (size_t) NGX_API_LED_CALLER_SIG_B64, sig);

    value.len = p - value.data;

    if (ngx_api_led_edit_headers_in_set(r, &ngx_api_led_caller_name, &value,
                                        0)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_api_led_caller_layer_of(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = NGX_API_LED_LAYER_EXPERIENCE; i <= NGX_API_LED_LAYER_SYSTEM; i++)
    {
        if (name->len == ngx_api_led_caller_layers[i].len
            && ngx_strncmp(name->data, ngx_api_led_caller_layers[i].data,
                           name->len) == 0)
        {
            return i;
        }
    }

    return NGX_API_LED_LAYER_NONE;
}


/* configuration */

static ngx_int_t
ngx_api_led_caller_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_api_led_caller_main_conf_t  *ccf;

    ngx_api_led_caller_name.hash =
        ngx_hash_key(ngx_api_led_caller_name.lowcase.data,
                     ngx_api_led_caller_name.lowcase.len);

    ccf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_caller_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* the header goes from every API location's requests */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_api_led_caller_preaccess;

    if (ccf->shm_zone == NULL) {
        return NGX_OK;
    }

    return ngx_api_led_add_precontent(cf, ngx_api_led_caller_precontent);
}


static ngx_int_t
ngx_api_led_caller_init_process(ngx_cycle_t *cycle)
{
    if (RAND_bytes(ngx_api_led_caller_prefix,
                   sizeof(ngx_api_led_caller_prefix))
        != 1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "api_led: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ngx_api_led_caller_counter = 0;

    return NGX_OK;
}


static void *
ngx_api_led_caller_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_caller_main_conf_t  *ccf;

    ccf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_caller_main_conf_t));
    if (ccf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     ccf->shm_zone = NULL;
     *     ccf->zone_size = 0;
     */

    return ccf;
}


/* the replay table: one zone for the configuration, the largest zone= */

static char *
ngx_api_led_caller_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_caller_main_conf_t *ccf = conf;

    ngx_api_led_caller_zone_t  *zone;

    if (ccf->zone_size == 0) {
        return NGX_CONF_OK;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_caller_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ccf->shm_zone = ngx_shared_memory_add(cf, &ngx_api_led_caller_zone_name,
                                          ccf->zone_size,
                                          &ngx_api_led_caller_module);
    if (ccf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->insert = ngx_api_led_caller_insert_value;
    zone->log_ctx = " in api_led_caller_key zone";

    ccf->shm_zone->init = ngx_api_led_shm_zone_init;
    ccf->shm_zone->data = zone;

    return NGX_CONF_OK;
}


static void *
ngx_api_led_caller_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_caller_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_caller_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->secret = NGX_CONF_UNSET_PTR;
    conf->sign = NGX_CONF_UNSET;
    conf->max_age = NGX_CONF_UNSET;
    conf->log_level = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_caller_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_caller_loc_conf_t  *prev = parent;
    ngx_api_led_caller_loc_conf_t  *conf = child;

    if (conf->secret == NGX_CONF_UNSET_PTR) {
        conf->secret = prev->secret;
        conf->sign = prev->sign;
        conf->max_age = prev->max_age;
    }

    ngx_conf_merge_ptr_value(conf->secret, prev->secret, NULL);
    ngx_conf_merge_value(conf->sign, prev->sign, 0);
    ngx_conf_merge_value(conf->max_age, prev->max_age, 30);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_INFO);

    return NGX_CONF_OK;
}


/* api_led_caller_key FILE [sign] [max_age=TIME] [zone=SIZE] */

static char *
ngx_api_led_caller_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_caller_loc_conf_t *lcf = conf;

    ssize_t                          size;
    ngx_int_t                        age;
    ngx_str_t                       *value, s;
    ngx_uint_t                       i;
    ngx_api_led_caller_main_conf_t  *ccf;

    if (lcf->secret != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ccf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_caller_module);

    lcf->secret = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_caller_secret_t));
    if (lcf->secret == NULL) {
        return NGX_CONF_ERROR;
    }

    lcf->secret->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &lcf->secret->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_caller_read_key(cf, lcf->secret) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lcf->sign = 0;
    lcf->max_age = 30;
    size = 4 * 1024 * 1024;

    for (i = 2; i < cf->args->nelts; i++) {

        if (value[i].len == 4 && ngx_strncmp(value[i].data, "sign", 4) == 0) {
            lcf->sign = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            age = ngx_parse_time(&s, 1);

            if (age == NGX_ERROR || age < 1 || age > 3600) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": 1s to 1h", &value[i]);
                return NGX_CONF_ERROR;
            }

            lcf->max_age = age;
            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": at least %uzk",
                                   &value[i], 8 * ngx_pagesize / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if ((size_t) size > ccf->zone_size) {
        ccf->zone_size = size;
    }

    return NGX_CONF_OK;
}


/*
 * The key file: the shared secret as text, its first line, 32 to 256
 * printable characters ("openssl rand -hex 32 > FILE").  Text, so that no
 * byte of the key is taken for the end of a line.
 */

static ngx_int_t
ngx_api_led_caller_read_key(ngx_conf_t *cf,
    ngx_api_led_caller_secret_t *secret)
{
    u_char           buf[NGX_API_LED_CALLER_KEY_MAX + 2];
    ssize_t          n, i;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    fd = ngx_open_file(secret->file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &secret->file);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = secret->file;
    file.log = cf->log;

    n = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR) {
        if (fi.st_mode & (S_IROTH|S_IWOTH)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "the caller key \"%V\" can be read by anyone",
                               &secret->file);
        }

        n = ngx_read_file(&file, buf, sizeof(buf), 0);
    }

    ngx_close_file(fd);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read the caller key \"%V\"",
                           &secret->file);
        return NGX_ERROR;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                     || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        n--;
    }

    for (i = 0; i < n; i++) {
        if (buf[i] < 0x21 || buf[i] > 0x7e) {
            n = -1;
            break;
        }
    }

    if (n < NGX_API_LED_CALLER_KEY_MIN || n > NGX_API_LED_CALLER_KEY_MAX) {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the caller key \"%V\" must be one line of %d to "
                           "%d printable characters (openssl rand -hex 32)",
                           &secret->file, NGX_API_LED_CALLER_KEY_MIN,
                           NGX_API_LED_CALLER_KEY_MAX);
        return NGX_ERROR;
    }

    secret->data = ngx_pnalloc(cf->pool, n);
    if (secret->data == NULL) {
        ngx_explicit_memzero(buf, sizeof(buf));
        return NGX_ERROR;
    }

    ngx_memcpy(secret->data, buf, n);
    secret->len = n;

    ngx_explicit_memzero(buf, sizeof(buf));

    return NGX_OK;
}
