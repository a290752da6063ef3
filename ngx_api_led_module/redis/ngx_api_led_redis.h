
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
 * ngx_api_led_redis.c: the Redis client of the module (one pipelined
 * nginx connection per worker, hiredis as the RESP codec only).
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


/*
 * ngx_api_led_redis_module.c: the module's one Redis configuration
 * (api_led_redis) and a worker's shared connection.  A concern asks for
 * the configuration at configuration time (NULL: no api_led_redis);
 * "use" also says the concern sends commands, so that the worker makes
 * the shared connection at init_process (before the concerns' own
 * init_process: the module comes first).  At run time the concerns get
 * that connection (NULL: none), which every concern of the worker shares,
 * pipelined.
 */
extern ngx_module_t  ngx_api_led_redis_module;

ngx_api_led_redis_conf_t *ngx_api_led_redis_configured(ngx_conf_t *cf);
ngx_api_led_redis_conf_t *ngx_api_led_redis_use(ngx_conf_t *cf);
ngx_api_led_redis_t *ngx_api_led_redis_shared(void);


/*
 * ngx_api_led_redis_cmd.c: any command, and connections of their own for
 * blocking reads.
 *
 * ngx_api_led_redis_command() queues args[0..nargs-1] (the command's name
 * first).  "key" is the index in args of the key the command works on
 * (0: none): a client of several nodes routes the command by it, so a
 * command names one key, or keys of one hash slot.  The handler is called
 * exactly once: with the reply, with an error reply only if "errors" is
 * set (else NULL), with NULL when Redis failed.  A blocking command
 * (XREAD BLOCK, XREADGROUP BLOCK) says how long Redis may hold it
 * ("block"): its reply is awaited that long on top of the timeout.
 * Returns NGX_AGAIN (queued), NGX_DECLINED (the circuit is open: do not
 * wait), NGX_ERROR.
 *
 * A blocking command holds its connection: it goes on a connection of its
 * own, ngx_api_led_redis_create_blocking(), made for the reads of one
 * stream KEY (a client of several nodes connects to the node of KEY).
 * It has no scripts, its timers never hold a worker that shuts down, and
 * it goes with ngx_api_led_redis_destroy() (never from inside its own
 * handler).
 */
typedef struct {
    ngx_api_led_redis_handler_pt   handler;
    void                          *data;
    ngx_msec_t                     block;     /* 0: not a blocking command */
    ngx_uint_t                     key;       /* index in args, 0: none */
    unsigned                       errors:1;  /* error replies as they are */
} ngx_api_led_redis_cmd_t;

ngx_int_t ngx_api_led_redis_command(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_cmd_t *cmd, ngx_uint_t nargs, ngx_str_t *args);
ngx_api_led_redis_t *ngx_api_led_redis_create_blocking(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *key);

/*
 * ngx_api_led_redis_resp.c: a command in RESP (freed by
 * redisFreeCommand()), the length or -1: redisFormatCommandArgv() without
 * its sprintf() of every length
 */
int ngx_api_led_redis_format(char **out, int argc, const char **argv,
    const size_t *argvlen);

/* the client's own entry points for ngx_api_led_redis_cmd.c */
ngx_int_t ngx_api_led_redis_queue(ngx_api_led_redis_t *rd, int argc,
    const char **argv, const size_t *argvlen, ngx_api_led_redis_cmd_t *cmd);
ngx_api_led_redis_t *ngx_api_led_redis_create_conn(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_uint_t blocking);


#endif /* _NGX_API_LED_REDIS_H_INCLUDED_ */
