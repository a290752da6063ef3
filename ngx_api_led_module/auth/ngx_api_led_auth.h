
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * What the authentication files (auth/) share: the consumers store that
 * API keys, JWT subjects and the anonymous consumer resolve to, and the
 * JWT verifier the api_led_auth step calls.
 */


#ifndef _NGX_API_LED_AUTH_H_INCLUDED_
#define _NGX_API_LED_AUTH_H_INCLUDED_


#include "ngx_api_led.h"


extern ngx_module_t  ngx_api_led_consumer_module;
extern ngx_module_t  ngx_api_led_jwt_module;


/* ngx_api_led_consumer.c: the consumer of that id, NULL if none */
ngx_api_led_consumer_t *ngx_api_led_consumer_find(ngx_http_request_t *r,
    ngx_str_t *id);

/*
 * ngx_api_led_jwt.c: NGX_OK when a token was verified (ctx filled),
 * NGX_DECLINED when the request carries no token, NGX_AGAIN while keys are
 * fetched, NGX_DONE after answering 401/403 itself, NGX_ERROR.
 */
ngx_int_t ngx_api_led_jwt_authenticate(ngx_http_request_t *r,
    ngx_api_led_ctx_t *ctx);
ngx_int_t ngx_api_led_jwt_challenge(ngx_http_request_t *r);


#endif /* _NGX_API_LED_AUTH_H_INCLUDED_ */
