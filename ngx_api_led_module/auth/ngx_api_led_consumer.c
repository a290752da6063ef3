
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Consumers, plans and API keys: the consumers store (the file is read in
 * ngx_api_led_consumer_file.c), the API-key check the authentication
 * dispatcher calls (ngx_api_led_auth.c), hiding the key from the upstream,
 * and the $api_led_consumer_meta_NAME variables.
 */


#include "ngx_api_led_consumer.h"


/* what the request presented */
typedef struct {
    ngx_str_t                    key;
    unsigned                     in_header:1;
    unsigned                     in_query:1;
    unsigned                     ambiguous:1;
    unsigned                     malformed:1;  /* a query key's escapes */
} ngx_api_led_credential_t;


static ngx_int_t ngx_api_led_consumer_add_variables(ngx_conf_t *cf);
static void *ngx_api_led_consumer_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_consumer_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_consumer_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);

static char *ngx_api_led_key_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_api_led_credential_read(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred);
static ngx_int_t ngx_api_led_credential_add(ngx_http_request_t *r,
    ngx_api_led_credential_t *cred, ngx_str_t *value, ngx_uint_t unescape);
static ngx_api_led_consumer_t *ngx_api_led_key_lookup(
    ngx_api_led_consumer_main_conf_t *mcf, ngx_str_t *key);
static ngx_int_t ngx_api_led_credential_hide(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred);
static ngx_int_t ngx_api_led_key_refuse(ngx_http_request_t *r,
    ngx_api_led_auth_refusal_t *rf, const char *code, const char *detail);

static ngx_int_t ngx_api_led_variable_consumer_meta(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_api_led_method_key = ngx_string("key");

static ngx_str_t  ngx_api_led_meta_prefix =
    ngx_string("api_led_consumer_meta_");


static ngx_command_t  ngx_api_led_consumer_commands[] = {

    { ngx_string("api_led_consumers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_consumers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_key_source"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_key_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_key_hide"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_consumer_loc_conf_t, hide),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_consumer_module_ctx = {
    ngx_api_led_consumer_add_variables,    /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_consumer_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_consumer_create_loc_conf,  /* create location configuration */
    ngx_api_led_consumer_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_api_led_consumer_module = {
    NGX_MODULE_V1,
    &ngx_api_led_consumer_module_ctx,      /* module context */
    ngx_api_led_consumer_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_api_led_consumer_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_api_led_meta_prefix,
                                NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_api_led_variable_consumer_meta;

    return NGX_OK;
}


static void *
ngx_api_led_consumer_create_main_conf(ngx_conf_t *cf)
{
    ngx_api_led_key_source_t          *src;
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_consumer_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->file = { 0, NULL };
     *     mcf->plans = NULL;
     *     mcf->consumers = NULL;
     *     mcf->keys = NULL;
     *     ...
     */

    mcf->default_sources = ngx_array_create(cf->pool, 1,
                                            sizeof(ngx_api_led_key_source_t));
    if (mcf->default_sources == NULL) {
        return NULL;
    }

    src = ngx_array_push(mcf->default_sources);
    if (src == NULL) {
        return NULL;
    }

    src->type = NGX_API_LED_SOURCE_HEADER;
    ngx_str_set(&src->name, "X-API-Key");

    return mcf;
}


static void *
ngx_api_led_consumer_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_consumer_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_consumer_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->query_names = NULL;
     */

    conf->sources = NGX_CONF_UNSET_PTR;
    conf->hide = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_api_led_consumer_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_consumer_loc_conf_t  *prev = parent;
    ngx_api_led_consumer_loc_conf_t  *conf = child;

    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_consumer_module);

    if (conf->sources == NGX_CONF_UNSET_PTR) {
        conf->sources = prev->sources;
        conf->query_names = prev->query_names;
    }

    if (conf->sources == NGX_CONF_UNSET_PTR) {
        conf->sources = mcf->default_sources;
        conf->query_names = NULL;
    }

    ngx_conf_merge_value(conf->hide, prev->hide, 1);

    return NGX_CONF_OK;
}


/* api_led_key_source header:NAME | query:NAME ... */

static char *
ngx_api_led_key_source(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_consumer_loc_conf_t *lcf = conf;

    u_char                    ch;
    ngx_str_t                *value, name, *qn;
    ngx_uint_t                i, j, type;
    ngx_api_led_key_source_t *src;

    if (lcf->sources != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    lcf->sources = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_api_led_key_source_t));
    if (lcf->sources == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "header:", 7) == 0) {
            type = NGX_API_LED_SOURCE_HEADER;
            name.data = value[i].data + 7;
            name.len = value[i].len - 7;

        } else if (ngx_strncmp(value[i].data, "query:", 6) == 0) {
            type = NGX_API_LED_SOURCE_QUERY;
            name.data = value[i].data + 6;
            name.len = value[i].len - 6;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid key source \"%V\", must be "
                               "\"header:NAME\" or \"query:NAME\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key source \"%V\" has no name", &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < name.len; j++) {
            ch = name.data[j];

            if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.') {
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid name in key source \"%V\": use "
                               "letters, digits, \"-\", \"_\" and \".\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        src = ngx_array_push(lcf->sources);
        if (src == NULL) {
            return NGX_CONF_ERROR;
        }

        src->type = type;
        src->name = name;

        if (type != NGX_API_LED_SOURCE_QUERY) {
            continue;
        }

        if (lcf->query_names == NULL) {
            lcf->query_names = ngx_array_create(cf->pool, 1,
                                                sizeof(ngx_str_t));
            if (lcf->query_names == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        qn = ngx_array_push(lcf->query_names);
        if (qn == NULL) {
            return NGX_CONF_ERROR;
        }

        *qn = name;
    }

    return NGX_CONF_OK;
}


ngx_api_led_consumer_t *
ngx_api_led_consumer_find(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_api_led_consumer_module);

    return ngx_api_led_consumers_lookup(mcf, id);
}


ngx_api_led_consumer_t *
ngx_api_led_consumer_find_conf(ngx_conf_t *cf, ngx_str_t *id)
{
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_consumer_module);

    return ngx_api_led_consumers_lookup(mcf, id);
}


ngx_str_t *
ngx_api_led_consumers_file(ngx_conf_t *cf)
{
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_consumer_module);

    return &mcf->file;
}


/*
 * The API key of the request: the consumer it belongs to, or a refusal
 * (an unknown key, different keys in several sources).  The key is hidden
 * from the upstream before anything is logged.
 */

ngx_int_t
ngx_api_led_key_authenticate(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx,
    ngx_api_led_auth_refusal_t *rf)
{
    ngx_api_led_consumer_t            *consumer;
    ngx_api_led_credential_t           cred;
    ngx_api_led_consumer_loc_conf_t   *lcf;
    ngx_api_led_consumer_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_consumer_module);

    if (ngx_api_led_credential_read(r, lcf, &cred) != NGX_OK) {
        return NGX_ERROR;
    }

    if (lcf->hide && (cred.in_header || cred.in_query)) {
        if (ngx_api_led_credential_hide(r, lcf, &cred) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (cred.ambiguous) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: the request carries different API keys");

        return ngx_api_led_key_refuse(r, rf, "ambiguous_credentials",
                                      "the request carries more than one "
                                      "API key");
    }

    if (cred.key.data == NULL && !cred.malformed) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_api_led_consumer_module);

    consumer = cred.malformed ? NULL
                              : ngx_api_led_key_lookup(mcf, &cred.key);

    if (consumer == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: invalid API key");

        return ngx_api_led_key_refuse(r, rf, "invalid_api_key",
                                      "the API key is not valid");
    }

    ctx->consumer = consumer;
    ctx->consumer_id = consumer->id;
    ctx->auth_method = ngx_api_led_method_key;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_key_refuse(ngx_http_request_t *r, ngx_api_led_auth_refusal_t *rf,
    const char *code, const char *detail)
{
    rf->status = NGX_HTTP_UNAUTHORIZED;
    rf->code = code;
    rf->detail = detail;
    rf->schemes = NGX_API_LED_AUTH_KEY;

    return NGX_API_LED_AUTH_REFUSED;
}


/*
 * Collects the key from every configured source.  The same key in several
 * places is one key; two different values make the request ambiguous.
 */

static ngx_int_t
ngx_api_led_credential_read(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred)
{
    u_char                     *p, *last, *name, *value, *end;
    ngx_str_t                   v;
    ngx_uint_t                  k;
    ngx_table_elt_t            *h;
    ngx_api_led_key_source_t   *src;
    ngx_api_led_header_iter_t   it;

    ngx_memzero(cred, sizeof(ngx_api_led_credential_t));

    src = lcf->sources->elts;

    for (k = 0; k < lcf->sources->nelts; k++) {

        if (src[k].type == NGX_API_LED_SOURCE_HEADER) {

            it.part = NULL;

            while ((h = ngx_api_led_header_next(&r->headers_in.headers,
                                                &src[k].name, &it)))
            {
                cred->in_header = 1;

                if (ngx_api_led_credential_add(r, cred, &h->value, 0)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }
            }

            continue;
        }

        /*
         * query: every "name=value" of the arguments, names compared
         * decoded ("api%5Fkey" too), case-insensitively as $arg_NAME
         */

        if (r->args.len == 0) {
            continue;
        }

        p = r->args.data;
        last = p + r->args.len;

        while (p < last) {
            name = p;

            end = ngx_strlchr(p, last, '&');
            if (end == NULL) {
                end = last;
            }

            value = ngx_strlchr(name, end, '=');

            if (value == NULL) {
                v.len = 0;
                v.data = end;
                value = end;

            } else {
                v.data = value + 1;
                v.len = end - v.data;
            }

            if (ngx_api_led_arg_name_is(name, value - name, &src[k].name)) {
                cred->in_query = 1;

                if (ngx_api_led_credential_add(r, cred, &v, 1) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            p = end + 1;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_credential_add(ngx_http_request_t *r,
    ngx_api_led_credential_t *cred, ngx_str_t *value, ngx_uint_t unescape)
{
    u_char     *src, *dst;
    ngx_str_t   v;

    v = *value;

    if (unescape && !ngx_api_led_arg_escapes_valid(v.data, v.len)) {
        /* no key at all, not the one it would decode to */
        cred->malformed = 1;
        return NGX_OK;
    }

    if (unescape && ngx_strlchr(v.data, v.data + v.len, '%')) {
        dst = ngx_pnalloc(r->pool, v.len);
        if (dst == NULL) {
            return NGX_ERROR;
        }

        src = v.data;
        v.data = dst;

        ngx_unescape_uri(&dst, &src, v.len, 0);

        v.len = dst - v.data;
    }

    if (cred->key.data == NULL) {
        cred->key = v;
        return NGX_OK;
    }

    if (cred->key.len != v.len
        || ngx_memcmp(cred->key.data, v.data, v.len) != 0)
    {
        cred->ambiguous = 1;
    }

    return NGX_OK;
}


/* the first 8 bytes of a digest, in the order of their memcmp() */

static ngx_inline uint64_t
ngx_api_led_digest_prefix(u_char *d)
{
    return (uint64_t) d[0] << 56 | (uint64_t) d[1] << 48
           | (uint64_t) d[2] << 40 | (uint64_t) d[3] << 32
           | (uint64_t) d[4] << 24 | (uint64_t) d[5] << 16
           | (uint64_t) d[6] << 8 | (uint64_t) d[7];
}


/*
 * Keys are found by the SHA-256 digest of the presented key.  The binary
 * search only tells where an unpredictable digest falls among the stored
 * ones, which reveals nothing usable about a key; the final equality is
 * compared in constant time.
 */

static ngx_api_led_consumer_t *
ngx_api_led_key_lookup(ngx_api_led_consumer_main_conf_t *mcf, ngx_str_t *key)
{
    u_char       digest[NGX_API_LED_DIGEST_LEN];
    uint64_t     want, have;
    ngx_uint_t   lo, hi, mid;
    SHA256_CTX   sha;

    if (mcf->nkeys == 0) {
        return NULL;
    }

    SHA256_Init(&sha);
    SHA256_Update(&sha, key->data, key->len);
    SHA256_Final(digest, &sha);

    /* the key's bytes stay in the context: wiped (a memset, not
       OPENSSL_cleanse()'s byte loop) */
    ngx_explicit_memzero(&sha, sizeof(SHA256_CTX));

    /* the first 8 bytes as a number decide almost every step */

    want = ngx_api_led_digest_prefix(digest);

    lo = 0;
    hi = mcf->nkeys;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        have = ngx_api_led_digest_prefix(mcf->keys[mid].digest);

        if (have < want
            || (have == want
                && ngx_memcmp(mcf->keys[mid].digest, digest,
                              NGX_API_LED_DIGEST_LEN) < 0))
        {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (lo < mcf->nkeys
        && ngx_api_led_same(mcf->keys[lo].digest, digest,
                            NGX_API_LED_DIGEST_LEN))
    {
        return mcf->keys[lo].consumer;
    }

    return NULL;
}


/*
 * api_led_key_hide: the key headers leave the request, the key arguments
 * leave $args, $request_uri and $request (see ngx_api_led_args_remove()).
 */

static ngx_int_t
ngx_api_led_credential_hide(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred)
{
    ngx_uint_t                 k;
    ngx_api_led_key_source_t  *src;

    src = lcf->sources->elts;

    if (cred->in_header) {
        for (k = 0; k < lcf->sources->nelts; k++) {
            if (src[k].type == NGX_API_LED_SOURCE_HEADER
                && ngx_api_led_edit_headers_in_remove(r, &src[k].name)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (cred->in_query && lcf->query_names) {
        return ngx_api_led_args_remove(r, lcf->query_names);
    }

    return NGX_OK;
}


/*
 * api_led_key_hide for a request whose key was not read: every key source
 * leaves it (see ngx_api_led_auth_hide()).
 */

ngx_int_t
ngx_api_led_key_hide(ngx_http_request_t *r)
{
    ngx_api_led_credential_t          cred;
    ngx_api_led_consumer_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_consumer_module);

    if (!lcf->hide) {
        return NGX_OK;
    }

    ngx_memzero(&cred, sizeof(ngx_api_led_credential_t));
    cred.in_header = 1;
    cred.in_query = 1;

    return ngx_api_led_credential_hide(r, lcf, &cred);
}


ngx_int_t
ngx_api_led_key_hidden_variables(ngx_conf_t *cf)
{
    ngx_uint_t                        i;
    ngx_api_led_key_source_t         *src;
    ngx_api_led_consumer_loc_conf_t  *lcf;

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_consumer_module);

    if (!lcf->hide) {
        return NGX_OK;
    }

    src = lcf->sources->elts;

    for (i = 0; i < lcf->sources->nelts; i++) {
        if (ngx_api_led_hide_variable(cf,
                                      src[i].type == NGX_API_LED_SOURCE_HEADER
                                      ? "http_" : "arg_",
                                      &src[i].name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * $api_led_consumer_meta_NAME: a metadata field of the consumer.  Variable
 * names are lowercase and cannot hold "-": NAME matches a field whatever
 * its case, "_" matching "_" or "-".
 */

static ngx_int_t
ngx_api_led_variable_consumer_meta(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *var = (ngx_str_t *) data;

    u_char              ch, vc;
    ngx_str_t           name;
    ngx_uint_t          i, n;
    ngx_keyval_t       *kv;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->consumer == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    name.data = var->data + ngx_api_led_meta_prefix.len;
    name.len = var->len - ngx_api_led_meta_prefix.len;

    kv = ctx->consumer->metadata.elts;

    for (i = 0; i < ctx->consumer->metadata.nelts; i++) {

        if (kv[i].key.len != name.len) {
            continue;
        }

        for (n = 0; n < name.len; n++) {
            ch = ngx_tolower(kv[i].key.data[n]);
            vc = name.data[n];

            if (ch == '-') {
                ch = '_';
            }

            if (ch != ngx_tolower(vc)) {
                break;
            }
        }

        if (n < name.len) {
            continue;
        }

        v->len = kv[i].value.len;
        v->valid = 1;
        v->no_cacheable = 1;
        v->not_found = 0;
        v->data = kv[i].value.data;

        return NGX_OK;
    }

    v->not_found = 1;

    return NGX_OK;
}


/* the catalog: where the location being merged looks for an API key */

ngx_int_t
ngx_api_led_key_describe(ngx_conf_t *cf, json_t *auth)
{
    json_t                           *sources;
    ngx_uint_t                        i;
    ngx_api_led_key_source_t         *src;
    ngx_api_led_consumer_loc_conf_t  *lcf;

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_consumer_module);

    sources = json_array();

    if (sources == NULL || json_object_set_new(auth, "key_sources", sources)) {
        return NGX_ERROR;
    }

    src = lcf->sources->elts;

    for (i = 0; i < lcf->sources->nelts; i++) {
        if (json_array_append_new(sources,
                json_pack("{s:s, s:s%}", "in",
                          src[i].type == NGX_API_LED_SOURCE_HEADER
                          ? "header" : "query",
                          "name", src[i].name.data, src[i].name.len)))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the catalog: the plans of the consumers file and their limits */

ngx_int_t
ngx_api_led_consumer_describe_plans(ngx_conf_t *cf)
{
    json_t                            *root, *plans, *plan, *limits;
    ngx_uint_t                         i, k;
    ngx_api_led_rate_t                *rate;
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_consumer_module);
    root = ngx_api_led_catalog_root(cf);

    if (root == NULL || mcf->nplans == 0) {
        return NGX_OK;
    }

    plans = json_object();

    if (plans == NULL || json_object_set_new(root, "plans", plans)) {
        return NGX_ERROR;
    }

    for (i = 0; i < mcf->nplans; i++) {
        limits = json_array();
        plan = json_pack("{s:o}", "limits", limits);

        if (plan == NULL
            || json_object_setn_new(plans, (char *) mcf->plans[i].name.data,
                                    mcf->plans[i].name.len, plan))
        {
            return NGX_ERROR;
        }

        rate = mcf->plans[i].limits.elts;

        for (k = 0; k < mcf->plans[i].limits.nelts; k++) {
            if (json_array_append_new(limits,
                    json_stringn((char *) rate[k].text.data,
                                 rate[k].text.len)))
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}
