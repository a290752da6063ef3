
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * JWT verification, the module and its configuration: directives, key
 * files parsed at configuration time, claim requirements and pointers,
 * and the variables.  The request path is in ngx_api_led_jwt_verify.c,
 * claims in ngx_api_led_jwt_claims.c, keys and signatures in
 * ngx_api_led_jwk.c, the verified-token cache and remote key sets in
 * ngx_api_led_jwt_keys.c.  None of them calls back into this file.
 */


#include "ngx_api_led_jwt.h"


#define NGX_API_LED_JWT_MAX_FILE        (1024 * 1024)


static ngx_int_t ngx_api_led_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_api_led_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_api_led_jwt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_api_led_jwt_create_loc_conf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_jwt_describe(ngx_conf_t *cf,
    ngx_api_led_jwt_loc_conf_t *conf);
static char *ngx_api_led_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_flag_t ngx_api_led_jwt_requires_constant(
    ngx_api_led_jwt_loc_conf_t *conf);
static ngx_int_t ngx_api_led_jwt_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_jwt_exit_process(ngx_cycle_t *cycle);

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
static ngx_int_t ngx_api_led_jwt_variable_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_jwt_variable_claim_set(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_api_led_jwt_variable_cache_status(ngx_http_request_t *r,
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

    { ngx_string("api_led_jwt_hide"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_jwt_loc_conf_t, hide),
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
    ngx_api_led_jwt_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_jwt_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_api_led_jwt_claim_prefix =
    ngx_string("api_led_jwt_claim_");

static ngx_str_t  ngx_api_led_jwt_cache_status_name =
    ngx_string("api_led_jwt_cache_status");

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

    var = ngx_http_add_variable(cf, &ngx_api_led_jwt_cache_status_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_api_led_jwt_variable_cache_status;

    return NGX_OK;
}


static void *
ngx_api_led_jwt_create_main_conf(ngx_conf_t *cf)
{
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

    if (ngx_array_init(&jmcf->keysets, cf->pool, 2,
                       sizeof(ngx_api_led_jwt_keyset_t))
        != NGX_OK)
    {
        return NULL;
    }

    jmcf->cache_size = NGX_CONF_UNSET_UINT;

    return jmcf;
}


static char *
ngx_api_led_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_api_led_jwt_main_conf_t *jmcf = conf;

    static char  *cache_labels[] = { "result", NULL };
    static char  *fetch_labels[] = { "uri", "outcome", NULL };

    /*
     * on by default where tokens are checked: a hit costs a SHA-256 and a
     * tree look-up instead of a signature (tens of microseconds for RSA
     * and ECDSA); entries are made as tokens come, none without JWT
     */
    if (jmcf->cache_size == NGX_CONF_UNSET_UINT) {
        jmcf->cache_size = (jmcf->keysets.nelts || jmcf->remotes.nelts)
                           ? NGX_API_LED_JWT_CACHE_DEFAULT : 0;
    }

    /* the http block is parsed: the metrics zone, the cache, the remotes */

    if (jmcf->cache_size
        && ngx_api_led_metric_add(cf, &jmcf->cache_lookups,
                                  "api_led_jwt_cache_lookups",
                                  "Tokens looked up in a worker's "
                                  "verified-token cache, by result.",
                                  NGX_API_LED_METRIC_COUNTER, cache_labels)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (jmcf->remotes.nelts
        && ngx_api_led_metric_add(cf, &jmcf->fetches,
                                  "api_led_jwt_jwks_fetches",
                                  "Fetches of a remote JWKS by outcome.",
                                  NGX_API_LED_METRIC_COUNTER, fetch_labels)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the cache and the remote key sets are each worker's own */

static ngx_int_t
ngx_api_led_jwt_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_jwt_main_conf_t  *jmcf;

    jmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_api_led_jwt_module);

    if (jmcf == NULL) {
        return NGX_OK;
    }

    return ngx_api_led_jwt_worker_init(cycle, jmcf);
}


static void
ngx_api_led_jwt_exit_process(ngx_cycle_t *cycle)
{
    ngx_api_led_jwt_worker_exit();
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
    conf->hide = NGX_CONF_UNSET;

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
    conf->requires_constant = ngx_api_led_jwt_requires_constant(conf);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);
    ngx_conf_merge_value(conf->hide, prev->hide, 1);

    if (conf->consumer_claim.data == NULL) {
        conf->consumer_claim = prev->consumer_claim;
        conf->consumer_pointer = prev->consumer_pointer;
    }

    if (conf->consumer_claim.data == NULL) {
        ngx_str_set(&conf->consumer_claim, "sub");
    }

    if (ngx_api_led_jwt_describe(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Requirements without variables always give one answer for one token:
 * a cached token remembers that it met them (ngx_api_led_jwt_verify.c).
 */

static ngx_flag_t
ngx_api_led_jwt_requires_constant(ngx_api_led_jwt_loc_conf_t *conf)
{
    ngx_uint_t                  i, j;
    ngx_http_complex_value_t   *cv;
    ngx_api_led_jwt_require_t  *req;

    if (conf->requires == NULL) {
        return 0;
    }

    req = conf->requires->elts;

    for (i = 0; i < conf->requires->nelts; i++) {

        if (req[i].values == NULL) {
            continue;
        }

        cv = req[i].values->elts;

        for (j = 0; j < req[i].values->nelts; j++) {
            if (cv[j].lengths) {
                return 0;
            }
        }
    }

    return 1;
}


/*
 * The catalog: the algorithms, where the keys come from, the claims a
 * token must carry; never a key
 */

static ngx_int_t
ngx_api_led_jwt_describe(ngx_conf_t *cf, ngx_api_led_jwt_loc_conf_t *conf)
{
    json_t                     *entry, *jwt, *algs, *reqs, *req, *values;
    ngx_uint_t                  i, k;
    ngx_api_led_jwt_require_t  *rq;
    ngx_http_complex_value_t   *cv;

    static const char  *kinds[] = {
        "", "iss", "aud", "scope", "present", "equal"
    };

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL || (conf->keys == NULL && conf->remote == NULL)) {
        return NGX_OK;
    }

    algs = json_array();
    reqs = json_array();

    jwt = json_pack("{s:o, s:o, s:s%}", "algorithms", algs, "required", reqs,
                    "consumer_claim", conf->consumer_claim.data,
                    conf->consumer_claim.len);

    if (jwt == NULL || json_object_set_new(entry, "jwt", jwt)) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_API_LED_JWT_NALGS; i++) {
        if ((conf->algorithms & (1 << i))
            && json_array_append_new(algs, json_stringn(
                   (char *) ngx_api_led_jwt_algs[i].name.data,
                   ngx_api_led_jwt_algs[i].name.len)))
        {
            return NGX_ERROR;
        }
    }

    if (conf->remote
        && json_object_set_new(jwt, "keys_uri",
                               ngx_api_led_catalog_text(conf->remote->uri.data,
                                                        conf->remote->uri.len)))
    {
        return NGX_ERROR;
    }

    if (conf->requires == NULL) {
        return NGX_OK;
    }

    rq = conf->requires->elts;

    for (i = 0; i < conf->requires->nelts; i++) {
        values = json_array();
        req = json_pack("{s:s%, s:s, s:o}", "claim", rq[i].claim.data,
                        rq[i].claim.len, "rule",
                        rq[i].kind < sizeof(kinds) / sizeof(kinds[0])
                        ? kinds[rq[i].kind] : "", "values", values);

        if (req == NULL || json_array_append_new(reqs, req)) {
            return NGX_ERROR;
        }

        if (rq[i].values == NULL) {
            continue;
        }

        /* as written: a constant, or the variables it is made of */

        cv = rq[i].values->elts;

        for (k = 0; k < rq[i].values->nelts; k++) {
            if (json_array_append_new(values,
                    ngx_api_led_catalog_text(cv[k].value.data,
                                             cv[k].value.len)))
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* api_led_jwt_keys FILE ...: JWKS or PEM files, parsed here, once */

static char *
ngx_api_led_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_jwt_loc_conf_t *jlcf = conf;

    u_char                        err[NGX_API_LED_JWT_ERRLEN], *p;
    size_t                        len;
    ngx_str_t                    *value, content, files;
    ngx_uint_t                    i;
    ngx_api_led_jwks_t           *jwks;
    ngx_api_led_jwt_keyset_t     *ks;
    ngx_api_led_jwt_main_conf_t  *jmcf;

    if (jlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    len = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_conf_full_name(cf->cycle, &value[i], 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        len += value[i].len + 1;
    }

    files.data = ngx_pnalloc(cf->pool, len);
    if (files.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = files.data;

    for (i = 1; i < cf->args->nelts; i++) {
        p = ngx_cpymem(p, value[i].data, value[i].len);
        *p++ = '\n';
    }

    files.len = len;

    /*
     * Locations that name the same files share one key set: a token
     * verified in one is a cache hit in the others.
     */

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_jwt_module);

    ks = jmcf->keysets.elts;

    for (i = 0; i < jmcf->keysets.nelts; i++) {
        if (ks[i].files.len == files.len
            && ngx_strncmp(ks[i].files.data, files.data, files.len) == 0)
        {
            jlcf->keys = ks[i].jwks;
            return NGX_CONF_OK;
        }
    }

    jwks = ngx_api_led_jwks_create(cf->pool);
    if (jwks == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

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

    ks = ngx_array_push(&jmcf->keysets);
    if (ks == NULL) {
        return NGX_CONF_ERROR;
    }

    ks->files = files;
    ks->jwks = jwks;

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

    size_t                     prefix;
    ngx_str_t                 *value;
    ngx_uint_t                 i, j;
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

        } else if (ngx_strncmp(value[i].data, "cookie:", 7) == 0) {
            src->type = NGX_API_LED_JWT_SOURCE_COOKIE;
            prefix = 7;

        } else if (ngx_strncmp(value[i].data, "query:", 6) == 0) {
            src->type = NGX_API_LED_JWT_SOURCE_QUERY;
            prefix = 6;

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

        /*
         * read by ngx_api_led_jwt_verify.c itself, every copy: a token
         * nginx's $http_, $cookie_ or $arg_ would not show (the second of
         * two) is a token too
         */

        src->authorization =
            (src->type == NGX_API_LED_JWT_SOURCE_HEADER
             && src->name.len == sizeof("Authorization") - 1
             && ngx_strncasecmp(src->name.data, (u_char *) "Authorization",
                                src->name.len) == 0);
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

    if (jmcf->cache_size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        jmcf->cache_size = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR || n < 1 || n > 10000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cache size \"%V\": the number of tokens, "
                           "1 to 10000000, or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    jmcf->cache_size = n;

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


/* variables: $api_led_jwt_claim_NAME, api_led_jwt_claim_set, the cache */

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

    if (ngx_api_led_jwt_render(r->pool, claim, 0, &value) != NGX_OK) {
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

    if (ngx_api_led_jwt_render(r->pool, claim, 0, &value) != NGX_OK) {
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
ngx_api_led_jwt_variable_cache_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_api_led_jwt_req_ctx_t  *jctx;

    jctx = ngx_http_get_module_ctx(r->main, ngx_api_led_jwt_module);

    if (jctx == NULL || jctx->cache_status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (jctx->cache_status == NGX_API_LED_JWT_CACHE_HIT) {
        v->len = sizeof("HIT") - 1;
        v->data = (u_char *) "HIT";

    } else {
        v->len = sizeof("MISS") - 1;
        v->data = (u_char *) "MISS";
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
