
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Any Redis command on the worker's connections, and connections of their
 * own for blocking reads (XREAD BLOCK, XREADGROUP BLOCK): a blocking read
 * on the shared pipelined connection would hold every command queued
 * behind it (the rate limits' among them) for as long as Redis blocks.
 *
 * A command names the key it works on (its index in the arguments), so
 * that a client of several nodes can route it; a blocking connection is
 * made for the reads of one stream key, for the same reason.
 */


#include "ngx_api_led_redis.h"


#define NGX_API_LED_REDIS_CMD_ARGS  64


ngx_int_t
ngx_api_led_redis_command(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_cmd_t *cmd, ngx_uint_t nargs, ngx_str_t *args)
{
    size_t        stack_argvlen[NGX_API_LED_REDIS_CMD_ARGS], *argvlen;
    ngx_int_t     rc;
    ngx_uint_t    i;
    const char   *stack_argv[NGX_API_LED_REDIS_CMD_ARGS], **argv;

    if (rd == NULL) {
        return NGX_DECLINED;
    }

    if (nargs == 0 || nargs > INT_MAX / 2 || cmd->key >= nargs) {
        return NGX_ERROR;
    }

    if (nargs <= NGX_API_LED_REDIS_CMD_ARGS) {
        argv = stack_argv;
        argvlen = stack_argvlen;

    } else {
        argv = ngx_alloc(nargs * (sizeof(char *) + sizeof(size_t)),
                         ngx_cycle->log);
        if (argv == NULL) {
            return NGX_ERROR;
        }

        argvlen = (size_t *) &argv[nargs];
    }

    for (i = 0; i < nargs; i++) {
        /* hiredis reads no byte of an empty argument */
        argv[i] = args[i].len ? (const char *) args[i].data : "";
        argvlen[i] = args[i].len;
    }

    rc = ngx_api_led_redis_queue(rd, (int) nargs, argv, argvlen, cmd);

    if (argv != stack_argv) {
        ngx_free(argv);
    }

    return rc;
}


/* at init_process or later, never in the configuration */

ngx_api_led_redis_t *
ngx_api_led_redis_create_blocking(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *key)
{
    /* one node: every key is there */
    return ngx_api_led_redis_create_conn(cycle, rcf, 1);
}
