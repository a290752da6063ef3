
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The Redis service: one pipelined nginx connection per worker, hiredis
 * as the RESP codec only.
 */


#ifndef _NGX_API_LED_REDIS_H_INCLUDED_
#define _NGX_API_LED_REDIS_H_INCLUDED_


#include "ngx_api_led.h"


/*
 * ngx_api_led_redis.c: the Redis client of ngx_api_led_limit_module (one
 * pipelined nginx connection per worker, hiredis as the RESP codec only).
 * The handler gets the reply (never an error reply), or NULL when Redis
 * failed, exactly once.  The reply is freed when the handler returns.
 */
struct redisReply;

typedef struct ngx_api_led_redis_s          ngx_api_led_redis_t;
typedef struct ngx_api_led_redis_script_s   ngx_api_led_redis_script_t;
typedef struct ngx_api_led_redis_waiter_s   ngx_api_led_redis_waiter_t;

typedef void (*ngx_api_led_redis_handler_pt)(void *data,
    struct redisReply *reply);

char *ngx_api_led_redis_parse(ngx_conf_t *cf, ngx_api_led_redis_t **rdp);
ngx_api_led_redis_script_t *ngx_api_led_redis_add_script(ngx_conf_t *cf,
    ngx_api_led_redis_t *rd, ngx_str_t *text);
ngx_int_t ngx_api_led_redis_init_process(ngx_cycle_t *cycle,
    ngx_api_led_redis_t *rd);
void ngx_api_led_redis_exit_process(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_usable(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
ngx_msec_t ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd);
ngx_msec_t ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd);
ngx_uint_t ngx_api_led_redis_outage(ngx_api_led_redis_t *rd);


#endif /* _NGX_API_LED_REDIS_H_INCLUDED_ */
