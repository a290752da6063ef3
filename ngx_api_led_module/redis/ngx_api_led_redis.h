
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The Redis service of the concerns (docs/redis.md): a single Redis, a
 * Redis Cluster or a master found through Sentinels, over plain TCP or
 * TLS, with hiredis as the RESP codec only: the sockets are nginx's own,
 * nothing ever blocks the worker, every wait has a timer.
 *
 * Configuration: api_led_redis and api_led_redis_tls_* belong to
 * ngx_api_led_redis_module (ngx_api_led_redis_module.c).  A concern that
 * talks to Redis asks for the configuration at configuration time, from
 * init_main_conf on (ngx_api_led_redis_configured(); NULL: no
 * api_led_redis), registers its Lua scripts there
 * (ngx_api_led_redis_add_script()), and says that it sends commands
 * (ngx_api_led_redis_use()): each worker then makes one shared client at
 * init_process, which the concerns get with ngx_api_led_redis_shared()
 * (NULL: none) and which goes at exit_process, before theirs.
 *
 * A client keeps one pipelined connection per node, opened on demand.  In
 * a cluster it routes each command by the key it names (its hash slot),
 * follows MOVED and ASK, retries TRYAGAIN and CLUSTERDOWN within the
 * command's timeout; with Sentinels it finds the master and follows it on
 * failover.  A command is never sent twice once Redis may have run it:
 * only a redirection, a READONLY answer (a demoted master) or a command
 * that never left makes it go again; a connection lost with the command on
 * it answers NULL.
 *
 * Sending a command (XADD, XREADGROUP, XACK, XAUTOCLAIM, ...):
 *
 *     ngx_api_led_redis_cmd_t  cmd = { handler, data, 0, 1, 1 };
 *     ngx_str_t  args[] = { ngx_string("XADD"), stream, ngx_string("*"),
 *                           field, value };
 *
 *     rc = ngx_api_led_redis_command(ngx_api_led_redis_shared(), &cmd,
 *                                    5, args);
 *
 * - cmd.key: the index in args of the key the command works on (0: none,
 *   any node in a cluster).  A cluster routes the command to the master of
 *   that key's hash slot: every key of one command must share it (give
 *   them one {hash tag}).
 * - cmd.block: for a blocking command (XREAD BLOCK ms, XREADGROUP BLOCK
 *   ms), how long Redis may hold it: its answer is awaited that much
 *   longer than timeout=.  It holds its connection: send it on a client of
 *   its own, ngx_api_led_redis_create_blocking() (no scripts, its timers
 *   never hold a worker that shuts down), freed with
 *   ngx_api_led_redis_destroy() (never from inside its own handler).
 * - cmd.errors: the handler gets error replies (BUSYGROUP, NOGROUP) as
 *   they are; else they are logged (at most once a second) and answered
 *   NULL.  MOVED, ASK, TRYAGAIN, CLUSTERDOWN and READONLY never reach the
 *   handler: they are the client's.
 * - rc: NGX_AGAIN: the handler will be called exactly once, later, never
 *   from inside this call; NGX_DECLINED: Redis is unavailable now (that
 *   node's circuit is open, no master is known): apply the failure policy
 *   without waiting; NGX_ERROR: no memory, bad arguments.
 * - handler(data, reply): reply NULL when the command failed (connection
 *   lost after it was written, timed out, redirected too often).  The
 *   reply is freed when the handler returns.  The handler may send
 *   commands.
 *
 * ngx_api_led_redis_evalsha() runs a registered script (EVAL again when
 * Redis lost it); args are "numkeys key ... arg ...": the first key routes
 * the call in a cluster (every key of a call in one slot).  Its error
 * replies are logged and answered NULL.  wp, when given, gets the waiting
 * command, for ngx_api_led_redis_cancel(): a caller that goes away before
 * the answer cancels it, and the handler is not called (what was sent may
 * still run in Redis); it is valid until the handler is called.
 * ngx_api_led_redis_refusals(w) on that waiter: the handler gets the
 * error replies that say the call can never succeed, whatever Redis's
 * state (WRONGTYPE: the key holds another type; NOPERM: the ACL user may
 * not; a stream whose last entry has the largest ID takes no more, "ERR
 * The stream has exhausted the last possible ID"), as they are (still
 * logged): Redis is there and refused it, which waiting would not change.
 *
 * Replies are bounded (at most 65,536 array elements in all and 4 MB not
 * yet parsed): read streams with COUNT.  A reply over a bound fails its
 * connection like a protocol error, and its command's handler gets NULL;
 * there, ngx_api_led_redis_too_large() on the client says so (the same
 * command would meet the same reply: ask for less).
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

/*
 * The bytes of a reply read and not yet parsed, at most (see
 * ngx_api_led_redis_node.c): a bulk string, a stream entry's field, of
 * more is never read.
 */
#define NGX_API_LED_REDIS_MAX_PENDING       (4 * 1024 * 1024)


struct redisReply;

typedef struct ngx_api_led_redis_conf_s     ngx_api_led_redis_conf_t;
typedef struct ngx_api_led_redis_s          ngx_api_led_redis_t;
typedef struct ngx_api_led_redis_script_s   ngx_api_led_redis_script_t;
typedef struct ngx_api_led_redis_waiter_s   ngx_api_led_redis_waiter_t;

typedef void (*ngx_api_led_redis_handler_pt)(void *data,
    struct redisReply *reply);


typedef struct {
    ngx_api_led_redis_handler_pt   handler;
    void                          *data;
    ngx_msec_t                     block;     /* 0: not a blocking command */
    ngx_uint_t                     key;       /* index in args, 0: none */
    unsigned                       errors:1;  /* error replies as they are */
} ngx_api_led_redis_cmd_t;


extern ngx_module_t  ngx_api_led_redis_module;


/* configuration time (ngx_api_led_redis_module.c) */
ngx_api_led_redis_conf_t *ngx_api_led_redis_configured(ngx_conf_t *cf);
ngx_api_led_redis_conf_t *ngx_api_led_redis_use(ngx_conf_t *cf);
ngx_api_led_redis_script_t *ngx_api_led_redis_add_script(ngx_conf_t *cf,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *text);

/* a worker's clients: the shared one, and others at init_process or later */
ngx_api_led_redis_t *ngx_api_led_redis_shared(void);
ngx_api_led_redis_t *ngx_api_led_redis_create(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf);
ngx_api_led_redis_t *ngx_api_led_redis_create_blocking(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *key);
void ngx_api_led_redis_destroy(ngx_api_led_redis_t *rd);

/* commands (ngx_api_led_redis_cmd.c, ngx_api_led_redis.c) */
ngx_int_t ngx_api_led_redis_command(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_cmd_t *cmd, ngx_uint_t nargs, ngx_str_t *args);
ngx_int_t ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
void ngx_api_led_redis_cancel(ngx_api_led_redis_waiter_t *w);
void ngx_api_led_redis_refusals(ngx_api_led_redis_waiter_t *w);

/* an error reply that starts with "prefix" ("LOADING", "MOVED ") */
ngx_uint_t ngx_api_led_redis_is_error(struct redisReply *reply,
    const char *prefix);
/*
 * An error reply of a Redis that is there but cannot answer yet: LOADING
 * its data after a restart, BUSY with a script, MASTERDOWN (a replica
 * that lost its master).  Asked again soon, it answers.
 */
ngx_uint_t ngx_api_led_redis_not_ready(struct redisReply *reply);

/*
 * NGX_OK when commands can be queued now; NGX_DECLINED while Redis is
 * unavailable as a whole (a single Redis's circuit is open, no cluster
 * node answers, no master is known): the caller applies its failure policy
 * without waiting.
 */
ngx_int_t ngx_api_led_redis_usable(ngx_api_led_redis_t *rd);

/* a cluster's client: the keys of one command must be in one hash slot */
ngx_uint_t ngx_api_led_redis_is_cluster(ngx_api_led_redis_t *rd);
ngx_uint_t ngx_api_led_redis_key_slot(u_char *key, size_t len);

ngx_msec_t ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd);
/* how long until the next reconnection attempt, for Retry-After */
ngx_msec_t ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd);
/* counts failures: a caller warns once per value */
ngx_uint_t ngx_api_led_redis_outage(ngx_api_led_redis_t *rd);
/* in a handler given NULL: the reply was refused for its size */
ngx_uint_t ngx_api_led_redis_too_large(ngx_api_led_redis_t *rd);


/*
 * What a worker's connection to a node goes through, for the metrics.
 * redis/ cannot count (observe/ is above it): the owner of the
 * configuration hands it an observer once configured
 * (ngx_api_led_observe_redis()), and each data node's connection (the
 * single Redis, a cluster's nodes, the master found through Sentinels,
 * the nodes of the clients for blocking reads) reports through
 * ngx_api_led_redis_node_event(), where it happens, with its name
 * ("host:port") and a field of its own that keeps its state: a state
 * (CONNECTING until its first handshake is done, UP, DOWN while its
 * circuit is open, GONE when the worker lets it go or the node takes
 * another address; the observer hears of a change once, with the state
 * left), or a call's end after "ms" (a reply, an error reply, a
 * redirection among them; no reply at all: timeout, connection lost).
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
