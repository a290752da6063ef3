
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Rate limits: GCRA, Redis and shared memory stores (not built yet).
 */


#include "ngx_api_led.h"


static ngx_http_module_t  ngx_api_led_limit_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */
    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_api_led_limit_module = {
    NGX_MODULE_V1,
    &ngx_api_led_limit_module_ctx,
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
ngx_api_led_limit_access(ngx_http_request_t *r, ngx_api_led_ctx_t *ctx)
{
    return NGX_DECLINED;
}


/* "N r/s|m|h|d" */

ngx_int_t
ngx_api_led_parse_rate(ngx_str_t *text, ngx_api_led_rate_t *rate)
{
    u_char     *p, *last;
    ngx_int_t   n;

    p = text->data;
    last = p + text->len;

    if (text->len < 4 || last[-2] != '/' || last[-3] != 'r') {
        return NGX_ERROR;
    }

    n = ngx_atoi(p, text->len - 3);
    if (n <= 0) {
        return NGX_ERROR;
    }

    switch (last[-1]) {
    case 's':
        rate->period = 1000;
        break;
    case 'm':
        rate->period = 60 * 1000;
        break;
    case 'h':
        rate->period = 60 * 60 * 1000;
        break;
    case 'd':
        rate->period = 24 * 60 * 60 * 1000;
        break;
    default:
        return NGX_ERROR;
    }

    rate->count = n;
    rate->text = *text;

    return NGX_OK;
}
