
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The authentication dispatcher: api_led_auth chooses the credential (an
 * API key, a bearer token, or the anonymous consumer), calls the API-key
 * check (ngx_api_led_consumer.c) or the JWT verifier
 * (ngx_api_led_jwt_verify.c), and answers a refusal through nginx: the
 * WWW-Authenticate challenge, then the status (401, 403 or 503), so that
 * error_page, satisfy and auth_delay apply.  The checks it calls never
 * call back into it.
 */


#include "ngx_api_led_auth.h"
#include "ngx_api_led_observe.h"


typedef struct {
    ngx_api_led_metric_t        *outcomes;    /* NULL: no metrics zone */
} ngx_api_led_auth_main_conf_t;


typedef struct {
    ngx_uint_t                   auth;        /* NGX_API_LED_AUTH_*, 0: off */
    ngx_flag_t                   consumer_headers;

    ngx_int_t                    anonymous_set;
    ngx_str_t                    anonymous_id;   /* len 0: off */
    ngx_api_led_consumer_t      *anonymous;

    /* where directives checked after parsing were written */
    u_char                      *auth_file;
    ngx_uint_t                   auth_line;
    u_char                      *anonymous_file;
    ngx_uint_t                   anonymous_line;
} ngx_api_led_auth_loc_conf_t;


static ngx_int_t ngx_api_led_auth_init(ngx_conf_t *cf);
static void *ngx_api_led_auth_create_main_conf(ngx_conf_t *cf);
static void *ngx_api_led_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_api_led_auth_anonymous(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_api_led_auth_access(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static ngx_int_t ngx_api_led_auth_decided(ngx_http_request_t *r,
    ngx_int_t rc, ngx_api_led_auth_refusal_t *rf, ngx_str_t *method);
static ngx_int_t ngx_api_led_auth_refuse(ngx_http_request_t *r,
    ngx_api_led_auth_refusal_t *rf);
static void ngx_api_led_auth_count(ngx_http_request_t *r, ngx_str_t *method,
    ngx_str_t *outcome, const char *reason);
static ngx_int_t ngx_api_led_auth_challenge(ngx_http_request_t *r,
    ngx_api_led_auth_refusal_t *rf);
static ngx_int_t ngx_api_led_consumer_headers(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static ngx_int_t ngx_api_led_auth_forget(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
static void ngx_api_led_auth_claims_cleanup(void *data);
static ngx_int_t ngx_api_led_auth_describe(ngx_conf_t *cf,
    ngx_api_led_auth_loc_conf_t *conf);


static ngx_str_t  ngx_api_led_method_anonymous = ngx_string("anonymous");

/* the auth metrics' methods and outcomes */
static ngx_str_t  ngx_api_led_auth_key = ngx_string("key");
static ngx_str_t  ngx_api_led_auth_jwt = ngx_string("jwt");
static ngx_str_t  ngx_api_led_auth_none = ngx_string("none");
static ngx_str_t  ngx_api_led_auth_authenticated =
    ngx_string("authenticated");
static ngx_str_t  ngx_api_led_auth_refused = ngx_string("refused");
static ngx_str_t  ngx_api_led_auth_error = ngx_string("error");

static ngx_api_led_edit_name_t  ngx_api_led_www_authenticate =
    { ngx_string("WWW-Authenticate"), ngx_string("www-authenticate"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_consumer_id_header =
    { ngx_string("X-Consumer-ID"), ngx_string("x-consumer-id"), 0 };
static ngx_api_led_edit_name_t  ngx_api_led_consumer_plan_header =
    { ngx_string("X-Consumer-Plan"), ngx_string("x-consumer-plan"), 0 };


static ngx_command_t  ngx_api_led_auth_commands[] = {

    { ngx_string("api_led_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_api_led_auth,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_auth_anonymous"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_api_led_auth_anonymous,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("api_led_consumer_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_api_led_auth_loc_conf_t, consumer_headers),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_auth_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_auth_init,                 /* postconfiguration */

    ngx_api_led_auth_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_auth_create_loc_conf,      /* create location configuration */
    ngx_api_led_auth_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_api_led_auth_module = {
    NGX_MODULE_V1,
    &ngx_api_led_auth_module_ctx,          /* module context */
    ngx_api_led_auth_commands,             /* module directives */
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
ngx_api_led_auth_init(ngx_conf_t *cf)
{
    ngx_api_led_main_conf_t       *lmcf;
    ngx_api_led_auth_main_conf_t  *amcf;

    static char  *labels[] = { "api", "method", "outcome", "reason", NULL };

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);
    lmcf->hide_credentials = ngx_api_led_auth_hide;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_auth_module);

    if (ngx_api_led_metric_add(cf, &amcf->outcomes, "api_led_auth",
                               "Authentications by the credential's method "
                               "and their outcome, with the reason of a "
                               "refusal.", NGX_API_LED_METRIC_COUNTER, labels)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_api_led_consumer_id_header.hash =
        ngx_hash_key(ngx_api_led_consumer_id_header.lowcase.data,
                     ngx_api_led_consumer_id_header.lowcase.len);
    ngx_api_led_consumer_plan_header.hash =
        ngx_hash_key(ngx_api_led_consumer_plan_header.lowcase.data,
                     ngx_api_led_consumer_plan_header.lowcase.len);

    if (ngx_api_led_consumer_describe_plans(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_api_led_add_step(cf, NGX_API_LED_STEP_AUTH,
                                ngx_api_led_auth_access);
}


static void *
ngx_api_led_auth_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     amcf->outcomes = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_auth_main_conf_t));
}


static void *
ngx_api_led_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_auth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_auth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->anonymous_id = { 0, NULL };
     *     conf->anonymous = NULL;
     *     conf->auth_file = NULL;
     *     conf->anonymous_file = NULL;
     */

    conf->auth = NGX_CONF_UNSET_UINT;
    conf->consumer_headers = NGX_CONF_UNSET;
    conf->anonymous_set = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_api_led_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_auth_loc_conf_t  *prev = parent;
    ngx_api_led_auth_loc_conf_t  *conf = child;

    ngx_str_t  *file;

    if (conf->auth == NGX_CONF_UNSET_UINT) {
        conf->auth = prev->auth;
        conf->auth_file = prev->auth_file;
        conf->auth_line = prev->auth_line;
    }

    if (conf->auth == NGX_CONF_UNSET_UINT) {
        conf->auth = 0;
    }

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

    file = ngx_api_led_consumers_file(cf);

    if ((conf->auth & NGX_API_LED_AUTH_KEY) && file->len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"api_led_auth key\" requires \"api_led_consumers\" "
                      "in the http block in %s:%ui",
                      conf->auth_file, conf->auth_line);
        return NGX_CONF_ERROR;
    }

    if (conf->anonymous_id.len && conf->anonymous == NULL) {
        conf->anonymous = ngx_api_led_consumer_find_conf(cf,
                                                         &conf->anonymous_id);

        if (conf->anonymous == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "api_led_auth_anonymous: no consumer \"%V\" in "
                          "the consumers file%s%V%s in %s:%ui",
                          &conf->anonymous_id,
                          file->len ? " \"" : "", file,
                          file->len ? "\"" : "",
                          conf->anonymous_file, conf->anonymous_line);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->auth) {
        /* the access step runs where authentication applies, only */
        ngx_api_led_use_step(cf, NGX_API_LED_STEP_AUTH);
    }

    if ((conf->auth & NGX_API_LED_AUTH_KEY)
        && ngx_api_led_key_hidden_variables(cf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if ((conf->auth & NGX_API_LED_AUTH_JWT)
        && ngx_api_led_jwt_hidden_variables(cf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_api_led_auth_describe(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The catalog: the credentials the location takes, where an API key is
 * looked for, the anonymous consumer; never a key
 */

static ngx_int_t
ngx_api_led_auth_describe(ngx_conf_t *cf, ngx_api_led_auth_loc_conf_t *conf)
{
    json_t  *entry, *auth, *methods;

    entry = ngx_api_led_catalog_entry(cf);

    if (entry == NULL || conf->auth == 0) {
        return NGX_OK;
    }

    methods = json_array();
    auth = json_pack("{s:o}", "methods", methods);

    if (auth == NULL || json_object_set_new(entry, "auth", auth)) {
        return NGX_ERROR;
    }

    if (((conf->auth & NGX_API_LED_AUTH_KEY)
         && json_array_append_new(methods, json_string("key")))
        || ((conf->auth & NGX_API_LED_AUTH_JWT)
            && json_array_append_new(methods, json_string("jwt"))))
    {
        return NGX_ERROR;
    }

    if ((conf->auth & NGX_API_LED_AUTH_KEY)
        && ngx_api_led_key_describe(cf, auth) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->anonymous_id.len
        && json_object_set_new(auth, "anonymous",
                               json_stringn((char *) conf->anonymous_id.data,
                                            conf->anonymous_id.len)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* api_led_auth off | key | jwt | key jwt */

static char *
ngx_api_led_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, auth;

    if (alcf->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    auth = 0;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        alcf->auth = 0;
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

    alcf->auth = auth;
    alcf->auth_file = cf->conf_file->file.name.data;
    alcf->auth_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* api_led_auth_anonymous CONSUMER_ID | off */

static char *
ngx_api_led_auth_anonymous(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_auth_loc_conf_t *alcf = conf;

    ngx_str_t  *value;

    if (alcf->anonymous_set != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    alcf->anonymous_set = 1;
    alcf->anonymous_file = cf->conf_file->file.name.data;
    alcf->anonymous_line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_null(&alcf->anonymous_id);
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        return "has an empty consumer id";
    }

    alcf->anonymous_id = value[1];

    return NGX_CONF_OK;
}


/*
 * The first step of the access pipeline.  "key": an API key is required;
 * "jwt": a token is required; "key jwt": an API key when the request
 * carries one, else a token.  With neither, the anonymous consumer if one
 * is configured, else 401 missing_credentials.  NGX_OK when a credential
 * proved the identity: under "satisfy any" that grants access, as
 * auth_basic's success does.
 */

static ngx_int_t
ngx_api_led_auth_access(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_str_t                    *method, token;
    ngx_uint_t                    bearer;
    ngx_api_led_auth_refusal_t    rf;
    ngx_api_led_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_api_led_auth_module);

    if (alcf->auth == 0) {
        return NGX_DECLINED;
    }

    if (ctx->authenticated) {

        if (ctx->jwt_token.len == 0 && (alcf->auth & NGX_API_LED_AUTH_KEY)) {
            /* an API key proven before an internal redirect holds */
            return NGX_OK;
        }

        /*
         * A token proven before an internal redirect is checked again with
         * this location's keys and rules (api_led_jwt_require...); an
         * identity of a credential this location does not take is
         * forgotten: the request is authenticated again.
         */

        ngx_str_null(&token);

        if (alcf->auth & NGX_API_LED_AUTH_JWT) {
            token = ctx->jwt_token;
        }

        if (ngx_api_led_auth_forget(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->jwt_token = token;
    }

    ngx_memzero(&rf, sizeof(ngx_api_led_auth_refusal_t));

    rc = NGX_DECLINED;
    bearer = 0;
    method = &ngx_api_led_auth_none;

    if (alcf->auth & NGX_API_LED_AUTH_KEY) {
        rc = ngx_api_led_key_authenticate(r, ctx, &rf);
        method = &ngx_api_led_auth_key;
    }

    if (rc == NGX_DECLINED && (alcf->auth & NGX_API_LED_AUTH_JWT)) {
        rc = ngx_api_led_jwt_authenticate(r, ctx, &rf);
        bearer = 1;
        method = &ngx_api_led_auth_jwt;
    }

    /*
     * Nothing unverified goes upstream: when the API key decided ("key
     * jwt": it proved the request, or it was refused and satisfy any or an
     * error_page may still let the request go on), a bearer token beside
     * it leaves the request (the JWT check removes the tokens it decided
     * on itself).
     */

    if ((alcf->auth & NGX_API_LED_AUTH_JWT) && !bearer
        && (rc == NGX_OK || rc == NGX_API_LED_AUTH_REFUSED))
    {
        if (ngx_api_led_jwt_hide(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        method = alcf->anonymous ? &ngx_api_led_method_anonymous
                                 : &ngx_api_led_auth_none;
    }

    rc = ngx_api_led_auth_decided(r, rc, &rf, method);

    if (rc != NGX_OK || !bearer) {
        /* no token proved the request */
        ngx_str_null(&ctx->jwt_token);
    }

    switch (rc) {

    case NGX_OK:
        ctx->authenticated = 1;
        break;

    case NGX_API_LED_AUTH_REFUSED:
        return ngx_api_led_auth_refuse(r, &rf);

    case NGX_DECLINED:

        if (alcf->anonymous) {
            ctx->consumer = alcf->anonymous;
            ctx->consumer_id = alcf->anonymous->id;
            ctx->auth_method = ngx_api_led_method_anonymous;
            break;
        }

        rf.status = NGX_HTTP_UNAUTHORIZED;
        rf.code = "missing_credentials";
        rf.schemes = alcf->auth;
        rf.detail = (alcf->auth == NGX_API_LED_AUTH_KEY)
                    ? "the request carries no API key"
                    : (alcf->auth == NGX_API_LED_AUTH_JWT)
                    ? "the request carries no bearer token"
                    : "the request carries neither an API key nor a bearer "
                      "token";

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: %s", rf.detail);

        return ngx_api_led_auth_refuse(r, &rf);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (alcf->consumer_headers) {
        if (ngx_api_led_consumer_headers(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* a credential grants access ("satisfy any"), the anonymous one not */

    return ctx->authenticated ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_api_led_auth_hide(ngx_http_request_t *r)
{
    ngx_api_led_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_api_led_auth_module);

    if ((alcf->auth & NGX_API_LED_AUTH_KEY)
        && ngx_api_led_key_hide(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* an unverified token goes whatever api_led_jwt_hide says */

    if ((alcf->auth & NGX_API_LED_AUTH_JWT)
        && ngx_api_led_jwt_hide(r) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An identity proven before an internal redirect that does not hold in the
 * new location: the request is no one's until it is authenticated again.
 * Values taken from the claims ($api_led_jwt_claim_*, the consumer's id)
 * may still be in use: the claims go with the request.
 */

static ngx_int_t
ngx_api_led_auth_forget(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (ctx->claims) {
        cln = ngx_pool_cleanup_add(r->main->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_api_led_auth_claims_cleanup;
        cln->data = ctx->claims;

        ctx->claims = NULL;
    }

    ctx->authenticated = 0;
    ctx->consumer = NULL;
    ngx_str_null(&ctx->consumer_id);
    ngx_str_null(&ctx->auth_method);
    ngx_str_null(&ctx->jwt_token);

    return NGX_OK;
}


static void
ngx_api_led_auth_claims_cleanup(void *data)
{
    json_decref(data);
}


/*
 * The check decided (not NGX_AGAIN): counted once, by the method of the
 * credential the request carried ("none", or "anonymous" when the
 * anonymous consumer takes a request without one) and the outcome.
 */

static ngx_int_t
ngx_api_led_auth_decided(ngx_http_request_t *r, ngx_int_t rc,
    ngx_api_led_auth_refusal_t *rf, ngx_str_t *method)
{
    switch (rc) {

    case NGX_OK:
        ngx_api_led_auth_count(r, method, &ngx_api_led_auth_authenticated,
                               NULL);
        break;

    case NGX_API_LED_AUTH_REFUSED:
        ngx_api_led_auth_count(r, method, &ngx_api_led_auth_refused,
                               rf->reason ? rf->reason : rf->code);
        break;

    case NGX_DECLINED:
        if (method == &ngx_api_led_method_anonymous) {
            ngx_api_led_auth_count(r, method, method, NULL);

        } else {
            ngx_api_led_auth_count(r, method, &ngx_api_led_auth_refused,
                                   "missing_credentials");
        }

        break;

    default:
        ngx_api_led_auth_count(r, method, &ngx_api_led_auth_error, NULL);
    }

    return rc;
}


static void
ngx_api_led_auth_count(ngx_http_request_t *r, ngx_str_t *method,
    ngx_str_t *outcome, const char *reason)
{
    ngx_str_t                      values[4];
    ngx_api_led_loc_conf_t        *llcf;
    ngx_api_led_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_api_led_auth_module);

    if (amcf->outcomes == NULL) {
        return;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    values[0] = llcf->api;
    values[1] = *method;
    values[2] = *outcome;

    if (reason) {
        values[3].data = (u_char *) reason;
        values[3].len = ngx_strlen(reason);

    } else {
        ngx_str_null(&values[3]);
    }

    ngx_api_led_metric_count(amcf->outcomes, values, 1, r->connection->log);
}


/*
 * A refusal goes to nginx as a status, the challenge set first (as
 * auth_basic does); the problem is the body unless an error_page applies.
 */

static ngx_int_t
ngx_api_led_auth_refuse(ngx_http_request_t *r, ngx_api_led_auth_refusal_t *rf)
{
    ngx_api_led_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_api_led_auth_module);

    /*
     * "satisfy any" (allow...) may still let the request in: the client's
     * X-Consumer-ID and X-Consumer-Plan go all the same, the upstream
     * trusts them
     */

    if (alcf->consumer_headers
        && (ngx_api_led_edit_headers_in_remove(r,
                                 &ngx_api_led_consumer_id_header.name)
            != NGX_OK
            || ngx_api_led_edit_headers_in_remove(r,
                                 &ngx_api_led_consumer_plan_header.name)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rf->schemes && ngx_api_led_auth_challenge(r, rf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_api_led_problem_refuse(r, rf->status, rf->code, "%s",
                                      rf->detail);
}


/*
 * The one WWW-Authenticate builder: a challenge for each scheme of the
 * refusal, in one header (RFC 9110 11.6.1), the realm being the API's
 * name.  A bearer token's refusal says why (RFC 6750 3).  The parameters
 * are the module's own texts and a scope checked for scope-token
 * characters: nothing from the request can break out of the quotes.
 */

static ngx_int_t
ngx_api_led_auth_challenge(ngx_http_request_t *r,
    ngx_api_led_auth_refusal_t *rf)
{
    u_char                  *p;
    size_t                   len;
    ngx_str_t                realm, value;
    ngx_uint_t               i, scope;
    ngx_api_led_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    if (llcf->api.len) {
        realm = llcf->api;

    } else {
        ngx_str_set(&realm, "api");
    }

    scope = (rf->scope.len != 0);

    for (i = 0; i < rf->scope.len; i++) {
        if (rf->scope.data[i] < 0x21 || rf->scope.data[i] > 0x7e
            || rf->scope.data[i] == '"' || rf->scope.data[i] == '\\')
        {
            scope = 0;
            break;
        }
    }

    len = sizeof("Bearer realm=\"\", ApiKey realm=\"\"") - 1 + 2 * realm.len;

    if (rf->bearer_error) {
        len += sizeof(", error=\"\", error_description=\"\"") - 1
               + ngx_strlen(rf->code) + ngx_strlen(rf->detail);

        if (scope) {
            len += sizeof(", scope=\"\"") - 1 + rf->scope.len;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value.data = p;

    if (rf->schemes & NGX_API_LED_AUTH_JWT) {
        p = ngx_sprintf(p, "Bearer realm=\"%V\"", &realm);

        if (rf->bearer_error) {
            p = ngx_sprintf(p, ", error=\"%s\", error_description=\"%s\"",
                            rf->code, rf->detail);

            if (scope) {
                p = ngx_sprintf(p, ", scope=\"%V\"", &rf->scope);
            }
        }
    }

    if (rf->schemes & NGX_API_LED_AUTH_KEY) {
        if (p != value.data) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_sprintf(p, "ApiKey realm=\"%V\"", &realm);
    }

    value.len = p - value.data;

    return ngx_api_led_edit_headers_out(r, NGX_API_LED_EDIT_SET,
                                        &ngx_api_led_www_authenticate, NULL,
                                        &value);
}


/*
 * api_led_consumer_headers: the upstream learns who called.  Headers of
 * these names sent by the client are removed first: they are not to be
 * trusted.
 */

static ngx_int_t
ngx_api_led_consumer_headers(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    /*
     * every X-Consumer-* of the client goes, also where no API location
     * removed them: the subrequests of this request (auth_request, mirror)
     * then keep the gateway's own
     */

    if (!ctx->consumer_cleaned) {
        ngx_api_led_request_headers(r, ctx);

        if (ctx->consumer_headers
            && ngx_api_led_strip_consumer(r, ctx) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

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
