
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The Redis service of the policies (docs/redis.md): a single Redis, a
 * Redis Cluster or a master found through Sentinels, over plain TCP or
 * TLS, with hiredis as the RESP codec only: the sockets are nginx's own,
 * nothing ever blocks the worker, every wait has a timer.
 *
 * Configuration: api_led_redis and api_led_redis_tls_* belong to
 * ngx_api_led_redis_module (ngx_api_led_redis_conf.c).  A policy that uses
 * Redis asks for the configuration with ngx_api_led_redis_conf() at
 * configuration time (NULL: no api_led_redis), registers its Lua scripts
 * there (ngx_api_led_redis_add_script()), and makes its worker's client at
 * init_process:
 *
 *     rd = ngx_api_led_redis_create(cycle, ngx_api_led_redis_cycle_conf(cycle));
 *
 * and frees it at exit_process (ngx_api_led_redis_destroy()).
 *
 * A client keeps one pipelined connection per node, opened on demand.  In
 * a cluster it routes each command by the key it names (its hash slot),
 * follows MOVED and ASK, retries TRYAGAIN and CLUSTERDOWN until the
 * command's timeout; with Sentinels it finds the master and follows it on
 * failover.  A command is never sent twice once Redis may have run it:
 * only a redirection, a READONLY answer (a demoted master) or a command
 * that never left makes it go again; a connection lost with the command on
 * it answers NULL.
 *
 * How to send a command (events: XADD, XREADGROUP, XACK, ...):
 *
 *     ngx_str_t  argv[] = { ngx_string("XADD"), stream, ngx_string("*"),
 *                           field, value };
 *
 *     rc = ngx_api_led_redis_command(rd, &stream, 5, argv, 0,
 *                                    handler, data, &w);
 *
 * - key: the key the command works on (its hash slot routes it in a
 *   cluster; every key of one command must share that slot: give them a
 *   common {hash tag}); NULL for a command without a key (it goes to any
 *   node in a cluster).
 * - timeout: the longest wait for the answer, redirections and retries
 *   included; 0 for api_led_redis's timeout=.  A blocking command (XREAD
 *   BLOCK n) gives n plus some margin, and goes on a client of its own
 *   (another ngx_api_led_redis_create()): it holds its connection, and the
 *   commands pipelined behind it would wait as long.
 * - rc: NGX_AGAIN: the handler will be called exactly once, later (never
 *   from inside this call); NGX_DECLINED: Redis is unavailable now (the
 *   circuit of that node is open): apply your failure policy without
 *   waiting; NGX_ERROR: no memory.
 * - handler(data, reply): reply is NULL when the command failed (connection
 *   lost, timed out, redirected too often) and may be an error reply
 *   (REDIS_REPLY_ERROR, e.g. BUSYGROUP) for ngx_api_led_redis_command();
 *   MOVED, ASK, TRYAGAIN, CLUSTERDOWN and READONLY are never seen, they are
 *   the client's.  The reply is freed when the handler returns.  The
 *   handler may send commands.
 * - w: (optional) the waiting command, for ngx_api_led_redis_cancel(): a
 *   caller that goes away before the answer cancels it, then the handler
 *   is not called (what was sent may still run in Redis).  w is valid
 *   until the handler is called or the command is cancelled.
 *
 * Replies are bounded (at most 65,536 array elements in all and 4 MB not
 * yet parsed): read streams with COUNT.
 */


#ifndef _NGX_API_LED_REDIS_H_INCLUDED_
#define _NGX_API_LED_REDIS_H_INCLUDED_


#include "ngx_api_led.h"


/* api_led_redis defaults */
#define NGX_API_LED_REDIS_PORT              6379
#define NGX_API_LED_REDIS_CONNECT_TIMEOUT   1000
#define NGX_API_LED_REDIS_TIMEOUT           500

/* the hash slots of a Redis Cluster */
#define NGX_API_LED_REDIS_SLOTS             16384


struct redisReply;

typedef struct ngx_api_led_redis_conf_s     ngx_api_led_redis_conf_t;
typedef struct ngx_api_led_redis_s          ngx_api_led_redis_t;
typedef struct ngx_api_led_redis_script_s   ngx_api_led_redis_script_t;
typedef struct ngx_api_led_redis_waiter_s   ngx_api_led_redis_waiter_t;

typedef void (*ngx_api_led_redis_handler_pt)(void *data,
    struct redisReply *reply);


/* configuration time */
ngx_api_led_redis_conf_t *ngx_api_led_redis_conf(ngx_conf_t *cf);
ngx_api_led_redis_script_t *ngx_api_led_redis_add_script(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *text);

/* init_process and exit_process */
ngx_api_led_redis_conf_t *ngx_api_led_redis_cycle_conf(ngx_cycle_t *cycle);
ngx_api_led_redis_t *ngx_api_led_redis_create(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf);
void ngx_api_led_redis_destroy(ngx_api_led_redis_t *rd);

/*
 * Commands.  ngx_api_led_redis_evalsha() runs a registered script (EVAL
 * again when Redis lost it); its error replies are logged (at most once a
 * second) and answered NULL.
 */
ngx_int_t ngx_api_led_redis_command(ngx_api_led_redis_t *rd, ngx_str_t *key,
    ngx_uint_t argc, ngx_str_t *argv, ngx_msec_t timeout,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
ngx_int_t ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_str_t *key, ngx_uint_t nargs,
    ngx_str_t *args, ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
void ngx_api_led_redis_cancel(ngx_api_led_redis_waiter_t *w);

/*
 * NGX_OK when commands can be queued now; NGX_DECLINED while Redis is
 * unavailable as a whole (a single Redis's circuit is open, no cluster
 * node answers, no master is known): the caller applies its failure policy
 * without waiting.
 */
ngx_int_t ngx_api_led_redis_usable(ngx_api_led_redis_t *rd);

/* a cluster's client: commands whose keys are in different slots must be
   sent apart (ngx_api_led_redis_key_slot() tells the slot of a key) */
ngx_uint_t ngx_api_led_redis_is_cluster(ngx_api_led_redis_t *rd);
ngx_uint_t ngx_api_led_redis_key_slot(u_char *key, size_t len);

ngx_msec_t ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd);
/* how long until the next reconnection attempt, for Retry-After */
ngx_msec_t ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd);
/* counts failures: a caller warns once per value */
ngx_uint_t ngx_api_led_redis_outage(ngx_api_led_redis_t *rd);


#endif /* _NGX_API_LED_REDIS_H_INCLUDED_ */
