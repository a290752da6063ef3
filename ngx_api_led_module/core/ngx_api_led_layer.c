
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The layer contract (api_led_callers): which layers may call an API.  It
 * is checked in the preaccess phase, which nginx runs for subrequests too
 * (the parts of a composition), unlike the access phase.  The caller of a
 * subrequest is the location of its parent request; a main request's
 * caller is the client, or the layer of another node that a signed caller
 * assertion names (ngx_api_led_caller.c).
 *
 * A client's request is refused through nginx (403 with a problem body
 * unless an error_page applies).  A part is answered here, with the
 * problem: nginx builds no error page for a part whose post-subrequest
 * handler takes its status, and the composition lends the problem's
 * detail to its own answer.
 */


#include "ngx_api_led.h"


/*
 * api_led_callers: a bit per caller, 1 << NGX_API_LED_LAYER_* for the
 * layers (NONE: a location that is no API) and 1 << 4 for clients
 * (NGX_API_LED_CALLER_CLIENT)
 */
#define NGX_API_LED_CALLER_ANY     0x1f


typedef struct {
    ngx_uint_t                   callers;     /* 0: no contract */
} ngx_api_led_layer_loc_conf_t;


static ngx_int_t ngx_api_led_layer_init(ngx_conf_t *cf);
static void *ngx_api_led_layer_create_loc_conf(ngx_conf_t *cf);
static char *ngx_api_led_layer_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_api_led_callers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_api_led_layer_handler(ngx_http_request_t *r);


ngx_str_t  ngx_api_led_caller_names[] = {
    ngx_string("none"),
    ngx_string("experience"),
    ngx_string("process"),
    ngx_string("system"),
    ngx_string("client")
};


static ngx_command_t  ngx_api_led_layer_commands[] = {

    { ngx_string("api_led_callers"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_api_led_callers,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_layer_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_api_led_layer_init,                /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_api_led_layer_create_loc_conf,     /* create location configuration */
    ngx_api_led_layer_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_api_led_layer_module = {
    NGX_MODULE_V1,
    &ngx_api_led_layer_module_ctx,         /* module context */
    ngx_api_led_layer_commands,            /* module directives */
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
ngx_api_led_layer_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_api_led_main_conf_t    *lmcf;
    ngx_http_core_main_conf_t  *cmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);

    if (!lmcf->callers) {
        /* no layer contract anywhere: no handler */
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_api_led_layer_handler;

    return NGX_OK;
}


static void *
ngx_api_led_layer_create_loc_conf(ngx_conf_t *cf)
{
    ngx_api_led_layer_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_api_led_layer_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->callers = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_api_led_layer_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_api_led_layer_loc_conf_t  *prev = parent;
    ngx_api_led_layer_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->callers, prev->callers, 0);

    return NGX_CONF_OK;
}


/*
 * The callers the location being configured accepts, by name (the
 * catalog lists them): "any", or some of "experience", "process",
 * "system" and "client"; none without a contract.  "names" has room for 5.
 */

ngx_uint_t
ngx_api_led_callers_names(ngx_conf_t *cf, ngx_str_t *names)
{
    ngx_uint_t                     i, n;
    ngx_api_led_layer_loc_conf_t  *lcf;

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_api_led_layer_module);

    if (lcf->callers == NGX_CONF_UNSET_UINT || lcf->callers == 0) {
        return 0;
    }

    if (lcf->callers == NGX_API_LED_CALLER_ANY) {
        ngx_str_set(&names[0], "any");
        return 1;
    }

    n = 0;

    for (i = 1; i <= NGX_API_LED_CALLER_CLIENT; i++) {
        if (lcf->callers & (1U << i)) {
            names[n++] = ngx_api_led_caller_names[i];
        }
    }

    return n;
}


/* api_led_callers experience | process | system | client | any ... */

static char *
ngx_api_led_callers(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_layer_loc_conf_t *lcf = conf;

    ngx_str_t                *value;
    ngx_uint_t                i, k;
    ngx_api_led_main_conf_t  *lmcf;

    if (lcf->callers != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_module);
    lmcf->callers = 1;

    value = cf->args->elts;
    lcf->callers = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "any") == 0) {
            lcf->callers |= NGX_API_LED_CALLER_ANY;
            continue;
        }

        for (k = 1; k <= NGX_API_LED_CALLER_CLIENT; k++) {
            if (ngx_strcmp(value[i].data, ngx_api_led_caller_names[k].data)
                == 0)
            {
                break;
            }
        }

        if (k > NGX_API_LED_CALLER_CLIENT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown caller \"%V\", must be "
                               "\"experience\", \"process\", \"system\", "
                               "\"client\" or \"any\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        lcf->callers |= 1U << k;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_api_led_layer_handler(ngx_http_request_t *r)
{
    u_char                        *p, allowed[128];
    ngx_str_t                      none;
    ngx_uint_t                     caller, i;
    ngx_api_led_loc_conf_t        *llcf, *pllcf;
    ngx_api_led_main_conf_t       *lmcf;
    ngx_api_led_layer_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_api_led_layer_module);

    if (lcf->callers == 0) {
        return NGX_DECLINED;
    }

    if (r == r->main) {
        /* a client, or another node's layer that signed an assertion */
        caller = ngx_api_led_caller_of(r, NGX_API_LED_CALLER_CLIENT);
        pllcf = NULL;

    } else {
        pllcf = ngx_http_get_module_loc_conf(r->parent, ngx_api_led_module);
        caller = pllcf->layer;
    }

    if (lcf->callers & (1U << caller)) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_api_led_module);

    p = allowed;

    for (i = 1; i <= NGX_API_LED_CALLER_CLIENT; i++) {
        if (lcf->callers & (1U << i)) {
            p = ngx_slprintf(p, allowed + sizeof(allowed), "%s%V",
                             p == allowed ? "" : " ",
                             &ngx_api_led_caller_names[i]);
        }
    }

    ngx_str_set(&none, "-");

    if (pllcf) {
        ngx_log_error(ngx_api_led_callers_log_level(r), r->connection->log, 0,
                      "api_led: layer violation: api \"%V\" called from "
                      "\"%V\" (api \"%V\", layer %V), allowed callers: %*s",
                      llcf->api.len ? &llcf->api : &none,
                      ngx_api_led_log_value(r->pool, &r->parent->uri),
                      pllcf->api.len ? &pllcf->api : &none,
                      &ngx_api_led_caller_names[caller],
                      p - allowed, allowed);

        if (ngx_api_led_problem_detail_public(r)) {
            /* the layer rules stay in the error log */
            return ngx_api_led_problem_finalize(r, NGX_HTTP_FORBIDDEN,
                                                "layer_violation", "");
        }

        return ngx_api_led_problem_finalize(r, NGX_HTTP_FORBIDDEN,
                                            "layer_violation",
                                            "the %V layer may not call this "
                                            "API",
                                            &ngx_api_led_caller_names[caller]);
    }

    /*
     * refused before authentication: the key or token of the request line
     * goes from it first, as authentication would have removed it, so
     * that neither this line nor the access log records it
     */

    lmcf = ngx_http_get_module_main_conf(r, ngx_api_led_module);

    if (lmcf->hide_credentials && lmcf->hide_credentials(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (caller != NGX_API_LED_CALLER_CLIENT) {
        ngx_log_error(ngx_api_led_callers_log_level(r), r->connection->log, 0,
                      "api_led: layer violation: api \"%V\" called by "
                      "another node's api \"%V\" (layer %V), allowed "
                      "callers: %*s",
                      llcf->api.len ? &llcf->api : &none,
                      ngx_api_led_caller_api(r),
                      &ngx_api_led_caller_names[caller],
                      p - allowed, allowed);

    } else {
        ngx_log_error(ngx_api_led_callers_log_level(r), r->connection->log, 0,
                      "api_led: layer violation: api \"%V\" called by a "
                      "client, allowed callers: %*s",
                      llcf->api.len ? &llcf->api : &none,
                      p - allowed, allowed);
    }

    if (ngx_api_led_problem_detail_public(r)) {
        return ngx_api_led_problem_refuse(r, NGX_HTTP_FORBIDDEN,
                                          "layer_violation", "");
    }

    return ngx_api_led_problem_refuse(r, NGX_HTTP_FORBIDDEN,
                                      "layer_violation",
                                      "the %V layer may not call this API",
                                      &ngx_api_led_caller_names[caller]);
}


/* api_led_callers of a location, for the layer check at nginx -t */

ngx_uint_t
ngx_api_led_layer_callers(void **loc_conf)
{
    ngx_api_led_layer_loc_conf_t  *lcf;

    lcf = loc_conf[ngx_api_led_layer_module.ctx_index];

    return lcf->callers;
}
