
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The Redis service: one pipelined nginx connection per worker, hiredis
 * as the RESP codec only.
 */


#ifndef _NGX_API_LED_REDIS_H_INCLUDED_
#define _NGX_API_LED_REDIS_H_INCLUDED_


#include "ngx_api_led.h"


/* api_led_redis defaults */
#define NGX_API_LED_REDIS_PORT              6379
#define NGX_API_LED_REDIS_CONNECT_TIMEOUT   1000
#define NGX_API_LED_REDIS_TIMEOUT           500


/*
 * ngx_api_led_redis.c: the Redis client of ngx_api_led_limit_module (one
 * pipelined nginx connection per worker, hiredis as the RESP codec only).
 * The handler gets the reply (never an error reply), or NULL when Redis
 * failed, exactly once.  The reply is freed when the handler returns.
 *
 * The configuration (ngx_api_led_redis_conf_t: address, credentials,
 * timeouts, scripts) is read-only once loaded; a worker's connection and
 * its queues (ngx_api_led_redis_t) are made by ngx_api_led_redis_create()
 * at init_process and go with ngx_api_led_redis_destroy().
 */
struct redisReply;

typedef struct ngx_api_led_redis_conf_s     ngx_api_led_redis_conf_t;
typedef struct ngx_api_led_redis_s          ngx_api_led_redis_t;
typedef struct ngx_api_led_redis_script_s   ngx_api_led_redis_script_t;
typedef struct ngx_api_led_redis_waiter_s   ngx_api_led_redis_waiter_t;

typedef void (*ngx_api_led_redis_handler_pt)(void *data,
    struct redisReply *reply);

char *ngx_api_led_redis_parse(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t **rcfp);
ngx_api_led_redis_script_t *ngx_api_led_redis_add_script(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *text);
ngx_api_led_redis_t *ngx_api_led_redis_create(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf);
void ngx_api_led_redis_destroy(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_usable(ngx_api_led_redis_t *rd);
ngx_int_t ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
ngx_msec_t ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd);
ngx_msec_t ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd);
ngx_uint_t ngx_api_led_redis_outage(ngx_api_led_redis_t *rd);


/*
 * What a worker's connection to a node goes through, for the metrics.
 * redis/ cannot count (observe/ is above it): the owner of the
 * configuration hands it an observer once configured
 * (ngx_api_led_observe_redis()), and each node's connection reports
 * through ngx_api_led_redis_node_event(), where it happens, with its name
 * ("host:port") and a field of its own that keeps its state: a state
 * (CONNECTING until its first handshake is done, UP, DOWN while its
 * circuit is open, GONE when the worker lets it go; the observer hears of
 * a change once, with the state left), or a call's end after "ms" (a
 * reply, an error reply; no reply at all: timeout, connection lost).
 * Without an observer it costs a test.
 */
#define NGX_API_LED_REDIS_NODE_CONNECTING   1
#define NGX_API_LED_REDIS_NODE_UP           2
#define NGX_API_LED_REDIS_NODE_DOWN         3
#define NGX_API_LED_REDIS_NODE_GONE         4
#define NGX_API_LED_REDIS_CALL_OK           5
#define NGX_API_LED_REDIS_CALL_ERROR        6
#define NGX_API_LED_REDIS_CALL_FAILED       7

typedef void (*ngx_api_led_redis_observer_pt)(void *data, ngx_str_t *node,
    ngx_uint_t event, ngx_uint_t from, ngx_msec_int_t ms, ngx_log_t *log);

void ngx_api_led_redis_set_observer(ngx_api_led_redis_conf_t *rcf,
    ngx_api_led_redis_observer_pt handler, void *data);
void ngx_api_led_redis_node_event(ngx_api_led_redis_conf_t *rcf,
    ngx_str_t *node, ngx_uint_t *state, ngx_uint_t event, ngx_msec_int_t ms,
    ngx_log_t *log);


#endif /* _NGX_API_LED_REDIS_H_INCLUDED_ */
