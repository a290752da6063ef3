
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Consumers, plans and API keys (not built yet).
 */


#include "ngx_api_led.h"


static ngx_http_module_t  ngx_api_led_consumer_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_consumer_module = {
    NGX_MODULE_V1,
    &ngx_api_led_consumer_module_ctx,
    NULL,                                  /* module directives */
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


ngx_int_t
ngx_api_led_auth_access(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    return NGX_DECLINED;
}


ngx_api_led_consumer_t *
ngx_api_led_consumer_find(ngx_http_request_t *r, ngx_str_t *id)
{
    return NULL;
}
