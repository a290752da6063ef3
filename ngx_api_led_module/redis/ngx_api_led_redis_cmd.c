
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Any Redis command on a worker's client, and clients of their own for
 * blocking reads (XREAD BLOCK, XREADGROUP BLOCK): a blocking read on the
 * shared pipelined connection would hold every command queued behind it
 * (the rate limits' among them) for as long as Redis blocks.
 *
 * A command names the key it works on (its index in the arguments): a
 * cluster's client routes it to the master of that key's hash slot, and
 * follows redirections (ngx_api_led_redis.c).
 */


#include "ngx_api_led_redis_int.h"


ngx_int_t
ngx_api_led_redis_command(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_cmd_t *cmd, ngx_uint_t nargs, ngx_str_t *args)
{
    ngx_int_t                    rc;
    ngx_api_led_redis_waiter_t   tmpl;

    if (rd == NULL) {
        return NGX_DECLINED;
    }

    if (nargs == 0 || cmd->key >= nargs) {
        return NGX_ERROR;
    }

    ngx_memzero(&tmpl, sizeof(ngx_api_led_redis_waiter_t));

    tmpl.handler = cmd->handler;
    tmpl.data = cmd->data;
    tmpl.errors = cmd->errors;

    /* Redis may hold a blocking command "block" before it answers */
    tmpl.deadline = ngx_current_msec + rd->conf->timeout + cmd->block;

    if (cmd->key) {
        tmpl.keyed = 1;
        tmpl.slot = ngx_api_led_redis_key_slot(args[cmd->key].data,
                                               args[cmd->key].len);
    }

    rc = ngx_api_led_redis_submit(rd, &tmpl, nargs, args, NULL, 0, NULL, 0);

    return rc;
}


/*
 * At init_process or later, never in the configuration.  A client of its
 * own: in a cluster it connects to the node of the key its commands name
 * (routed as any command).
 */

ngx_api_led_redis_t *
ngx_api_led_redis_create_blocking(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_str_t *key)
{
    return ngx_api_led_redis_create_client(cycle, rcf, 1);
}
