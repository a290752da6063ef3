
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JWT verification (JWS compact serialization, RFC 7515/7519): token
 * sources, header checks, key selection without algorithm confusion,
 * claims (exp, nbf, api_led_jwt_require), the identity handed to the
 * other concerns, claim variables and the RFC 6750 answers.  Keys and
 * signatures are in ngx_api_led_jwk.c; the verified-token cache and the
 * remote key sets in ngx_api_led_jwt_keys.c.
 */


#include "ngx_api_led_jwt.h"


#define NGX_API_LED_JWT_SOURCE_HEADER   1
#define NGX_API_LED_JWT_SOURCE_COOKIE   2
#define NGX_API_LED_JWT_SOURCE_QUERY    3

#define NGX_API_LED_JWT_REQ_ISS         1
#define NGX_API_LED_JWT_REQ_AUD         2
#define NGX_API_LED_JWT_REQ_SCOPE       3
#define NGX_API_LED_JWT_REQ_PRESENT     4
#define NGX_API_LED_JWT_REQ_EQUAL       5

#define NGX_API_LED_JWT_MAX_FILE        (1024 * 1024)


typedef struct {
    ngx_uint_t                   type;
    ngx_str_t                    name;
    ngx_int_t                    index;       /* variable, -1: Authorization */
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
    ngx_str_t                    consumer_claim;
    ngx_array_t                 *consumer_pointer;
    size_t                       max_size;
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
    ngx_str_t                    scope;
} ngx_api_led_jwt_reject_t;


static ngx_int_t ngx_api_led_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_api_led_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_api_led_jwt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_api_led_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void ngx_api_led_jwt_cache_cleanup(void *data);

static char *ngx_api_led_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_keys_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_consumer_claim(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_api_led_jwt_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_jwt_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content);
static ngx_array_t *ngx_api_led_jwt_parse_pointer(ngx_conf_t *cf,
    ngx_str_t *text);
static ngx_int_t ngx_api_led_jwt_claim_name_is_valid(ngx_str_t *name);

static ngx_int_t ngx_api_led_jwt_get_token(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_str_t *token);
static ngx_int_t ngx_api_led_jwt_verify(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_req_ctx_t *jctx,
    ngx_str_t *token, u_char *digest, json_t **claims,
    ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_verify_with(ngx_http_request_t *r,
    ngx_api_led_jwks_t *jwks, ngx_str_t *kid, ngx_uint_t alg,
    ngx_str_t *input, ngx_str_t *sig, ngx_uint_t *candidates,
    ngx_uint_t *generation, ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_check_time(json_t *claims, time_t leeway,
    ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_check_requires(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, json_t *claims,
    ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_value_matches(json_t *v, ngx_str_t *value);
static ngx_int_t ngx_api_led_jwt_has_scope(json_t *claim, u_char *scope,
    size_t len);
static json_t *ngx_api_led_jwt_pointer_get(json_t *root,
    ngx_array_t *pointer);
static ngx_int_t ngx_api_led_jwt_render(ngx_pool_t *pool, json_t *v,
    ngx_str_t *out);
static ngx_int_t ngx_api_led_jwt_set_identity(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_ctx_t *ctx,
    json_t *claims);
static ngx_int_t ngx_api_led_jwt_reject(ngx_http_request_t *r,
    ngx_api_led_jwt_reject_t *rj);
static ngx_int_t ngx_api_led_jwt_add_challenge(ngx_http_request_t *r,
    const char *error, const char *description, ngx_str_t *scope);

static ngx_int_t ngx_api_led_jwt_variable_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_jwt_variable_claim_set(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_conf_num_bounds_t  ngx_api_led_jwt_max_size_bounds = {
    ngx_conf_check_num_bounds, 16, 1024 * 1024
};


static ngx_command_t  ngx_api_led_jwt_commands[] = {

    { ngx_string("api_led_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_jwt_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_keys_uri"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_api_led_jwt_keys_uri,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_jwt_algorithms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_source"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_jwt_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_jwt_loc_conf_t, leeway),
      NULL },

    { ngx_string("api_led_jwt_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_jwt_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_consumer_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_api_led_jwt_consumer_claim,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_jwt_loc_conf_t, max_size),
      &ngx_api_led_jwt_max_size_bounds },

    { ngx_string("api_led_jwt_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_api_led_jwt_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_jwt_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_jwt_module_ctx = {
    ngx_api_led_jwt_add_variables,         /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_jwt_create_main_conf,      /* create main configuration */
    ngx_api_led_jwt_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_jwt_create_loc_conf,       /* create location configuration */
    ngx_api_led_jwt_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_api_led_jwt_module = {
    NGX_MODULE_V1,
    &ngx_api_led_jwt_module_ctx,           /* module context */
    ngx_api_led_jwt_commands,              /* module directives */
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


static ngx_str_t  ngx_api_led_jwt_claim_prefix =
    ngx_string("api_led_jwt_claim_");

static ngx_str_t  ngx_api_led_jwt_www_authenticate =
    ngx_string("WWW-Authenticate");


/* configuration */

static ngx_int_t
ngx_api_led_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_api_led_jwt_claim_prefix,
                                NGX_HTTP_VAR_PREFIX|NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_api_led_jwt_variable_claim;

    return NGX_OK;
}


static void *
ngx_api_led_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_pool_cleanup_t           *cln;
    ngx_api_led_jwt_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_jwt_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&jmcf->remotes, cf->pool, 2,
                       sizeof(ngx_api_led_jwt_remote_t *))
        != NGX_OK)
    {
        return NULL;
    }

    jmcf->cache.size = NGX_CONF_UNSET_UINT;

    /* each process frees the cache entries it made with the cycle */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_api_led_jwt_cache_cleanup;
    cln->data = &jmcf->cache;

    return jmcf;
}


static char *
ngx_api_led_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_jwt_main_conf_t *jmcf = conf;

    ngx_conf_init_uint_value(jmcf->cache.size, 0);

    ngx_api_led_jwt_cache_init(&jmcf->cache);

    return NGX_CONF_OK;
}


static void
ngx_api_led_jwt_cache_cleanup(void *data)
{
    ngx_api_led_jwt_cache_free(data);
}


static void *
ngx_api_led_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_jwt_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_jwt_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->consumer_claim = { 0, NULL };
     *     conf->consumer_pointer = NULL;
     */

    conf->keys = NGX_CONF_UNSET_PTR;
    conf->remote = NGX_CONF_UNSET_PTR;
    conf->algorithms = NGX_CONF_UNSET_UINT;
    conf->sources = NGX_CONF_UNSET_PTR;
    conf->leeway = NGX_CONF_UNSET;
    conf->requires = NGX_CONF_UNSET_PTR;
    conf->max_size = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_api_led_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_jwt_loc_conf_t  *prev = parent;
    ngx_api_led_jwt_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->remote, prev->remote, NULL);
    ngx_conf_merge_uint_value(conf->algorithms, prev->algorithms,
                              NGX_API_LED_JWT_ALL_ALGS);
    ngx_conf_merge_ptr_value(conf->sources, prev->sources, NULL);
    ngx_conf_merge_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_ptr_value(conf->requires, prev->requires, NULL);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);

    if (conf->consumer_claim.data == NULL) {
        conf->consumer_claim = prev->consumer_claim;
        conf->consumer_pointer = prev->consumer_pointer;
    }

    if (conf->consumer_claim.data == NULL) {
        ngx_str_set(&conf->consumer_claim, "sub");
    }

    return NGX_CONF_OK;
}


/* api_led_jwt_keys FILE ...: JWKS or PEM files, parsed here, once */

static char *
ngx_api_led_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    u_char               err[NGX_API_LED_JWT_ERRLEN];
    ngx_str_t           *value, content;
    ngx_uint_t           i;
    ngx_api_led_jwks_t  *jwks;

    if (jlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    jwks = ngx_api_led_jwks_create(cf->pool);
    if (jwks == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_conf_full_name(cf->cycle, &value[i], 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (ngx_api_led_jwt_read_file(cf, &value[i], &content) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (ngx_api_led_jwks_parse(jwks, content.data, content.len, 1,
                                   cf->log, err)
            != NGX_OK)
        {
            ngx_explicit_memzero(content.data, content.len);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "api_led_jwt_keys: \"%V\" %s",
                               &value[i], err);
            return NGX_CONF_ERROR;
        }

        /* the file may hold HMAC secrets */
        ngx_explicit_memzero(content.data, content.len);
    }

    jlcf->keys = jwks;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_jwt_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_API_LED_JWT_MAX_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "api_led_jwt_keys: \"%V\" is larger than 1M",
                           name);
        goto done;
    }

    content->len = ngx_file_size(&fi);
    content->data = ngx_pnalloc(cf->temp_pool, content->len + 1);
    if (content->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, content->data, content->len);

    if (n == -1 || (size_t) n != content->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", name);
        goto done;
    }

    content->data[content->len] = '\0';

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return rc;
}


/* api_led_jwt_keys_uri /location [valid=TIME] [kid_refetch=TIME] */

static char *
ngx_api_led_jwt_keys_uri(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    time_t                        valid, kid_refetch;
    ngx_str_t                    *value, s;
    ngx_uint_t                    i;
    ngx_api_led_jwt_main_conf_t  *jmcf;

    if (jlcf->remote != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "api_led_jwt_keys_uri \"%V\" must be the URI of "
                           "a location of this server (starting with \"/\"),"
                           " which proxies to the identity provider",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    valid = 3600;
    kid_refetch = 30;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "valid=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            valid = ngx_parse_time(&s, 1);
            if (valid == (time_t) NGX_ERROR || valid < 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"valid\" value \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "kid_refetch=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            kid_refetch = ngx_parse_time(&s, 1);
            if (kid_refetch == (time_t) NGX_ERROR || kid_refetch < 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"kid_refetch\" value \"%V\", "
                                   "at least 1s", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_jwt_module);

    jlcf->remote = ngx_api_led_jwt_remote_add(cf, jmcf, &value[1], valid,
                                              kid_refetch);
    if (jlcf->remote == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_api_led_jwt_algorithms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    ngx_int_t    alg;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (jlcf->algorithms != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    jlcf->algorithms = 0;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 4
            && ngx_strncasecmp(value[i].data, (u_char *) "none", 4) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the \"none\" algorithm is never accepted");
            return NGX_CONF_ERROR;
        }

        alg = ngx_api_led_jwt_alg_find(value[i].data, value[i].len);
        if (alg == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown JWS algorithm \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        jlcf->algorithms |= (ngx_uint_t) 1 << alg;
    }

    return NGX_CONF_OK;
}


/* api_led_jwt_source header:NAME | cookie:NAME | query:NAME ... */

static char *
ngx_api_led_jwt_source(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    u_char                    *p;
    size_t                     prefix;
    ngx_str_t                 *value, var;
    ngx_uint_t                 i, j;
    const char                *vprefix;
    ngx_api_led_jwt_source_t  *src;

    if (jlcf->sources != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    jlcf->sources = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                     sizeof(ngx_api_led_jwt_source_t));
    if (jlcf->sources == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        src = ngx_array_push(jlcf->sources);
        if (src == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_strncmp(value[i].data, "header:", 7) == 0) {
            src->type = NGX_API_LED_JWT_SOURCE_HEADER;
            prefix = 7;
            vprefix = "http_";

        } else if (ngx_strncmp(value[i].data, "cookie:", 7) == 0) {
            src->type = NGX_API_LED_JWT_SOURCE_COOKIE;
            prefix = 7;
            vprefix = "cookie_";

        } else if (ngx_strncmp(value[i].data, "query:", 6) == 0) {
            src->type = NGX_API_LED_JWT_SOURCE_QUERY;
            prefix = 6;
            vprefix = "arg_";

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid token source \"%V\", must be "
                               "\"header:NAME\", \"cookie:NAME\" or "
                               "\"query:NAME\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        src->name.data = value[i].data + prefix;
        src->name.len = value[i].len - prefix;

        if (src->name.len == 0 || src->name.len > 64) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid token source \"%V\": no name",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < src->name.len; j++) {
            if (!(isalnum(src->name.data[j]) || src->name.data[j] == '-'
                  || src->name.data[j] == '_' || src->name.data[j] == '.'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid token source \"%V\": use "
                                   "letters, digits, \"-\", \"_\" and \".\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        if (src->type == NGX_API_LED_JWT_SOURCE_HEADER
            && src->name.len == sizeof("Authorization") - 1
            && ngx_strncasecmp(src->name.data, (u_char *) "Authorization",
                               src->name.len) == 0)
        {
            src->index = -1;
            continue;
        }

        /* read through nginx's own variables: $http_, $cookie_, $arg_ */

        var.len = ngx_strlen(vprefix) + src->name.len;
        var.data = ngx_pnalloc(cf->pool, var.len);
        if (var.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(var.data, vprefix, ngx_strlen(vprefix));

        for (j = 0; j < src->name.len; j++) {
            *p++ = (src->type == NGX_API_LED_JWT_SOURCE_HEADER
                    && src->name.data[j] == '-')
                   ? '_' : ngx_tolower(src->name.data[j]);
        }

        src->index = ngx_http_get_variable_index(cf, &var);
        if (src->index == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * api_led_jwt_require CLAIM [VALUE ...]
 *
 *   iss            one of the values
 *   aud            the claim (string or array) holds one of the values
 *   scope, scp     every value is among the claim's scopes
 *   any other      the claim (or an element of it) equals one of the values
 *   no value       the claim is present
 *
 * CLAIM is a top-level name or a JSON pointer ("/realm_access/roles").
 */

static char *
ngx_api_led_jwt_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t                          *value, name;
    ngx_uint_t                          i;
    ngx_http_complex_value_t           *cv;
    ngx_api_led_jwt_require_t          *req;
    ngx_http_compile_complex_value_t    ccv;

    static const char  *registered[] = { "iss", "sub", "aud", "exp", "nbf",
                                         "iat", "jti", NULL };

    if (jlcf->requires == NGX_CONF_UNSET_PTR) {
        jlcf->requires = ngx_array_create(cf->pool, 4,
                                          sizeof(ngx_api_led_jwt_require_t));
        if (jlcf->requires == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    req = ngx_array_push(jlcf->requires);
    if (req == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(req, sizeof(ngx_api_led_jwt_require_t));

    req->claim = value[1];

    if (value[1].len && value[1].data[0] == '/') {
        req->pointer = ngx_api_led_jwt_parse_pointer(cf, &value[1]);
        if (req->pointer == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (!ngx_api_led_jwt_claim_name_is_valid(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid claim name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name = value[1];

    for (i = 0; registered[i]; i++) {
        if (name.len == ngx_strlen(registered[i])
            && ngx_strncmp(name.data, registered[i], name.len) == 0)
        {
            req->registered = 1;
        }
    }

    if (cf->args->nelts == 2) {
        req->kind = NGX_API_LED_JWT_REQ_PRESENT;
        return NGX_CONF_OK;
    }

    if (name.len == 3 && ngx_strncmp(name.data, "iss", 3) == 0) {
        req->kind = NGX_API_LED_JWT_REQ_ISS;

    } else if (name.len == 3 && ngx_strncmp(name.data, "aud", 3) == 0) {
        req->kind = NGX_API_LED_JWT_REQ_AUD;

    } else if ((name.len == 5 && ngx_strncmp(name.data, "scope", 5) == 0)
               || (name.len == 3 && ngx_strncmp(name.data, "scp", 3) == 0))
    {
        req->kind = NGX_API_LED_JWT_REQ_SCOPE;

    } else if ((name.len == 3 && (ngx_strncmp(name.data, "exp", 3) == 0
                                  || ngx_strncmp(name.data, "nbf", 3) == 0
                                  || ngx_strncmp(name.data, "iat", 3) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes no value: the time claims are "
                           "checked with api_led_jwt_leeway", &name);
        return NGX_CONF_ERROR;

    } else {
        req->kind = NGX_API_LED_JWT_REQ_EQUAL;
    }

    req->values = ngx_array_create(cf->pool, cf->args->nelts - 2,
                                   sizeof(ngx_http_complex_value_t));
    if (req->values == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        cv = ngx_array_push(req->values);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_api_led_jwt_consumer_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;

    if (jlcf->consumer_claim.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len && value[1].data[0] == '/') {
        jlcf->consumer_pointer = ngx_api_led_jwt_parse_pointer(cf, &value[1]);
        if (jlcf->consumer_pointer == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (!ngx_api_led_jwt_claim_name_is_valid(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid claim name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    jlcf->consumer_claim = value[1];

    return NGX_CONF_OK;
}


/* api_led_jwt_claim_set $variable /json/pointer */

static char *
ngx_api_led_jwt_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                    *value, name;
    ngx_http_variable_t          *var;
    ngx_api_led_jwt_claim_set_t  *cs;

    value = cf->args->elts;

    name = value[1];

    if (name.len < 2 || name.data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    name.data++;
    name.len--;

    if (value[2].len && value[2].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JSON pointer \"%V\": must be empty or "
                           "start with \"/\" (RFC 6901)", &value[2]);
        return NGX_CONF_ERROR;
    }

    cs = ngx_palloc(cf->pool, sizeof(ngx_api_led_jwt_claim_set_t));
    if (cs == NULL) {
        return NGX_CONF_ERROR;
    }

    cs->text = value[2];
    cs->pointer = ngx_api_led_jwt_parse_pointer(cf, &value[2]);
    if (cs->pointer == NULL) {
        return NGX_CONF_ERROR;
    }

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_CONF_ERROR;
    }

    if (var->get_handler) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "variable \"%V\" is already defined", &value[1]);
        return NGX_CONF_ERROR;
    }

    var->get_handler = ngx_api_led_jwt_variable_claim_set;
    var->data = (uintptr_t) cs;

    return NGX_CONF_OK;
}


/* api_led_jwt_cache SIZE | off: verified tokens per worker */

static char *
ngx_api_led_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_main_conf_t *jmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (jmcf->cache.size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        jmcf->cache.size = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n < 1 || n > 10000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cache size \"%V\": the number of tokens, "
                           "1 to 10000000, or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    jmcf->cache.size = n;

    return NGX_CONF_OK;
}


/* RFC 6901: "/a/b~1c/0" -> "a", "b/c", "0"; "" is the whole document */

static ngx_array_t *
ngx_api_led_jwt_parse_pointer(ngx_conf_t *cf, ngx_str_t *text)
{
    u_char       *p, *last, *d;
    ngx_str_t    *tok;
    ngx_array_t  *a;

    a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (a == NULL) {
        return NULL;
    }

    p = text->data;
    last = text->data + text->len;

    while (p < last) {

        /* *p == '/' */
        p++;

        tok = ngx_array_push(a);
        if (tok == NULL) {
            return NULL;
        }

        tok->data = ngx_pnalloc(cf->pool, last - p + 1);
        if (tok->data == NULL) {
            return NULL;
        }

        d = tok->data;

        while (p < last && *p != '/') {
            if (*p == '~') {
                if (p + 1 < last && (p[1] == '0' || p[1] == '1')) {
                    *d++ = (p[1] == '0') ? '~' : '/';
                    p += 2;
                    continue;
                }

                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid JSON pointer \"%V\": \"~\" must "
                                   "be followed by \"0\" or \"1\"", text);
                return NULL;
            }

            *d++ = *p++;
        }

        tok->len = d - tok->data;
    }

    return a;
}


/* claim names end up in messages and headers: keep them plain */

static ngx_int_t
ngx_api_led_jwt_claim_name_is_valid(ngx_str_t *name)
{
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 128) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        if (name->data[i] <= 0x20 || name->data[i] >= 0x7f
            || name->data[i] == '"' || name->data[i] == '\\')
        {
            return 0;
        }
    }

    return 1;
}


/* the request path */

ngx_int_t
ngx_api_led_jwt_authenticate(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    u_char                        digest[NGX_API_LED_JWT_DIGEST_LEN];
    json_t                       *claims;
    ngx_int_t                     rc;
    ngx_str_t                     token;
    ngx_api_led_jwt_reject_t      rj;
    ngx_api_led_jwt_req_ctx_t    *jctx;
    ngx_api_led_jwt_loc_conf_t   *jlcf;
    ngx_api_led_jwt_main_conf_t  *jmcf;
    ngx_api_led_jwt_cache_node_t *cn;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_api_led_jwt_module);
    jmcf = ngx_http_get_module_main_conf(r, ngx_api_led_jwt_module);

    jctx = ngx_http_get_module_ctx(r, ngx_api_led_jwt_module);

    if (jctx == NULL) {
        jctx = ngx_pcalloc(r->pool, sizeof(ngx_api_led_jwt_req_ctx_t));
        if (jctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, jctx, ngx_api_led_jwt_module);
    }

    if (jctx->waiting) {
        if (!jctx->fetch_done) {
            /* woken up for something else: still waiting for the keys */
            return NGX_AGAIN;
        }

        jctx->waiting = 0;
        jctx->waited = 1;
    }

    rc = ngx_api_led_jwt_get_token(r, jlcf, &token);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(&rj, sizeof(ngx_api_led_jwt_reject_t));
    rj.status = NGX_HTTP_UNAUTHORIZED;
    rj.error = "invalid_token";

    if (token.len > jlcf->max_size) {
        rj.description = "the token is too large";
        return ngx_api_led_jwt_reject(r, &rj);
    }

    if (jlcf->keys == NULL && jlcf->remote == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "api_led: JWT authentication without keys: set "
                      "api_led_jwt_keys or api_led_jwt_keys_uri");
        return NGX_ERROR;
    }

    if (jlcf->remote) {
        rc = ngx_api_led_jwt_remote_keys(r, jctx, jlcf->remote,
                                         NGX_API_LED_JWT_NEED_KEYS);
        if (rc != NGX_OK) {
            return rc;
        }

        if (jlcf->keys == NULL && jlcf->remote->keys == NULL) {
            return ngx_api_led_problem_finalize(r,
                                       NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "jwt_keys_unavailable",
                                       "the keys to verify tokens could not "
                                       "be fetched");
        }
    }

    if (ngx_api_led_jwt_sha256(token.data, token.len, digest) != NGX_OK) {
        return NGX_ERROR;
    }

    cn = NULL;

    if (jmcf->cache.size) {
        cn = ngx_api_led_jwt_cache_lookup(&jmcf->cache, digest);

        if (cn) {
            if (cn->exp && cn->exp <= ngx_time()) {
                ngx_api_led_jwt_cache_delete(&jmcf->cache, cn);
                cn = NULL;

            } else if (!(jlcf->algorithms & ((ngx_uint_t) 1 << cn->alg))
                       || !((jlcf->keys
                             && jlcf->keys->generation == cn->generation)
                            || (jlcf->remote && jlcf->remote->keys
                                && jlcf->remote->keys->generation
                                   == cn->generation)))
            {
                /* verified elsewhere, by keys or rules not of this place */
                cn = NULL;
            }
        }
    }

    if (cn) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led: JWT cache hit");

        claims = json_incref(cn->claims);

    } else {
        rc = ngx_api_led_jwt_verify(r, jlcf, jctx, &token, digest, &claims,
                                    &rj);

        if (rc == NGX_DECLINED) {
            return ngx_api_led_jwt_reject(r, &rj);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_api_led_jwt_check_time(claims, jlcf->leeway, &rj) != NGX_OK
        || ngx_api_led_jwt_check_requires(r, jlcf, claims, &rj) != NGX_OK)
    {
        json_decref(claims);

        if (rj.status == 0) {
            return NGX_ERROR;
        }

        return ngx_api_led_jwt_reject(r, &rj);
    }

    if (ngx_api_led_jwt_set_identity(r, jlcf, ctx, claims) != NGX_OK) {
        json_decref(claims);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The token of the first source that has one.  The Authorization header
 * counts only with the Bearer scheme (RFC 6750 2.1): another scheme is
 * another credential, not a bad token.
 */

static ngx_int_t
ngx_api_led_jwt_get_token(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_str_t *token)
{
    u_char                     *p, *last;
    ngx_str_t                   value;
    ngx_uint_t                  i, n, bearer;
    ngx_api_led_jwt_source_t   *src, dflt;
    ngx_http_variable_value_t  *vv;

    if (jlcf->sources) {
        src = jlcf->sources->elts;
        n = jlcf->sources->nelts;

    } else {
        ngx_memzero(&dflt, sizeof(ngx_api_led_jwt_source_t));
        dflt.type = NGX_API_LED_JWT_SOURCE_HEADER;
        dflt.index = -1;
        src = &dflt;
        n = 1;
    }

    for (i = 0; i < n; i++) {

        bearer = 0;

        if (src[i].index == -1) {
            if (r->headers_in.authorization == NULL) {
                continue;
            }

            value = r->headers_in.authorization->value;
            bearer = 1;

        } else {
            vv = ngx_http_get_indexed_variable(r, src[i].index);

            if (vv == NULL || vv->not_found || vv->len == 0) {
                continue;
            }

            value.data = vv->data;
            value.len = vv->len;
        }

        p = value.data;
        last = value.data + value.len;

        if (src[i].type == NGX_API_LED_JWT_SOURCE_HEADER) {

            if (value.len >= 6
                && ngx_strncasecmp(p, (u_char *) "Bearer", 6) == 0
                && (value.len == 6 || p[6] == ' ' || p[6] == '\t'))
            {
                p += 6;

                while (p < last && (*p == ' ' || *p == '\t')) {
                    p++;
                }

            } else if (bearer) {
                continue;
            }
        }

        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        token->data = p;
        token->len = last - p;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * Parses and verifies a compact JWS.  NGX_OK: *claims holds the verified
 * claims (a new reference); NGX_DECLINED: rejected, rj says why;
 * NGX_AGAIN: waiting for keys; NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_jwt_verify(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_jwt_req_ctx_t *jctx,
    ngx_str_t *token, u_char *digest, json_t **claims,
    ngx_api_led_jwt_reject_t *rj)
{
    u_char                        *p, *dot[4];
    double                         e;
    json_t                        *header, *v;
    time_t                         exp;
    ngx_int_t                      rc, alg;
    ngx_str_t                      seg, dec, kid, input, sig;
    ngx_uint_t                     ndots, candidates, generation;
    json_error_t                   error;
    ngx_api_led_jwt_main_conf_t   *jmcf;

    ndots = 0;

    for (p = token->data; p < token->data + token->len; p++) {

        if (*p == '.') {
            if (ndots == 4) {
                ndots++;
                break;
            }

            dot[ndots++] = p;
            continue;
        }

        if (!(isalnum(*p) || *p == '-' || *p == '_')) {
            rj->description = "the token is not a compact JWS";
            return NGX_DECLINED;
        }
    }

    if (ndots == 4) {
        rj->description = "encrypted tokens (JWE) are not accepted";
        return NGX_DECLINED;
    }

    if (ndots != 2
        || dot[0] == token->data
        || dot[1] == dot[0] + 1)
    {
        rj->description = "the token is not a compact JWS";
        return NGX_DECLINED;
    }

    /* the protected header */

    seg.data = token->data;
    seg.len = dot[0] - token->data;

    dec.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len));
    if (dec.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&dec, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token header is not valid base64url";
        return NGX_DECLINED;
    }

    header = json_loadb((char *) dec.data, dec.len, JSON_REJECT_DUPLICATES,
                        &error);
    if (header == NULL) {
        rj->description =
            (json_error_code(&error) == json_error_duplicate_key)
            ? "the token header has a duplicate member"
            : "the token header is not JSON";
        return NGX_DECLINED;
    }

    if (!json_is_object(header)) {
        json_decref(header);
        rj->description = "the token header is not a JSON object";
        return NGX_DECLINED;
    }

    /*
     * RFC 7515 4.1.11: an extension listed in "crit" that is not
     * understood makes the token invalid; this verifier understands none.
     * "b64" (RFC 7797) changes what is signed: refused as well.
     */

    if (json_object_get(header, "crit")) {
        json_decref(header);
        rj->description = "the token header has critical extensions";
        return NGX_DECLINED;
    }

    if (json_object_get(header, "b64")) {
        json_decref(header);
        rj->description = "unencoded payloads (b64) are not accepted";
        return NGX_DECLINED;
    }

    v = json_object_get(header, "alg");
    if (!json_is_string(v)) {
        json_decref(header);
        rj->description = "the token header has no alg";
        return NGX_DECLINED;
    }

    if (ngx_strcasecmp((u_char *) json_string_value(v), (u_char *) "none")
        == 0)
    {
        json_decref(header);
        rj->description = "unsigned tokens (alg none) are never accepted";
        return NGX_DECLINED;
    }

    alg = ngx_api_led_jwt_alg_find((u_char *) json_string_value(v),
                                   json_string_length(v));
    if (alg == NGX_ERROR) {
        json_decref(header);
        rj->description = "the token alg is not supported";
        return NGX_DECLINED;
    }

    if (!(jlcf->algorithms & ((ngx_uint_t) 1 << alg))) {
        json_decref(header);
        rj->description = "the token alg is not allowed here";
        return NGX_DECLINED;
    }

    ngx_str_null(&kid);

    v = json_object_get(header, "kid");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            json_decref(header);
            rj->description = "the token kid is not a string";
            return NGX_DECLINED;
        }

        kid.len = json_string_length(v);
        kid.data = ngx_pnalloc(r->pool, kid.len);
        if (kid.data == NULL) {
            json_decref(header);
            return NGX_ERROR;
        }

        ngx_memcpy(kid.data, json_string_value(v), kid.len);
    }

    json_decref(header);

    /* the signature, over "header.payload" as sent */

    input.data = token->data;
    input.len = dot[1] - token->data;

    seg.data = dot[1] + 1;
    seg.len = token->data + token->len - seg.data;

    sig.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len) + 1);
    if (sig.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&sig, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token signature is not valid base64url";
        return NGX_DECLINED;
    }

    candidates = 0;
    generation = 0;

    rc = NGX_DECLINED;
    rj->description = NULL;

    if (jlcf->keys) {
        rc = ngx_api_led_jwt_verify_with(r, jlcf->keys, &kid, alg, &input,
                                         &sig, &candidates, &generation, rj);
    }

    if (rc == NGX_DECLINED && rj->description == NULL && jlcf->remote) {

        rc = ngx_api_led_jwt_verify_with(r, jlcf->remote->keys, &kid, alg,
                                         &input, &sig, &candidates,
                                         &generation, rj);

        if (rc == NGX_DECLINED && kid.len && rj->description == NULL
            && !jctx->kid_refetched)
        {
            /* an unknown kid: the provider may have rotated its keys */

            jctx->kid_refetched = 1;

            rc = ngx_api_led_jwt_remote_keys(r, jctx, jlcf->remote,
                                             NGX_API_LED_JWT_NEED_KID);
            if (rc != NGX_OK) {
                return rc;
            }

            rc = NGX_DECLINED;
        }
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        if (rj->description == NULL) {
            if (kid.len) {
                rj->description = "the token kid is unknown";

            } else if (candidates == 0) {
                rj->description = "no key fits the token alg";

            } else {
                rj->description = "the token signature is invalid";
            }
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: JWT rejected: %s (alg %V, kid \"%V\")",
                      rj->description, &ngx_api_led_jwt_algs[alg].name, &kid);

        return NGX_DECLINED;
    }

    /* the claims, now that they are known to be genuine */

    seg.data = dot[0] + 1;
    seg.len = dot[1] - seg.data;

    dec.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(seg.len));
    if (dec.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_jwt_b64url_decode(&dec, seg.data, seg.len) != NGX_OK) {
        rj->description = "the token payload is not valid base64url";
        return NGX_DECLINED;
    }

    *claims = json_loadb((char *) dec.data, dec.len, JSON_REJECT_DUPLICATES,
                         &error);

    if (*claims == NULL || !json_is_object(*claims)) {

        if (*claims == NULL
            && json_error_code(&error) == json_error_duplicate_key)
        {
            rj->description = "the token payload has a duplicate member";

        } else {
            rj->description = "the token payload is not a JSON object";
        }

        if (*claims) {
            json_decref(*claims);
            *claims = NULL;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: JWT signature verified (alg %V), but %s",
                      &ngx_api_led_jwt_algs[alg].name, rj->description);

        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: JWT verified, alg %V, kid \"%V\"",
                   &ngx_api_led_jwt_algs[alg].name, &kid);

    jmcf = ngx_http_get_module_main_conf(r, ngx_api_led_jwt_module);

    if (jmcf->cache.size) {
        exp = 0;

        v = json_object_get(*claims, "exp");

        if (json_is_number(v)) {
            e = json_number_value(v);
            exp = (e < 1) ? 1 : (e > 1e15) ? (time_t) 1e15 : (time_t) e;
        }

        if (v == NULL || json_is_number(v)) {
            ngx_api_led_jwt_cache_insert(&jmcf->cache, digest, *claims, exp,
                                         generation, alg,
                                         r->connection->log);
        }
    }

    return NGX_OK;
}


/*
 * Verifies with one key set: the key named by kid, or without a kid each
 * key that fits the alg.  NGX_DECLINED with rj->description NULL: no key
 * of this set (look further); with a description: rejected.
 */

static ngx_int_t
ngx_api_led_jwt_verify_with(ngx_http_request_t *r, ngx_api_led_jwks_t *jwks,
    ngx_str_t *kid, ngx_uint_t alg, ngx_str_t *input, ngx_str_t *sig,
    ngx_uint_t *candidates, ngx_uint_t *generation,
    ngx_api_led_jwt_reject_t *rj)
{
    ngx_int_t           rc;
    ngx_uint_t          i;
    ngx_api_led_jwk_t  *key;

    if (jwks == NULL) {
        return NGX_DECLINED;
    }

    key = jwks->keys.elts;

    for (i = 0; i < jwks->keys.nelts; i++) {

        if (kid->len) {
            if (key[i].kid.len != kid->len
                || ngx_memcmp(key[i].kid.data, kid->data, kid->len) != 0)
            {
                continue;
            }

            /* the kid names this key and no other */

            if (!ngx_api_led_jwk_matches(&key[i], alg)) {
                rj->description = "the token alg does not fit its key";
                return NGX_DECLINED;
            }

            (*candidates)++;

            rc = ngx_api_led_jwk_verify(&key[i], alg, input->data, input->len,
                                        sig->data, sig->len,
                                        r->connection->log);
            if (rc == NGX_OK) {
                *generation = jwks->generation;
                return NGX_OK;
            }

            if (rc == NGX_DECLINED) {
                rj->description = "the token signature is invalid";
            }

            return rc;
        }

        if (!ngx_api_led_jwk_matches(&key[i], alg)) {
            continue;
        }

        (*candidates)++;

        rc = ngx_api_led_jwk_verify(&key[i], alg, input->data, input->len,
                                    sig->data, sig->len, r->connection->log);
        if (rc == NGX_OK) {
            *generation = jwks->generation;
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return NGX_DECLINED;
}


/* RFC 7519 4.1.4, 4.1.5, with the location's leeway for clock skew */

static ngx_int_t
ngx_api_led_jwt_check_time(json_t *claims, time_t leeway,
    ngx_api_led_jwt_reject_t *rj)
{
    double   now;
    json_t  *v;

    now = (double) ngx_time();

    v = json_object_get(claims, "exp");
    if (v) {
        if (!json_is_number(v)) {
            rj->description = "the token exp is not a number";
            return NGX_DECLINED;
        }

        if (now >= json_number_value(v) + (double) leeway) {
            rj->description = "the token has expired";
            return NGX_DECLINED;
        }
    }

    v = json_object_get(claims, "nbf");
    if (v) {
        if (!json_is_number(v)) {
            rj->description = "the token nbf is not a number";
            return NGX_DECLINED;
        }

        if (now + (double) leeway < json_number_value(v)) {
            rj->description = "the token is not valid yet";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwt_check_requires(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, json_t *claims,
    ngx_api_led_jwt_reject_t *rj)
{
    u_char                     *p, *last, *s;
    json_t                     *claim;
    ngx_str_t                   value;
    ngx_uint_t                  i, j, ok;
    ngx_http_complex_value_t   *cv;
    ngx_api_led_jwt_require_t  *req;

    if (jlcf->requires == NULL) {
        return NGX_OK;
    }

    req = jlcf->requires->elts;

    for (i = 0; i < jlcf->requires->nelts; i++) {

        if (req[i].pointer) {
            claim = ngx_api_led_jwt_pointer_get(claims, req[i].pointer);

        } else {
            claim = json_object_getn(claims, (char *) req[i].claim.data,
                                     req[i].claim.len);
        }

        switch (req[i].kind) {

        case NGX_API_LED_JWT_REQ_PRESENT:

            if (claim) {
                continue;
            }

            if (req[i].registered) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";

            } else {
                rj->status = NGX_HTTP_FORBIDDEN;
                rj->error = "insufficient_scope";
            }

            rj->description = "the token lacks a required claim";

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: JWT rejected: no \"%V\" claim",
                          &req[i].claim);
            return NGX_DECLINED;

        case NGX_API_LED_JWT_REQ_SCOPE:

            cv = req[i].values->elts;

            for (j = 0; j < req[i].values->nelts; j++) {

                if (ngx_http_complex_value(r, &cv[j], &value) != NGX_OK) {
                    rj->status = 0;
                    return NGX_ERROR;
                }

                /* a value may list several scopes; empty requires none */

                p = value.data;
                last = value.data + value.len;

                while (p < last) {
                    while (p < last && *p == ' ') {
                        p++;
                    }

                    s = p;

                    while (p < last && *p != ' ') {
                        p++;
                    }

                    if (p > s
                        && !ngx_api_led_jwt_has_scope(claim, s, p - s))
                    {
                        rj->status = NGX_HTTP_FORBIDDEN;
                        rj->error = "insufficient_scope";
                        rj->description = "the token lacks a required scope";
                        rj->scope.data = s;
                        rj->scope.len = p - s;

                        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                      "api_led: JWT rejected: no scope "
                                      "\"%V\" in \"%V\"", &rj->scope,
                                      &req[i].claim);
                        return NGX_DECLINED;
                    }
                }
            }

            continue;

        default: /* ISS, AUD, EQUAL: one of the values */

            ok = 0;
            cv = req[i].values->elts;

            for (j = 0; claim && j < req[i].values->nelts; j++) {

                if (ngx_http_complex_value(r, &cv[j], &value) != NGX_OK) {
                    rj->status = 0;
                    return NGX_ERROR;
                }

                if (value.len == 0) {
                    continue;
                }

                if (req[i].kind == NGX_API_LED_JWT_REQ_ISS) {
                    ok = json_is_string(claim)
                         && json_string_length(claim) == value.len
                         && ngx_memcmp(json_string_value(claim), value.data,
                                       value.len) == 0;

                } else {
                    ok = ngx_api_led_jwt_value_matches(claim, &value);
                }

                if (ok) {
                    break;
                }
            }

            if (ok) {
                continue;
            }

            if (req[i].kind == NGX_API_LED_JWT_REQ_ISS) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "the token issuer is not accepted";

            } else if (req[i].kind == NGX_API_LED_JWT_REQ_AUD) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "the token audience is not accepted";

            } else if (req[i].registered) {
                rj->status = NGX_HTTP_UNAUTHORIZED;
                rj->error = "invalid_token";
                rj->description = "a token claim is not accepted";

            } else {
                rj->status = NGX_HTTP_FORBIDDEN;
                rj->error = "insufficient_scope";
                rj->description = "a token claim is not accepted";
            }

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: JWT rejected: claim \"%V\" does not "
                          "match", &req[i].claim);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a string, number or boolean claim, or any element of an array claim */

static ngx_int_t
ngx_api_led_jwt_value_matches(json_t *v, ngx_str_t *value)
{
    u_char   buf[NGX_INT64_LEN + 1], *p;
    size_t   i;
    json_t  *e;

    switch (json_typeof(v)) {

    case JSON_STRING:
        return json_string_length(v) == value->len
               && ngx_memcmp(json_string_value(v), value->data, value->len)
                  == 0;

    case JSON_INTEGER:
        p = ngx_sprintf(buf, "%L", (int64_t) json_integer_value(v));
        return (size_t) (p - buf) == value->len
               && ngx_memcmp(buf, value->data, value->len) == 0;

    case JSON_TRUE:
        return value->len == 4 && ngx_strncmp(value->data, "true", 4) == 0;

    case JSON_FALSE:
        return value->len == 5 && ngx_strncmp(value->data, "false", 5) == 0;

    case JSON_ARRAY:
        json_array_foreach(v, i, e) {
            if (!json_is_array(e) && ngx_api_led_jwt_value_matches(e, value)) {
                return 1;
            }
        }

        return 0;

    default:
        return 0;
    }
}


/* "scope": space-separated string (RFC 8693); "scp": array or string */

static ngx_int_t
ngx_api_led_jwt_has_scope(json_t *claim, u_char *scope, size_t len)
{
    u_char  *p, *last, *s;
    size_t   i;
    json_t  *e;

    if (json_is_array(claim)) {
        json_array_foreach(claim, i, e) {
            if (json_is_string(e) && json_string_length(e) == len
                && ngx_memcmp(json_string_value(e), scope, len) == 0)
            {
                return 1;
            }
        }

        return 0;
    }

    if (!json_is_string(claim)) {
        return 0;
    }

    p = (u_char *) json_string_value(claim);
    last = p + json_string_length(claim);

    while (p < last) {
        s = p;

        while (p < last && *p != ' ') {
            p++;
        }

        if ((size_t) (p - s) == len && ngx_memcmp(s, scope, len) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}


static json_t *
ngx_api_led_jwt_pointer_get(json_t *root, ngx_array_t *pointer)
{
    size_t      idx;
    json_t     *v;
    ngx_str_t  *tok;
    ngx_uint_t  i, j;

    v = root;
    tok = pointer->elts;

    for (i = 0; v && i < pointer->nelts; i++) {

        if (json_is_object(v)) {
            v = json_object_getn(v, (char *) tok[i].data, tok[i].len);
            continue;
        }

        if (!json_is_array(v) || tok[i].len == 0
            || (tok[i].len > 1 && tok[i].data[0] == '0'))
        {
            return NULL;
        }

        idx = 0;

        for (j = 0; j < tok[i].len; j++) {
            if (tok[i].data[j] < '0' || tok[i].data[j] > '9' || j > 8) {
                return NULL;
            }

            idx = idx * 10 + tok[i].data[j] - '0';
        }

        v = json_array_get(v, idx);
    }

    return v;
}


/*
 * A claim as text: a string as it is (JSON-escaped if it holds control
 * characters, so a claim can never split a header), anything else as
 * compact JSON.
 */

static ngx_int_t
ngx_api_led_jwt_render(ngx_pool_t *pool, json_t *v, ngx_str_t *out)
{
    u_char  *p;
    size_t   i, len;

    if (json_is_string(v)) {
        p = (u_char *) json_string_value(v);
        len = json_string_length(v);

        for (i = 0; i < len; i++) {
            if (p[i] < 0x20 || p[i] == 0x7f) {
                break;
            }
        }

        if (i == len) {
            out->data = p;
            out->len = len;
            return NGX_OK;
        }
    }

    len = json_dumpb(v, NULL, 0, JSON_COMPACT|JSON_ENCODE_ANY);
    if (len == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (json_dumpb(v, (char *) p, len, JSON_COMPACT|JSON_ENCODE_ANY) != len) {
        return NGX_ERROR;
    }

    if (json_is_string(v) && len >= 2) {
        /* the escaped string without its quotes */
        p++;
        len -= 2;
    }

    out->data = p;
    out->len = len;

    return NGX_OK;
}


/*
 * The identity the other concerns see: the consumer claim (default
 * "sub") names a consumer of the consumers file; a subject that is no
 * consumer still proceeds, as itself and without a plan.
 */

static ngx_int_t
ngx_api_led_jwt_set_identity(ngx_http_request_t *r,
    ngx_api_led_jwt_loc_conf_t *jlcf, ngx_api_led_ctx_t *ctx,
    json_t *claims)
{
    json_t     *v;
    ngx_str_t   id;

    if (jlcf->consumer_pointer) {
        v = ngx_api_led_jwt_pointer_get(claims, jlcf->consumer_pointer);

    } else {
        v = json_object_getn(claims, (char *) jlcf->consumer_claim.data,
                             jlcf->consumer_claim.len);
    }

    ngx_str_null(&id);

    if (v && (json_is_string(v) || json_is_integer(v))) {
        if (ngx_api_led_jwt_render(r->pool, v, &id) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ctx->consumer = NULL;

    if (id.len) {
        ctx->consumer = ngx_api_led_consumer_find(r, &id);
    }

    ctx->consumer_id = id;
    ngx_str_set(&ctx->auth_method, "jwt");

    if (ctx->claims) {
        json_decref(ctx->claims);
    }

    /* the reference taken by the caller now belongs to the ctx */
    ctx->claims = claims;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: JWT subject \"%V\", consumer %s", &id,
                   ctx->consumer ? "known" : "unknown");

    return NGX_OK;
}


/* the answers (RFC 6750 3) */

static ngx_int_t
ngx_api_led_jwt_reject(ngx_http_request_t *r, ngx_api_led_jwt_reject_t *rj)
{
    if (ngx_api_led_jwt_add_challenge(r, rj->error, rj->description,
                                      &rj->scope)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_api_led_problem_finalize(r, rj->status, rj->error, "%s",
                                        rj->description);
}


ngx_int_t
ngx_api_led_jwt_challenge(ngx_http_request_t *r)
{
    return ngx_api_led_jwt_add_challenge(r, NULL, NULL, NULL);
}


static ngx_int_t
ngx_api_led_jwt_add_challenge(ngx_http_request_t *r, const char *error,
    const char *description, ngx_str_t *scope)
{
    u_char                  *p;
    size_t                   len;
    ngx_str_t                realm;
    ngx_uint_t               i, scope_ok;
    ngx_table_elt_t         *h;
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->api.len) {
        realm = llcf->api;

    } else {
        ngx_str_set(&realm, "api");
    }

    /* RFC 6750 3: scope-token characters only */

    scope_ok = (scope && scope->len);

    for (i = 0; scope_ok && i < scope->len; i++) {
        if (scope->data[i] < 0x21 || scope->data[i] > 0x7e
            || scope->data[i] == '"' || scope->data[i] == '\\')
        {
            scope_ok = 0;
        }
    }

    len = sizeof("Bearer realm=\"\"") - 1 + realm.len;

    if (error) {
        len += sizeof(", error=\"\"") - 1 + ngx_strlen(error)
               + sizeof(", error_description=\"\"") - 1
               + ngx_strlen(description);
    }

    if (scope_ok) {
        len += sizeof(", scope=\"\"") - 1 + scope->len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = ngx_api_led_jwt_www_authenticate;
    h->value.data = p;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    p = ngx_sprintf(p, "Bearer realm=\"%V\"", &realm);

    if (error) {
        p = ngx_sprintf(p, ", error=\"%s\", error_description=\"%s\"",
                        error, description);
    }

    if (scope_ok) {
        p = ngx_sprintf(p, ", scope=\"%V\"", scope);
    }

    h->value.len = p - h->value.data;

    return NGX_OK;
}


/* variables */

static ngx_int_t
ngx_api_led_jwt_variable_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    json_t             *claim;
    ngx_str_t           value;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    claim = json_object_getn(ctx->claims,
                             (char *) name->data
                             + ngx_api_led_jwt_claim_prefix.len,
                             name->len - ngx_api_led_jwt_claim_prefix.len);

    if (claim == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_api_led_jwt_render(r->pool, claim, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = value.data;

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwt_variable_claim_set(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_jwt_claim_set_t *cs = (ngx_api_led_jwt_claim_set_t *) data;

    json_t             *claim;
    ngx_str_t           value;
    ngx_api_led_ctx_t  *ctx;

    ctx = ngx_api_led_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    claim = ngx_api_led_jwt_pointer_get(ctx->claims, cs->pointer);

    if (claim == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_api_led_jwt_render(r->pool, claim, &value) != NGX_OK) {
        return NGX_ERROR;
    }

    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = value.data;

    return NGX_OK;
}
