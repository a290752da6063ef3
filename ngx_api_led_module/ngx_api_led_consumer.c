
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Consumers, plans and API keys: the consumers file (api_led_consumers),
 * the api_led_auth policy of the access phase (which dispatches to the JWT
 * module), hiding the credential from the upstream, identity headers and
 * the $api_led_consumer_meta_NAME variables.
 */


/*
 * The low-level SHA-256 functions hash on the stack; the EVP interface of
 * OpenSSL 3 allocates a context on every call, and a request must not
 * allocate outside its pool.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ngx_api_led.h"
#include <openssl/sha.h>
#include <openssl/crypto.h>


#define NGX_API_LED_AUTH_KEY          0x01
#define NGX_API_LED_AUTH_JWT          0x02

#define NGX_API_LED_SOURCE_HEADER     1
#define NGX_API_LED_SOURCE_QUERY      2

#define NGX_API_LED_DIGEST_LEN        SHA256_DIGEST_LENGTH
#define NGX_API_LED_CONSUMER_ID_MAX   256


typedef struct {
    u_char                       digest[NGX_API_LED_DIGEST_LEN];
    ngx_api_led_consumer_t      *consumer;
    ngx_uint_t                   index;       /* key's position, for errors */
} ngx_api_led_key_t;


typedef struct {
    ngx_str_t                    file;        /* "" when not configured */

    ngx_api_led_plan_t          *plans;
    ngx_uint_t                   nplans;

    ngx_api_led_consumer_t      *consumers;
    ngx_uint_t                   nconsumers;
    ngx_api_led_consumer_t     **by_id;       /* sorted by id */

    ngx_api_led_key_t           *keys;        /* sorted by digest */
    ngx_uint_t                   nkeys;

    ngx_array_t                 *default_sources;
} ngx_api_led_consumer_main_conf_t;


typedef struct {
    ngx_uint_t                   type;        /* NGX_API_LED_SOURCE_* */
    ngx_str_t                    name;
} ngx_api_led_key_source_t;


typedef struct {
    ngx_uint_t                   auth;        /* NGX_API_LED_AUTH_*, 0: off */
    ngx_array_t                 *sources;     /* ngx_api_led_key_source_t */
    ngx_array_t                 *query_names; /* ngx_str_t, NULL: none */
    ngx_flag_t                   hide;
    ngx_flag_t                   consumer_headers;

    ngx_int_t                    anonymous_set;
    ngx_str_t                    anonymous_id;   /* len 0: off */
    ngx_api_led_consumer_t      *anonymous;

    /* where directives checked after parsing were written */
    u_char                      *auth_file;
    ngx_uint_t                   auth_line;
    u_char                      *anonymous_file;
    ngx_uint_t                   anonymous_line;
} ngx_api_led_consumer_loc_conf_t;


/* what the request presented */
typedef struct {
    ngx_str_t                    key;
    unsigned                     in_header:1;
    unsigned                     in_query:1;
    unsigned                     ambiguous:1;
} ngx_api_led_credential_t;


static ngx_int_t ngx_api_led_consumer_add_variables(ngx_conf_t *cf);
static void *ngx_api_led_consumer_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_consumer_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_consumer_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);

static char *ngx_api_led_consumers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_key_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_auth_anonymous(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static void ngx_api_led_consumers_error(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, const char *fmt, ...);
static ngx_int_t ngx_api_led_consumers_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *root);
static ngx_int_t ngx_api_led_plans_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *plans);
static ngx_int_t ngx_api_led_consumer_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *obj, ngx_uint_t n,
    ngx_api_led_consumer_t *consumer);
static ngx_int_t ngx_api_led_key_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, ngx_api_led_consumer_t *consumer,
    json_t *value, ngx_uint_t index, ngx_api_led_key_t *key);
static ngx_int_t ngx_api_led_json_string(ngx_conf_t *cf, json_t *value,
    ngx_str_t *s);
static ngx_int_t ngx_api_led_text_is_safe(ngx_str_t *s);
static ngx_api_led_consumer_t *ngx_api_led_consumer_find_conf(
    ngx_api_led_consumer_main_conf_t *mcf, ngx_str_t *id);
static int ngx_libc_cdecl ngx_api_led_key_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_api_led_consumer_cmp(const void *one,
    const void *two);

static ngx_int_t ngx_api_led_credential_read(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred);
static ngx_int_t ngx_api_led_credential_add(ngx_http_request_t *r,
    ngx_api_led_credential_t *cred, ngx_str_t *value, ngx_uint_t unescape);
static ngx_api_led_consumer_t *ngx_api_led_key_lookup(
    ngx_api_led_consumer_main_conf_t *mcf, ngx_str_t *key);
static ngx_int_t ngx_api_led_credential_hide(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_api_led_credential_t *cred);
static ngx_int_t ngx_api_led_consumer_headers(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static ngx_int_t ngx_api_led_auth_reject(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_uint_t challenges,
    const char *code, const char *detail);

static ngx_int_t ngx_api_led_variable_consumer_meta(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_api_led_method_key = ngx_string("key");
static ngx_str_t  ngx_api_led_method_anonymous = ngx_string("anonymous");

static ngx_api_led_edit_name_t  ngx_api_led_consumer_id_header =
    { ngx_string("X-Consumer-ID"), ngx_string("x-consumer-id"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_consumer_plan_header =
    { ngx_string("X-Consumer-Plan"), ngx_string("x-consumer-plan"), 0 };
static ngx_str_t  ngx_api_led_www_authenticate =
    ngx_string("WWW-Authenticate");

static ngx_str_t  ngx_api_led_meta_prefix =
    ngx_string("api_led_consumer_meta_");


static ngx_command_t  ngx_api_led_consumer_commands[] = {

    { ngx_string("api_led_consumers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_api_led_consumers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_api_led_auth,
      NGX_HTTP_LOC_CONF_OFFSET,
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

    { ngx_string("api_led_consumer_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_consumer_loc_conf_t, consumer_headers),
      NULL },

    { ngx_string("api_led_auth_anonymous"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_api_led_auth_anonymous,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
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

    ngx_api_led_consumer_id_header.hash =
        ngx_hash_key(ngx_api_led_consumer_id_header.lowcase.data,
                     ngx_api_led_consumer_id_header.lowcase.len);
    ngx_api_led_consumer_plan_header.hash =
        ngx_hash_key(ngx_api_led_consumer_plan_header.lowcase.data,
                     ngx_api_led_consumer_plan_header.lowcase.len);

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
     *     conf->anonymous_id = { 0, NULL };
     *     conf->anonymous = NULL;
     *     conf->auth_file = NULL;
     *     conf->anonymous_file = NULL;
     */

    conf->auth = NGX_CONF_UNSET_UINT;
    conf->sources = NGX_CONF_UNSET_PTR;
    conf->hide = NGX_CONF_UNSET;
    conf->consumer_headers = NGX_CONF_UNSET;
    conf->anonymous_set = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_api_led_consumer_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_consumer_loc_conf_t  *prev = parent;
    ngx_api_led_consumer_loc_conf_t  *conf = child;

    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_consumer_module);

    if (conf->auth == NGX_CONF_UNSET_UINT) {
        conf->auth = prev->auth;
        conf->auth_file = prev->auth_file;
        conf->auth_line = prev->auth_line;
    }

    if (conf->auth == NGX_CONF_UNSET_UINT) {
        conf->auth = 0;
    }

    if (conf->sources == NGX_CONF_UNSET_PTR) {
        conf->sources = prev->sources;
        conf->query_names = prev->query_names;
    }

    if (conf->sources == NGX_CONF_UNSET_PTR) {
        conf->sources = mcf->default_sources;
        conf->query_names = NULL;
    }
    ngx_conf_merge_value(conf->hide, prev->hide, 1);
    ngx_conf_merge_value(conf->consumer_headers, prev->consumer_headers, 0);

    if (conf->anonymous_set == NGX_CONF_UNSET) {
        conf->anonymous_set = prev->anonymous_set;
        conf->anonymous_id = prev->anonymous_id;
        conf->anonymous = prev->anonymous;
        conf->anonymous_file = prev->anonymous_file;
        conf->anonymous_line = prev->anonymous_line;
    }

    /*
     * Checked here, not in the directive handlers: api_led_consumers may
     * come after them in the http block.  The error names the directive's
     * own file and line.
     */

    if ((conf->auth & NGX_API_LED_AUTH_KEY) && mcf->file.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"api_led_auth key\" requires \"api_led_consumers\" "
                      "in the http block in %s:%ui",
                      conf->auth_file, conf->auth_line);
        return NGX_CONF_ERROR;
    }

    if (conf->anonymous_id.len && conf->anonymous == NULL) {
        conf->anonymous = ngx_api_led_consumer_find_conf(mcf,
                                                         &conf->anonymous_id);

        if (conf->anonymous == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "api_led_auth_anonymous: no consumer \"%V\" in "
                          "the consumers file%s%V%s in %s:%ui",
                          &conf->anonymous_id,
                          mcf->file.len ? " \"" : "", &mcf->file,
                          mcf->file.len ? "\"" : "",
                          conf->anonymous_file, conf->anonymous_line);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* api_led_auth off | key | jwt | key jwt */

static char *
ngx_api_led_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_consumer_loc_conf_t *lcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, auth;

    if (lcf->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    auth = 0;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        lcf->auth = 0;
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "key") == 0
            && !(auth & NGX_API_LED_AUTH_KEY))
        {
            auth |= NGX_API_LED_AUTH_KEY;
            continue;
        }

        if (ngx_strcmp(value[i].data, "jwt") == 0
            && !(auth & NGX_API_LED_AUTH_JWT))
        {
            auth |= NGX_API_LED_AUTH_JWT;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", must be \"off\", \"key\", "
                           "\"jwt\" or \"key jwt\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    lcf->auth = auth;
    lcf->auth_file = cf->conf_file->file.name.data;
    lcf->auth_line = cf->conf_file->line;

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


/* api_led_auth_anonymous CONSUMER_ID | off */

static char *
ngx_api_led_auth_anonymous(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_consumer_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->anonymous_set != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lcf->anonymous_set = 1;
    lcf->anonymous_file = cf->conf_file->file.name.data;
    lcf->anonymous_line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_null(&lcf->anonymous_id);
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        return "has an empty consumer id";
    }

    lcf->anonymous_id = value[1];

    return NGX_CONF_OK;
}


/* api_led_consumers FILE: read and checked at configuration time */

static char *
ngx_api_led_consumers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_consumer_main_conf_t *mcf = conf;

    json_t        *root;
    ngx_int_t      rc;
    ngx_str_t     *value;
    json_error_t   err;

    if (mcf->file.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty file name";
    }

    mcf->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &mcf->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    root = json_load_file((char *) mcf->file.data, JSON_REJECT_DUPLICATES,
                          &err);

    if (root == NULL) {
        if (err.line > 0) {
            ngx_api_led_consumers_error(cf, mcf, "line %d, column %d: %s",
                                        err.line, err.column, err.text);
        } else {
            ngx_api_led_consumers_error(cf, mcf, "%s", err.text);
        }

        return NGX_CONF_ERROR;
    }

    rc = ngx_api_led_consumers_load(cf, mcf, root);

    json_decref(root);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_api_led_consumers_error(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, const char *fmt, ...)
{
    u_char   *p, buf[NGX_MAX_ERROR_STR];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "consumers file \"%V\": %*s",
                       &mcf->file, p - buf, buf);
}


static ngx_int_t
ngx_api_led_consumers_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *root)
{
    json_t                  *value, *consumers, *keys;
    ngx_uint_t               i, n, nkeys;
    const char              *name;
    ngx_api_led_key_t       *key;
    ngx_api_led_consumer_t  *consumer;

    if (!json_is_object(root)) {
        ngx_api_led_consumers_error(cf, mcf, "the top level must be a JSON "
                                    "object with \"plans\" and "
                                    "\"consumers\"");
        return NGX_ERROR;
    }

    json_object_foreach(root, name, value) {
        if (ngx_strcmp(name, "plans") != 0
            && ngx_strcmp(name, "consumers") != 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "unknown member \"%s\" at "
                                        "the top level", name);
            return NGX_ERROR;
        }
    }

    if (ngx_api_led_plans_load(cf, mcf, json_object_get(root, "plans"))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    consumers = json_object_get(root, "consumers");

    if (consumers == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(consumers)) {
        ngx_api_led_consumers_error(cf, mcf, "\"consumers\" must be an "
                                    "array");
        return NGX_ERROR;
    }

    n = json_array_size(consumers);
    nkeys = 0;

    for (i = 0; i < n; i++) {
        keys = json_object_get(json_array_get(consumers, i), "keys");

        if (json_is_array(keys)) {
            nkeys += json_array_size(keys);
        }
    }

    mcf->consumers = ngx_pcalloc(cf->pool,
                                 (n + 1) * sizeof(ngx_api_led_consumer_t));
    mcf->by_id = ngx_pcalloc(cf->pool,
                             (n + 1) * sizeof(ngx_api_led_consumer_t *));
    mcf->keys = ngx_pcalloc(cf->pool,
                            (nkeys + 1) * sizeof(ngx_api_led_key_t));

    if (mcf->consumers == NULL || mcf->by_id == NULL || mcf->keys == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        consumer = &mcf->consumers[i];

        if (ngx_api_led_consumer_load(cf, mcf, json_array_get(consumers, i),
                                      i, consumer)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        mcf->by_id[i] = consumer;
        mcf->nconsumers++;
    }

    ngx_qsort(mcf->by_id, mcf->nconsumers, sizeof(ngx_api_led_consumer_t *),
              ngx_api_led_consumer_cmp);

    for (i = 1; i < mcf->nconsumers; i++) {
        if (mcf->by_id[i]->id.len == mcf->by_id[i - 1]->id.len
            && ngx_memcmp(mcf->by_id[i]->id.data, mcf->by_id[i - 1]->id.data,
                          mcf->by_id[i]->id.len) == 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "consumer id \"%V\" is "
                                        "used twice", &mcf->by_id[i]->id);
            return NGX_ERROR;
        }
    }

    ngx_qsort(mcf->keys, mcf->nkeys, sizeof(ngx_api_led_key_t),
              ngx_api_led_key_cmp);

    /* a key is never printed: the error names its owners and positions */

    for (i = 1; i < mcf->nkeys; i++) {
        key = &mcf->keys[i];

        if (ngx_memcmp(key->digest, key[-1].digest, NGX_API_LED_DIGEST_LEN)
            == 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "a key is used twice: key "
                                        "#%ui of consumer \"%V\" and key "
                                        "#%ui of consumer \"%V\"",
                                        key[-1].index + 1,
                                        &key[-1].consumer->id,
                                        key->index + 1, &key->consumer->id);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_plans_load(ngx_conf_t *cf, ngx_api_led_consumer_main_conf_t *mcf,
    json_t *plans)
{
    json_t              *plan, *limits, *value;
    ngx_int_t            rc;
    ngx_str_t            text;
    ngx_uint_t           i, n;
    const char          *name, *member;
    ngx_api_led_plan_t  *p;
    ngx_api_led_rate_t  *rate;

    if (plans == NULL) {
        return NGX_OK;
    }

    if (!json_is_object(plans)) {
        ngx_api_led_consumers_error(cf, mcf, "\"plans\" must be an object "
                                    "of plan names");
        return NGX_ERROR;
    }

    mcf->plans = ngx_pcalloc(cf->pool, (json_object_size(plans) + 1)
                                       * sizeof(ngx_api_led_plan_t));
    if (mcf->plans == NULL) {
        return NGX_ERROR;
    }

    json_object_foreach(plans, name, plan) {

        p = &mcf->plans[mcf->nplans];

        p->name.len = ngx_strlen(name);
        p->name.data = ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                       p->name.len, (u_char *) name });
        if (p->name.data == NULL) {
            return NGX_ERROR;
        }

        if (p->name.len == 0 || p->name.len > NGX_API_LED_CONSUMER_ID_MAX
            || !ngx_api_led_text_is_safe(&p->name))
        {
            ngx_api_led_consumers_error(cf, mcf, "invalid plan name \"%V\"",
                                        &p->name);
            return NGX_ERROR;
        }

        if (!json_is_object(plan)) {
            ngx_api_led_consumers_error(cf, mcf, "plan \"%V\" must be an "
                                        "object", &p->name);
            return NGX_ERROR;
        }

        json_object_foreach(plan, member, value) {
            if (ngx_strcmp(member, "limits") != 0
                && ngx_strcmp(member, "description") != 0)
            {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": unknown "
                                            "member \"%s\"", &p->name,
                                            member);
                return NGX_ERROR;
            }
        }

        limits = json_object_get(plan, "limits");
        n = limits ? json_array_size(limits) : 0;

        if (limits && !json_is_array(limits)) {
            ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": \"limits\" "
                                        "must be an array of rates such as "
                                        "\"100r/s\"", &p->name);
            return NGX_ERROR;
        }

        if (ngx_array_init(&p->limits, cf->pool, n ? n : 1,
                           sizeof(ngx_api_led_rate_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            value = json_array_get(limits, i);

            rc = ngx_api_led_json_string(cf, value, &text);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc != NGX_OK) {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": limit "
                                            "#%ui must be a string such as "
                                            "\"100r/s\"", &p->name, i + 1);
                return NGX_ERROR;
            }

            rate = ngx_array_push(&p->limits);
            if (rate == NULL) {
                return NGX_ERROR;
            }

            if (!ngx_api_led_text_is_safe(&text)
                || ngx_api_led_parse_rate(&text, rate) != NGX_OK)
            {
                ngx_api_led_consumers_error(cf, mcf, "plan \"%V\": invalid "
                                            "limit \"%V\", must be like "
                                            "\"100r/s\" (per s, m, h or d)",
                                            &p->name, &text);
                return NGX_ERROR;
            }
        }

        mcf->nplans++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_consumer_load(ngx_conf_t *cf,
    ngx_api_led_consumer_main_conf_t *mcf, json_t *obj, ngx_uint_t n,
    ngx_api_led_consumer_t *consumer)
{
    char          *text;
    json_t        *value, *keys, *id;
    ngx_int_t      rc;
    ngx_str_t      plan;
    ngx_uint_t     i;
    const char    *member;
    ngx_keyval_t  *kv;

    if (!json_is_object(obj)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui must be an "
                                    "object", n + 1);
        return NGX_ERROR;
    }

    id = json_object_get(obj, "id");

    if (id == NULL) {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui has no \"id\"",
                                    n + 1);
        return NGX_ERROR;
    }

    if (ngx_api_led_json_string(cf, id, &consumer->id) != NGX_OK
        || consumer->id.len == 0
        || consumer->id.len > NGX_API_LED_CONSUMER_ID_MAX
        || !ngx_api_led_text_is_safe(&consumer->id))
    {
        ngx_api_led_consumers_error(cf, mcf, "consumer #%ui: \"id\" must be "
                                    "a string of 1 to %d printable "
                                    "characters", n + 1,
                                    NGX_API_LED_CONSUMER_ID_MAX);
        return NGX_ERROR;
    }

    json_object_foreach(obj, member, value) {
        if (ngx_strcmp(member, "id") != 0
            && ngx_strcmp(member, "plan") != 0
            && ngx_strcmp(member, "metadata") != 0
            && ngx_strcmp(member, "keys") != 0
            && ngx_strcmp(member, "description") != 0)
        {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": unknown "
                                        "member \"%s\"", &consumer->id,
                                        member);
            return NGX_ERROR;
        }
    }

    /* plan */

    value = json_object_get(obj, "plan");

    if (value && !json_is_null(value)) {
        if (ngx_api_led_json_string(cf, value, &plan) != NGX_OK) {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"plan\" "
                                        "must be a string", &consumer->id);
            return NGX_ERROR;
        }

        for (i = 0; i < mcf->nplans; i++) {
            if (mcf->plans[i].name.len == plan.len
                && ngx_memcmp(mcf->plans[i].name.data, plan.data, plan.len)
                   == 0)
            {
                consumer->plan = &mcf->plans[i];
                break;
            }
        }

        if (consumer->plan == NULL) {
            ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": unknown "
                                        "plan \"%V\"", &consumer->id, &plan);
            return NGX_ERROR;
        }
    }

    /* metadata: strings as they are, other JSON values as compact JSON */

    value = json_object_get(obj, "metadata");

    if (ngx_array_init(&consumer->metadata, cf->pool,
                       value ? ngx_max(json_object_size(value), 1) : 1,
                       sizeof(ngx_keyval_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (value && !json_is_object(value)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"metadata\" "
                                    "must be an object", &consumer->id);
        return NGX_ERROR;
    }

    if (value) {
        json_t  *field;

        json_object_foreach(value, member, field) {
            kv = ngx_array_push(&consumer->metadata);
            if (kv == NULL) {
                return NGX_ERROR;
            }

            kv->key.len = ngx_strlen(member);
            kv->key.data = ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                           kv->key.len, (u_char *) member });
            if (kv->key.data == NULL) {
                return NGX_ERROR;
            }

            if (json_is_string(field)) {
                rc = ngx_api_led_json_string(cf, field, &kv->value);

                if (rc == NGX_ERROR) {
                    return NGX_ERROR;
                }

                if (rc != NGX_OK) {
                    ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": "
                                                "metadata \"%V\" holds a NUL "
                                                "character", &consumer->id,
                                                &kv->key);
                    return NGX_ERROR;
                }

            } else {
                text = json_dumps(field, JSON_ENCODE_ANY|JSON_COMPACT);
                if (text == NULL) {
                    return NGX_ERROR;
                }

                kv->value.len = ngx_strlen(text);
                kv->value.data = ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                                 kv->value.len,
                                                 (u_char *) text });
                free(text);

                if (kv->value.data == NULL) {
                    return NGX_ERROR;
                }
            }

            if (!ngx_api_led_text_is_safe(&kv->value)) {
                ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": "
                                            "metadata \"%V\" holds a control "
                                            "character", &consumer->id,
                                            &kv->key);
                return NGX_ERROR;
            }
        }
    }

    /* keys */

    keys = json_object_get(obj, "keys");

    if (keys == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(keys)) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": \"keys\" must "
                                    "be an array of strings",
                                    &consumer->id);
        return NGX_ERROR;
    }

    for (i = 0; i < json_array_size(keys); i++) {
        if (ngx_api_led_key_load(cf, mcf, consumer, json_array_get(keys, i),
                                 i, &mcf->keys[mcf->nkeys])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        mcf->nkeys++;
    }

    return NGX_OK;
}


/* a key: "sha256:<64 hex digits>" of the key, or the key itself */

static ngx_int_t
ngx_api_led_key_load(ngx_conf_t *cf, ngx_api_led_consumer_main_conf_t *mcf,
    ngx_api_led_consumer_t *consumer, json_t *value, ngx_uint_t index,
    ngx_api_led_key_t *key)
{
    u_char       *p, hi, lo;
    size_t        len;
    ngx_uint_t    i;
    SHA256_CTX    sha;
    const char   *s;

    key->consumer = consumer;
    key->index = index;

    if (!json_is_string(value) || json_string_length(value) == 0) {
        ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": key #%ui must "
                                    "be a non-empty string", &consumer->id,
                                    index + 1);
        return NGX_ERROR;
    }

    s = json_string_value(value);
    len = json_string_length(value);

    if (len >= 7 && ngx_strncasecmp((u_char *) s, (u_char *) "sha256:", 7)
                    == 0)
    {
        p = (u_char *) s + 7;

        if (len - 7 != 2 * NGX_API_LED_DIGEST_LEN) {
            goto invalid;
        }

        for (i = 0; i < NGX_API_LED_DIGEST_LEN; i++) {
            hi = ngx_tolower(p[2 * i]);
            lo = ngx_tolower(p[2 * i + 1]);

            if (!isxdigit(hi) || !isxdigit(lo)) {
                goto invalid;
            }

            hi = (hi >= 'a') ? hi - 'a' + 10 : hi - '0';
            lo = (lo >= 'a') ? lo - 'a' + 10 : lo - '0';

            key->digest[i] = (u_char) (hi << 4 | lo);
        }

        return NGX_OK;
    }

    SHA256_Init(&sha);
    SHA256_Update(&sha, s, len);
    SHA256_Final(key->digest, &sha);

    return NGX_OK;

invalid:

    ngx_api_led_consumers_error(cf, mcf, "consumer \"%V\": key #%ui starts "
                                "with \"sha256:\" but is not followed by 64 "
                                "hexadecimal digits", &consumer->id,
                                index + 1);
    return NGX_ERROR;
}


/* a JSON string copied to the configuration pool; NUL bytes refused */

static ngx_int_t
ngx_api_led_json_string(ngx_conf_t *cf, json_t *value, ngx_str_t *s)
{
    ngx_str_t  src;

    if (!json_is_string(value)) {
        return NGX_DECLINED;
    }

    src.data = (u_char *) json_string_value(value);
    src.len = json_string_length(value);

    if (ngx_strlen(src.data) != src.len) {
        return NGX_DECLINED;
    }

    s->len = src.len;
    s->data = ngx_pnalloc(cf->pool, src.len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, src.data, src.len);
    s->data[s->len] = '\0';

    return NGX_OK;
}


/* ids, plans and metadata may go into request headers: no control bytes */

static ngx_int_t
ngx_api_led_text_is_safe(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static int ngx_libc_cdecl
ngx_api_led_key_cmp(const void *one, const void *two)
{
    const ngx_api_led_key_t  *a = one;
    const ngx_api_led_key_t  *b = two;

    return ngx_memcmp(a->digest, b->digest, NGX_API_LED_DIGEST_LEN);
}


static int ngx_libc_cdecl
ngx_api_led_consumer_cmp(const void *one, const void *two)
{
    ngx_api_led_consumer_t  *a = *(ngx_api_led_consumer_t **) one;
    ngx_api_led_consumer_t  *b = *(ngx_api_led_consumer_t **) two;

    return ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


static ngx_api_led_consumer_t *
ngx_api_led_consumer_find_conf(ngx_api_led_consumer_main_conf_t *mcf,
    ngx_str_t *id)
{
    ngx_int_t                c;
    ngx_uint_t               lo, hi, mid;
    ngx_api_led_consumer_t  *consumer;

    lo = 0;
    hi = mcf->nconsumers;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        consumer = mcf->by_id[mid];

        c = ngx_memn2cmp(consumer->id.data, id->data, consumer->id.len,
                         id->len);

        if (c == 0) {
            return consumer;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


ngx_api_led_consumer_t *
ngx_api_led_consumer_find(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_api_led_consumer_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_api_led_consumer_module);

    return ngx_api_led_consumer_find_conf(mcf, id);
}


/*
 * The first step of the access pipeline.  "key": an API key is required;
 * "jwt": a token is required; "key jwt": an API key when the request
 * carries one, else a token.  With neither, the anonymous consumer if one
 * is configured, else 401 missing_credentials.
 */

ngx_int_t
ngx_api_led_auth_access(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_api_led_consumer_t            *consumer;
    ngx_api_led_credential_t           cred;
    ngx_api_led_consumer_loc_conf_t   *lcf;
    ngx_api_led_consumer_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_consumer_module);

    if (lcf->auth == 0) {
        return NGX_DECLINED;
    }

    if (lcf->auth & NGX_API_LED_AUTH_KEY) {

        rc = ngx_api_led_credential_read(r, lcf, &cred);
        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* hidden first, so that nothing logged below carries it */

        if (lcf->hide && (cred.in_header || cred.in_query)) {
            if (ngx_api_led_credential_hide(r, lcf, &cred) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (cred.ambiguous) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: the request carries different API keys");

            return ngx_api_led_auth_reject(r, lcf, NGX_API_LED_AUTH_KEY,
                                           "ambiguous_credentials",
                                           "the request carries more than "
                                           "one API key");
        }

        if (cred.key.data) {
            mcf = ngx_http_get_module_main_conf(r,
                                                ngx_api_led_consumer_module);

            consumer = ngx_api_led_key_lookup(mcf, &cred.key);

            if (consumer == NULL) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "api_led: invalid API key");

                return ngx_api_led_auth_reject(r, lcf, NGX_API_LED_AUTH_KEY,
                                               "invalid_api_key",
                                               "the API key is not valid");
            }

            ctx->consumer = consumer;
            ctx->consumer_id = consumer->id;
            ctx->auth_method = ngx_api_led_method_key;

            goto done;
        }
    }

    if (lcf->auth & NGX_API_LED_AUTH_JWT) {

        rc = ngx_api_led_jwt_authenticate(r, ctx);

        switch (rc) {

        case NGX_OK:
            goto done;

        case NGX_DECLINED:
            break;

        case NGX_AGAIN:
        case NGX_DONE:
            return rc;

        default:
            return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
        }
    }

    if (lcf->anonymous) {
        ctx->consumer = lcf->anonymous;
        ctx->consumer_id = lcf->anonymous->id;
        ctx->auth_method = ngx_api_led_method_anonymous;

        goto done;
    }

    return ngx_api_led_auth_reject(r, lcf, lcf->auth, "missing_credentials",
                                   (lcf->auth == NGX_API_LED_AUTH_KEY)
                                   ? "the request carries no API key"
                                   : (lcf->auth == NGX_API_LED_AUTH_JWT)
                                   ? "the request carries no bearer token"
                                   : "the request carries neither an API "
                                     "key nor a bearer token");

done:

    if (lcf->consumer_headers) {
        if (ngx_api_led_consumer_headers(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_DECLINED;
}


/*
 * 401 with a challenge for each accepted scheme.  The JWT challenge is set
 * first and ours added, so both survive whichever way the JWT module sets
 * its header.
 */

static ngx_int_t
ngx_api_led_auth_reject(ngx_http_request_t *r,
    ngx_api_led_consumer_loc_conf_t *lcf, ngx_uint_t challenges,
    const char *code, const char *detail)
{
    u_char                  *p;
    ngx_str_t                realm, value;
    ngx_table_elt_t         *h;
    ngx_api_led_loc_conf_t  *llcf;

    if (challenges & NGX_API_LED_AUTH_JWT) {
        if (ngx_api_led_jwt_challenge(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (challenges & NGX_API_LED_AUTH_KEY) {
        llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

        if (llcf->api.len) {
            realm = llcf->api;

        } else {
            ngx_str_set(&realm, "api");
        }

        value.len = sizeof("ApiKey realm=\"\"") - 1 + realm.len;
        value.data = ngx_pnalloc(r->pool, value.len);
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(value.data, "ApiKey realm=\"",
                       sizeof("ApiKey realm=\"") - 1);
        p = ngx_cpymem(p, realm.data, realm.len);
        *p = '"';

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        h->key = ngx_api_led_www_authenticate;
        h->value = value;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    return ngx_api_led_problem_finalize(r, NGX_HTTP_UNAUTHORIZED, code,
                                        detail);
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

        /* query: every "name=value" of the arguments, names as $arg_ */

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

            if ((size_t) (value - name) == src[k].name.len
                && ngx_strncasecmp(name, src[k].name.data, src[k].name.len)
                   == 0)
            {
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
    ngx_int_t    c;
    ngx_uint_t   lo, hi, mid;
    SHA256_CTX   sha;

    if (mcf->nkeys == 0) {
        return NULL;
    }

    SHA256_Init(&sha);
    SHA256_Update(&sha, key->data, key->len);
    SHA256_Final(digest, &sha);

    OPENSSL_cleanse(&sha, sizeof(SHA256_CTX));

    lo = 0;
    hi = mcf->nkeys;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        c = ngx_memcmp(mcf->keys[mid].digest, digest, NGX_API_LED_DIGEST_LEN);

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    if (lo < mcf->nkeys
        && CRYPTO_memcmp(mcf->keys[lo].digest, digest,
                         NGX_API_LED_DIGEST_LEN) == 0)
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
 * api_led_consumer_headers: the upstream learns who called.  Headers of
 * these names sent by the client are removed first: they are not to be
 * trusted.
 */

static ngx_int_t
ngx_api_led_consumer_headers(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    if (ngx_api_led_edit_headers_in_remove(r,
                                     &ngx_api_led_consumer_id_header.name)
        != NGX_OK
        || ngx_api_led_edit_headers_in_remove(r,
                                     &ngx_api_led_consumer_plan_header.name)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->consumer_id.len
        && ngx_api_led_header_value_is_safe(&ctx->consumer_id))
    {
        if (ngx_api_led_edit_headers_in_set(r,
                                            &ngx_api_led_consumer_id_header,
                                            &ctx->consumer_id, 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->consumer && ctx->consumer->plan) {
        if (ngx_api_led_edit_headers_in_set(r,
                                            &ngx_api_led_consumer_plan_header,
                                            &ctx->consumer->plan->name, 1)
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
