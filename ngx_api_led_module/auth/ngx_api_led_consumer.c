
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Consumers, plans and API keys: the directives, the api_led_auth policy
 * of the access phase (which dispatches to the JWT module), hiding the
 * credential from the upstream, identity headers and the
 * $api_led_consumer_meta_NAME variables.  The consumers file is read in
 * ngx_api_led_consumer_file.c.
 */


#include "ngx_api_led_consumer.h"


/* what the request presented */
typedef struct {
    ngx_str_t                    key;
    unsigned                     in_header:1;
    unsigned                     in_query:1;
    unsigned                     ambiguous:1;
} ngx_api_led_credential_t;


static ngx_int_t ngx_api_led_consumer_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_consumer_init(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_auth_access(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static void *ngx_api_led_consumer_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_consumer_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_consumer_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);

static char *ngx_api_led_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_key_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_auth_anonymous(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

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
    ngx_api_led_consumer_init,             /* postconfiguration */

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


static ngx_int_t
ngx_api_led_consumer_init(ngx_conf_t *cf)
{
    return ngx_api_led_add_step(cf, NGX_API_LED_STEP_AUTH,
                                ngx_api_led_auth_access);
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

    if (conf->auth) {
        /* the access step runs where authentication applies, only */
        ngx_api_led_use_step(cf, NGX_API_LED_STEP_AUTH);
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

static ngx_int_t
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
