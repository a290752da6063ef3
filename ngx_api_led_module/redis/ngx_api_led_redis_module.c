
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * ngx_api_led_redis_module: the one Redis configuration of the module
 * (api_led_redis) and a worker's shared connection.  The concerns that
 * talk to Redis (the rate limits, the events) find the configuration here
 * at configuration time, and at run time the connection the worker made
 * at init_process: one pipelined connection a worker, shared by every
 * concern.
 */


#include "ngx_api_led_redis.h"


typedef struct {
    ngx_api_led_redis_conf_t      *conf;      /* NULL: no api_led_redis */
    unsigned                       used:1;    /* some concern sends */
} ngx_api_led_redis_main_conf_t;


static char *ngx_api_led_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_api_led_redis_create_main_conf(ngx_conf_t *cf);
static ngx_int_t ngx_api_led_redis_init_process(ngx_cycle_t *cycle);
static void ngx_api_led_redis_exit_process(ngx_cycle_t *cycle);


/* this worker's shared connection, made at init_process */
static ngx_api_led_redis_t  *ngx_api_led_redis_worker;


static ngx_command_t  ngx_api_led_redis_commands[] = {

    { ngx_string("api_led_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_api_led_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_api_led_redis_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_api_led_redis_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_redis_module = {
    NGX_MODULE_V1,
    &ngx_api_led_redis_module_ctx,         /* module context */
    ngx_api_led_redis_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_api_led_redis_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_api_led_redis_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static char *
ngx_api_led_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_api_led_redis_main_conf_t *rmcf = conf;

    if (rmcf->conf) {
        return "is duplicate";
    }

    return ngx_api_led_redis_parse(cf, &rmcf->conf);
}


static void *
ngx_api_led_redis_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->conf = NULL;
     *     rmcf->used = 0;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_main_conf_t));
}


/* after the http block is parsed (init_main_conf, merge, postconfiguration) */

ngx_api_led_redis_conf_t *
ngx_api_led_redis_configured(ngx_conf_t *cf)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_redis_module);

    return rmcf->conf;
}


ngx_api_led_redis_conf_t *
ngx_api_led_redis_use(ngx_conf_t *cf)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_redis_module);

    if (rmcf->conf) {
        rmcf->used = 1;
    }

    return rmcf->conf;
}


ngx_api_led_redis_t *
ngx_api_led_redis_shared(void)
{
    return ngx_api_led_redis_worker;
}


/*
 * The connection is not in the cycle's pool: it lives as long as the
 * worker, freed at exit_process (before the concerns free the state its
 * replies would reach: the module comes first).
 */

static ngx_int_t
ngx_api_led_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_api_led_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_api_led_redis_module);

    if (rmcf == NULL || rmcf->conf == NULL || !rmcf->used) {
        return NGX_OK;
    }

    ngx_api_led_redis_worker = ngx_api_led_redis_create(cycle, rmcf->conf);
    if (ngx_api_led_redis_worker == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_api_led_redis_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_api_led_redis_worker) {
        ngx_api_led_redis_destroy(ngx_api_led_redis_worker);
        ngx_api_led_redis_worker = NULL;
    }
}
