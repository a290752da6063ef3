
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the rate-limit concern (ngx_api_led_limit*.c): its
 * configuration, request state and the shared-memory store's structures.
 * Nothing outside the limit files includes it.
 */


#ifndef _NGX_API_LED_LIMIT_H_INCLUDED_
#define _NGX_API_LED_LIMIT_H_INCLUDED_


#include "ngx_api_led_redis.h"
#include "ngx_api_led_observe.h"
#include <hiredis/hiredis.h>
#include <openssl/sha.h>


extern ngx_module_t  ngx_api_led_limit_module;


#define NGX_API_LED_LIMIT_KEY_MAX        256
/* the largest tau, burst * T: 2^53 microseconds, about 285 years */
#define NGX_API_LED_LIMIT_TAU_MAX        ((uint64_t) 1 << 53)
/* the shared-memory zone when api_led_rate_limit_zone does not size it */
#define NGX_API_LED_LIMIT_ZONE_SIZE      (1024 * 1024)
/* a plan limit's name: "minute:16" */
#define NGX_API_LED_LIMIT_NAME_LEN       (sizeof("minute:") + NGX_INT_T_LEN)

#define NGX_API_LED_LIMIT_ON_ERROR_LOCAL   0
#define NGX_API_LED_LIMIT_ON_ERROR_OPEN    1
#define NGX_API_LED_LIMIT_ON_ERROR_CLOSED  2

#define NGX_API_LED_LIMIT_STORE_NONE     0
#define NGX_API_LED_LIMIT_STORE_REDIS    1
#define NGX_API_LED_LIMIT_STORE_LOCAL    2

#define NGX_API_LED_LIMIT_WAITING        1
#define NGX_API_LED_LIMIT_REPLIED        2
#define NGX_API_LED_LIMIT_DONE           3


/* one api_led_rate_limit directive */
typedef struct {
    ngx_api_led_rate_t              rate;
    ngx_uint_t                      burst;
    ngx_http_complex_value_t       *key;       /* NULL: consumer or address */
    ngx_str_t                       name;
    ngx_uint_t                      on_error;
    ngx_array_t                    *defaults;  /* "plan": ngx_api_led_rate_t
                                                  without a plan, or NULL */
    unsigned                        plan:1;
} ngx_api_led_limit_conf_t;


typedef struct ngx_api_led_limit_batch_s  ngx_api_led_limit_batch_t;


/* read-only once loaded: the worker's state is apart, below */
typedef struct {
    ngx_api_led_redis_conf_t       *redis;     /* NULL: no api_led_redis */
    ngx_api_led_redis_script_t     *script;
    ngx_shm_zone_t                 *shm_zone;

    /* metrics, NULL without a metrics zone */
    ngx_api_led_metric_t           *decisions;
    ngx_api_led_metric_t           *redis_requests;

    unsigned                        need_local:1;
} ngx_api_led_limit_main_conf_t;


/*
 * A worker's state of the rate limits, made at init_process when Redis
 * is configured (ngx_api_led_limit.c keeps it): its Redis connection and
 * its batches of requests, which point to requests and so never belong
 * in the configuration.
 */
typedef struct {
    ngx_api_led_limit_main_conf_t  *conf;
    ngx_api_led_redis_t            *redis;
    ngx_queue_t                     filling;   /* the last one is open */
    ngx_queue_t                     flight;
    ngx_api_led_limit_batch_t      *spare;
    ngx_event_t                     flush;
    ngx_uint_t                      warned;    /* the Redis outage last
                                                  warned about */
} ngx_api_led_limit_worker_t;


typedef struct {
    ngx_array_t                    *limits;    /* ngx_api_led_limit_conf_t */
    ngx_flag_t                      headers;
    ngx_uint_t                      status;    /* api_led_rate_limit_status */
    ngx_uint_t                      log_level;
    unsigned                        off:1;

    /* the first api_led_rate_limit of the level, for nginx -t */
    u_char                         *file;
    ngx_uint_t                      line;
} ngx_api_led_limit_loc_conf_t;


/* one limit as it applies to a request, and its outcome */
typedef struct {
    ngx_str_t                       key;       /* api_led:{KEY}:NAME */
    ngx_str_t                       name;      /* NAME, for the log */
    uint64_t                        interval;  /* T, microseconds */
    uint64_t                        tau;       /* microseconds */
    uint64_t                        full;      /* Redis: the largest tau + T
                                                  of its key in its call */
    ngx_uint_t                      limit;     /* burst + 1 */
    ngx_uint_t                      on_error;

    ngx_uint_t                      remaining;
    ngx_msec_t                      reset;     /* until the bucket is full */
    ngx_msec_t                      retry;     /* 0: admitted */
    unsigned                        skip:1;
} ngx_api_led_limit_item_t;


typedef struct {
    ngx_http_request_t             *request;
    ngx_api_led_limit_batch_t      *batch;     /* waiting in it */
    ngx_uint_t                      slot;      /* its place in the batch */
    ngx_uint_t                      parts;     /* its calls not answered */
    ngx_api_led_limit_item_t       *items;
    ngx_uint_t                      nitems;
    ngx_uint_t                      state;
    ngx_uint_t                      store;

    /* the most constrained limit, for the headers and the variable */
    ngx_uint_t                      limit;
    ngx_uint_t                      remaining;
    ngx_msec_t                      reset;

    unsigned                        failed:1;
    unsigned                        limited:1;
    unsigned                        headers:1;
} ngx_api_led_limit_ctx_t;


/* shared memory */

typedef ngx_api_led_shm_tree_t  ngx_api_led_limit_shctx_t;
typedef ngx_api_led_shm_zone_t  ngx_api_led_limit_zone_t;


typedef struct {
    ngx_str_node_t                  sn;
    ngx_queue_t                     queue;
    uint64_t                        tat;
    u_char                          data[1];
} ngx_api_led_limit_node_t;


/* ngx_api_led_limit_redis.c: the Redis store, requests batched */
ngx_str_t *ngx_api_led_limit_redis_script(void);
ngx_int_t ngx_api_led_limit_redis(ngx_http_request_t *r,
    ngx_api_led_limit_worker_t *wk, ngx_api_led_limit_ctx_t *lctx);
void ngx_api_led_limit_redis_forget(ngx_api_led_limit_ctx_t *lctx);
ngx_int_t ngx_api_led_limit_redis_init_process(ngx_cycle_t *cycle,
    ngx_api_led_limit_worker_t *wk);
void ngx_api_led_limit_redis_exit_process(ngx_api_led_limit_worker_t *wk);

/* ngx_api_led_limit_local.c: the shared-memory store */
void ngx_api_led_limit_local(ngx_http_request_t *r,
    ngx_api_led_limit_main_conf_t *lmcf, ngx_api_led_limit_ctx_t *lctx);
ngx_shm_zone_t *ngx_api_led_limit_add_zone(ngx_conf_t *cf, size_t size,
    void *tag);


#endif /* _NGX_API_LED_LIMIT_H_INCLUDED_ */
