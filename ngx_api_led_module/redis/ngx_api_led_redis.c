
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * A worker's Redis client: the API of ngx_api_led_redis.h.  It routes each
 * command to a node (the single Redis, the master of the day, the owner of
 * the key's hash slot), and takes the answers that are the topology's, not
 * the caller's:
 *
 *   MOVED            the slot map is updated and read again, the command
 *                    goes to the new owner;
 *   ASK              the command goes once to the node that imports the
 *                    slot, after ASKING;
 *   TRYAGAIN,        the command waits (parked) and is sent again after a
 *   CLUSTERDOWN      pause that doubles from 10 ms, within its timeout;
 *   READONLY         (Sentinel) the master was demoted: the Sentinels are
 *                    asked again, the command parked until the new master
 *                    is known.
 *
 * Each of these answers means that Redis did not run the command, so
 * sending it again counts nothing twice; so does a command held behind a
 * handshake that failed.  A command whose connection is lost after it was
 * written is answered NULL, never sent again.  Every wait is bounded by the
 * command's deadline: the parked commands have a timer, the nodes theirs.
 */


#include "ngx_api_led_redis_int.h"


#define NGX_API_LED_REDIS_MAX_ARGS      64


static ngx_int_t ngx_api_led_redis_route(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w);
static ngx_api_led_redis_node_t *ngx_api_led_redis_any_node(
    ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_reply(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply);
static ngx_int_t ngx_api_led_redis_redirect(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply);
static void ngx_api_led_redis_resend(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, ngx_api_led_redis_node_t *node,
    ngx_uint_t asking);
static void ngx_api_led_redis_park(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, ngx_msec_t retry_at);
static void ngx_api_led_redis_arm_retry(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_retry_handler(ngx_event_t *ev);
static void ngx_api_led_redis_changed(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_unpark(ngx_api_led_redis_t *rd,
    ngx_uint_t all);
static void ngx_api_led_redis_finish(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply);
static ngx_uint_t ngx_api_led_redis_refused(redisReply *reply);
static void ngx_api_led_redis_log_reply_error(ngx_api_led_redis_t *rd,
    redisReply *reply);


/* the worker's client: at init_process */

ngx_api_led_redis_t *
ngx_api_led_redis_create(ngx_cycle_t *cycle, ngx_api_led_redis_conf_t *rcf)
{
    return ngx_api_led_redis_create_client(cycle, rcf, 0);
}


/*
 * A client for blocking reads (ngx_api_led_redis_cmd.c) loads no script,
 * and its timers never hold a worker that shuts down.
 */

ngx_api_led_redis_t *
ngx_api_led_redis_create_client(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_uint_t blocking)
{
    ngx_int_t             rc;
    ngx_addr_t           *addrs;
    ngx_api_led_redis_t  *rd;

    rd = ngx_calloc(sizeof(ngx_api_led_redis_t), cycle->log);
    if (rd == NULL) {
        return NULL;
    }

    rd->pool = ngx_create_pool(4096, cycle->log);
    if (rd->pool == NULL) {
        ngx_free(rd);
        return NULL;
    }

    rd->conf = rcf;
    rd->blocking = blocking;
    rd->log = *cycle->log;
    rd->log.handler = NULL;
    rd->log.data = NULL;
    rd->log.action = NULL;

    ngx_queue_init(&rd->nodes);
    ngx_queue_init(&rd->free);
    ngx_queue_init(&rd->parked);

    rd->retry.handler = ngx_api_led_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.log = &rd->log;
    rd->retry.cancelable = blocking;

    rd->reply = ngx_api_led_redis_reply;
    rd->changed = ngx_api_led_redis_changed;

    /* the handshake's deadlines must not start from a stale clock */
    ngx_time_update();

    addrs = rcf->addrs.elts;

    switch (rcf->mode) {

    case NGX_API_LED_REDIS_CLUSTER:
        rc = ngx_api_led_redis_cluster_init(rd);
        break;

    case NGX_API_LED_REDIS_SENTINEL:
        rc = ngx_api_led_redis_sentinel_init(rd);
        break;

    default:
        rd->master = ngx_api_led_redis_node_add(rd, NGX_API_LED_REDIS_ROLE_DATA,
                                                &addrs[0]);
        rc = rd->master ? NGX_OK : NGX_ERROR;

        if (rc == NGX_OK) {
            ngx_api_led_redis_node_connect(rd->master);
        }
    }

    if (rc != NGX_OK) {
        ngx_api_led_redis_destroy(rd);
        return NULL;
    }

    return rd;
}


/*
 * At exit_process: the connections close, nobody is answered any more.
 * The client is not in the cycle's pool: it goes here.
 */

void
ngx_api_led_redis_destroy(ngx_api_led_redis_t *rd)
{
    ngx_queue_t                 *q;
    ngx_api_led_redis_node_t    *node;
    ngx_api_led_redis_waiter_t  *w;

    /* waiters freed from now on go, they do not wait in the free list */
    rd->destroyed = 1;

    while (!ngx_queue_empty(&rd->free)) {
        q = ngx_queue_head(&rd->free);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue));
    }

    for (q = ngx_queue_head(&rd->nodes);
         q != ngx_queue_sentinel(&rd->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);
        ngx_api_led_redis_node_destroy(node);
    }

    while (!ngx_queue_empty(&rd->parked)) {
        q = ngx_queue_head(&rd->parked);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);
        ngx_api_led_redis_waiter_free(rd, w);
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    if (rd->refresh.timer_set) {
        ngx_del_timer(&rd->refresh);
    }

    if (rd->discover.timer_set) {
        ngx_del_timer(&rd->discover);
    }

    ngx_destroy_pool(rd->pool);
    ngx_free(rd);
}


/*
 * Whether commands can be queued now: NGX_DECLINED while Redis is
 * unavailable as a whole (the caller applies its failure policy without
 * waiting).  A cluster with a map takes commands: a slot whose node is
 * down refuses its own.
 */

ngx_int_t
ngx_api_led_redis_usable(ngx_api_led_redis_t *rd)
{
    if (rd->conf->mode == NGX_API_LED_REDIS_CLUSTER) {
        if (rd->mapped || rd->reading) {
            return NGX_OK;
        }

        return NGX_DECLINED;
    }

    return ngx_api_led_redis_node_usable(rd->master);
}


ngx_uint_t
ngx_api_led_redis_is_cluster(ngx_api_led_redis_t *rd)
{
    return rd->conf->mode == NGX_API_LED_REDIS_CLUSTER;
}


/*
 * Queues EVALSHA of a script; args are "numkeys key ... arg ...", the first
 * key routes the call.  Returns NGX_AGAIN when the command is on its way
 * (the handler will be called exactly once), NGX_DECLINED when Redis is
 * unavailable (the circuit is open: the caller must not wait), NGX_ERROR
 * on a local failure.
 */

ngx_int_t
ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp)
{
    ngx_int_t                    rc;
    ngx_api_led_redis_waiter_t   tmpl;

    ngx_memzero(&tmpl, sizeof(ngx_api_led_redis_waiter_t));

    tmpl.handler = handler;
    tmpl.data = data;
    tmpl.script = script;
    tmpl.deadline = ngx_current_msec + rd->conf->timeout;

    if (nargs >= 2
        && !(args[0].len == 1 && args[0].data[0] == '0'))
    {
        tmpl.keyed = 1;
        tmpl.slot = ngx_api_led_redis_key_slot(args[1].data, args[1].len);
    }

    rc = ngx_api_led_redis_submit(rd, &tmpl, nargs, args,
                                  "EVALSHA", sizeof("EVALSHA") - 1,
                                  (const char *) script->sha,
                                  sizeof(script->sha));

    if (rc == NGX_AGAIN && wp) {
        *wp = (ngx_api_led_redis_waiter_t *) tmpl.data;
    }

    return rc;
}


/* the caller went away: its answer is dropped (the command may still run) */

void
ngx_api_led_redis_cancel(ngx_api_led_redis_waiter_t *w)
{
    w->handler = NULL;
    w->data = NULL;
}


/* the caller tells a refusal from a Redis that is away (see the header) */

void
ngx_api_led_redis_refusals(ngx_api_led_redis_waiter_t *w)
{
    w->refusals = 1;
}


/*
 * Formats the command (up to two leading words, then argv), makes its
 * waiter from the template and routes it.  On NGX_AGAIN, tmpl->data holds
 * the waiter.
 */

ngx_int_t
ngx_api_led_redis_submit(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *tmpl, ngx_uint_t argc, ngx_str_t *argv,
    const char *first, size_t first_len, const char *second,
    size_t second_len)
{
    size_t                       stack_argvlen[NGX_API_LED_REDIS_MAX_ARGS];
    size_t                      *lens;
    ngx_int_t                    rc;
    ngx_uint_t                   i, n, total;
    const char                  *stack_argv[NGX_API_LED_REDIS_MAX_ARGS];
    const char                 **words;
    ngx_api_led_redis_waiter_t  *w;

    if (ngx_api_led_redis_usable(rd) != NGX_OK) {
        return NGX_DECLINED;
    }

    total = argc + (first ? 1 : 0) + (second ? 1 : 0);

    if (total > INT_MAX / 2) {
        return NGX_ERROR;
    }

    if (total <= NGX_API_LED_REDIS_MAX_ARGS) {
        words = stack_argv;
        lens = stack_argvlen;

    } else {
        words = ngx_alloc(total * (sizeof(char *) + sizeof(size_t)),
                          &rd->log);
        if (words == NULL) {
            return NGX_ERROR;
        }

        lens = (size_t *) &words[total];
    }

    n = 0;

    if (first) {
        words[n] = first;
        lens[n++] = first_len;
    }

    if (second) {
        words[n] = second;
        lens[n++] = second_len;
    }

    for (i = 0; i < argc; i++) {
        /* hiredis copies no byte of an empty argument, from no pointer */
        words[n] = argv[i].len ? (const char *) argv[i].data : "";
        lens[n++] = argv[i].len;
    }

    w = ngx_api_led_redis_waiter_new(rd, (int) total, words, lens);

    if (words != stack_argv) {
        ngx_free(words);
    }

    if (w == NULL) {
        return NGX_ERROR;
    }

    w->handler = tmpl->handler;
    w->data = tmpl->data;
    w->deadline = tmpl->deadline;
    w->script = tmpl->script;
    w->keyed = tmpl->keyed;
    w->slot = tmpl->slot;
    w->errors = tmpl->errors;
    w->kind = NGX_API_LED_REDIS_REQUEST;

    rc = ngx_api_led_redis_route(rd, w);

    if (rc != NGX_AGAIN) {
        ngx_api_led_redis_waiter_free(rd, w);
        return rc;
    }

    tmpl->data = w;

    return NGX_AGAIN;
}


/*
 * The node a command goes to now.  NGX_AGAIN: queued there, or parked
 * until a slot map or a master is known; NGX_DECLINED: that node's circuit
 * is open; NGX_ERROR: no memory.  Never answers the command itself.
 */

static ngx_int_t
ngx_api_led_redis_route(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w)
{
    ngx_api_led_redis_node_t  *node;

    if (rd->conf->mode != NGX_API_LED_REDIS_CLUSTER) {
        node = rd->master;

    } else if (!rd->mapped) {
        /* the first map is on its way */
        ngx_api_led_redis_park(rd, w, 0);
        return NGX_AGAIN;

    } else if (w->keyed) {
        node = rd->slots[w->slot];

        if (node == NULL) {
            /* a slot no master serves: the cluster is down for it */
            ngx_api_led_redis_cluster_refresh(rd);
            ngx_api_led_redis_park(rd, w, ngx_current_msec
                                          + NGX_API_LED_REDIS_RETRY_DELAY);
            return NGX_AGAIN;
        }

    } else {
        node = ngx_api_led_redis_any_node(rd);
    }

    if (node == NULL || ngx_api_led_redis_node_usable(node) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_api_led_redis_node_queue(node, w) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/* a command without a key, in a cluster: a node that serves slots */

static ngx_api_led_redis_node_t *
ngx_api_led_redis_any_node(ngx_api_led_redis_t *rd)
{
    ngx_queue_t               *q;
    ngx_api_led_redis_node_t  *node, *found;

    found = NULL;

    for (q = ngx_queue_head(&rd->nodes);
         q != ngx_queue_sentinel(&rd->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);

        if (node->role != NGX_API_LED_REDIS_ROLE_DATA || node->down
            || node->nslots == 0)
        {
            continue;
        }

        if (node->ready) {
            return node;
        }

        if (found == NULL) {
            found = node;
        }
    }

    return found;
}


/*
 * A node's answer to a command (reply NULL: the node failed).  The
 * topology's answers are taken here; the caller gets the others.
 */

static void
ngx_api_led_redis_reply(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    if (reply == NULL) {

        /* a command held behind a failed handshake never left */

        if (w->held && rd->conf->mode != NGX_API_LED_REDIS_SINGLE
            && w->handler && w != rd->reading && w != rd->asking
            && (ngx_msec_int_t) (w->deadline - ngx_current_msec) > 0
            && ++w->tries <= NGX_API_LED_REDIS_REDIRECTS)
        {
            w->held = 0;

            if (rd->conf->mode == NGX_API_LED_REDIS_CLUSTER) {
                ngx_api_led_redis_cluster_refresh(rd);
            }

            ngx_api_led_redis_park(rd, w, 0);
            return;
        }

        ngx_api_led_redis_finish(rd, w, NULL);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR && w->handler
        && ngx_api_led_redis_redirect(rd, w, reply) == NGX_OK)
    {
        return;
    }

    ngx_api_led_redis_finish(rd, w, reply);
}


/*
 * MOVED, ASK, TRYAGAIN, CLUSTERDOWN, READONLY: the command was not run.
 * NGX_OK: the command goes again (or was answered NULL, out of time or
 * tries); NGX_DECLINED: an error for the caller.
 */

static ngx_int_t
ngx_api_led_redis_redirect(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    ngx_int_t                  moved;
    ngx_msec_t                 delay;
    ngx_api_led_redis_node_t  *node;

    if (rd->conf->mode == NGX_API_LED_REDIS_SENTINEL) {
        if (!ngx_api_led_redis_is_error(reply, "READONLY")) {
            return NGX_DECLINED;
        }

        /*
         * The master was demoted: where is the new one?  Until the
         * Sentinels name another, the command goes again after a pause
         * that doubles from 10 ms, and the Sentinels are asked at most
         * every 100 ms: a master they still name that answers READONLY
         * is not a loop of commands and questions.
         */

        delay = NGX_API_LED_REDIS_RETRY_DELAY << ngx_min(w->tries, 7);
        w->tries++;

        if ((ngx_msec_int_t) (w->deadline - ngx_current_msec - delay) <= 0) {
            ngx_api_led_redis_finish(rd, w, NULL);
            return NGX_OK;
        }

        ngx_api_led_redis_park(rd, w, ngx_current_msec + delay);

        if (rd->discover.timer_set || rd->asking) {
            return NGX_OK;
        }

        if (rd->master->ready
            && ngx_api_led_redis_log_due(&rd->redirect_logged))
        {
            ngx_log_error(NGX_LOG_WARN, &rd->master->log, 0,
                          "redis master answered READONLY, asking the "
                          "sentinels again");
        }

        ngx_api_led_redis_sentinel_discover(rd);

        return NGX_OK;
    }

    if (rd->conf->mode != NGX_API_LED_REDIS_CLUSTER) {
        return NGX_DECLINED;
    }

    moved = ngx_api_led_redis_is_error(reply, "MOVED ");

    if (moved || ngx_api_led_redis_is_error(reply, "ASK ")) {

        if (++w->tries > NGX_API_LED_REDIS_REDIRECTS
            || (ngx_msec_int_t) (w->deadline - ngx_current_msec) <= 0)
        {
            /* a redirection loop sends every command there: once a second */

            if (ngx_api_led_redis_log_due(&rd->redirect_logged)) {
                ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                              "redis: a command redirected %ui times, "
                              "given up", w->tries - 1);
            }

            ngx_api_led_redis_finish(rd, w, NULL);
            return NGX_OK;
        }

        /* MOVED updates the slot map, ASK does not */
        node = ngx_api_led_redis_cluster_redirect(rd, reply, moved);

        if (node == NULL) {
            ngx_api_led_redis_finish(rd, w, NULL);
            return NGX_OK;
        }

        ngx_api_led_redis_resend(rd, w, node, !moved);

        return NGX_OK;
    }

    if (ngx_api_led_redis_is_error(reply, "TRYAGAIN")
        || ngx_api_led_redis_is_error(reply, "CLUSTERDOWN"))
    {
        if (reply->str[0] == 'C') {
            ngx_api_led_redis_cluster_refresh(rd);
        }

        delay = NGX_API_LED_REDIS_RETRY_DELAY << ngx_min(w->tries, 7);
        w->tries++;

        if ((ngx_msec_int_t) (w->deadline - ngx_current_msec - delay) <= 0) {
            ngx_api_led_redis_finish(rd, w, NULL);
            return NGX_OK;
        }

        ngx_api_led_redis_park(rd, w, ngx_current_msec + delay);

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_api_led_redis_resend(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, ngx_api_led_redis_node_t *node,
    ngx_uint_t asking)
{
    const char                  *argv[1];
    size_t                       argvlen[1];
    ngx_api_led_redis_waiter_t  *ask;

    if (ngx_api_led_redis_node_usable(node) != NGX_OK) {
        ngx_api_led_redis_finish(rd, w, NULL);
        return;
    }

    if (asking) {
        argv[0] = "ASKING";
        argvlen[0] = 6;

        ask = ngx_api_led_redis_waiter_new(rd, 1, argv, argvlen);
        if (ask == NULL) {
            ngx_api_led_redis_finish(rd, w, NULL);
            return;
        }

        ask->kind = NGX_API_LED_REDIS_ASKING;
        ask->deadline = w->deadline;

        if (ngx_api_led_redis_node_queue(node, ask) != NGX_OK) {
            ngx_api_led_redis_waiter_free(rd, ask);
            ngx_api_led_redis_finish(rd, w, NULL);
            return;
        }
    }

    /* right behind ASKING, on the same connection */
    if (ngx_api_led_redis_node_queue(node, w) != NGX_OK) {
        ngx_api_led_redis_finish(rd, w, NULL);
    }
}


/*
 * A command waits for its retry time (retry_at), or for a new slot map or
 * master (retry_at 0); its deadline bounds both.
 */

static void
ngx_api_led_redis_park(ngx_api_led_redis_t *rd, ngx_api_led_redis_waiter_t *w,
    ngx_msec_t retry_at)
{
    w->node = NULL;
    w->held = 0;
    w->parked = 1;
    w->retry_at = retry_at;

    ngx_queue_insert_tail(&rd->parked, &w->queue);

    ngx_api_led_redis_arm_retry(rd);
}


static void
ngx_api_led_redis_arm_retry(ngx_api_led_redis_t *rd)
{
    ngx_msec_t                   t, earliest;
    ngx_queue_t                 *q;
    ngx_msec_int_t               left;
    ngx_api_led_redis_waiter_t  *w;

    if (ngx_queue_empty(&rd->parked)) {
        if (rd->retry.timer_set) {
            ngx_del_timer(&rd->retry);
        }

        return;
    }

    earliest = 0;

    for (q = ngx_queue_head(&rd->parked);
         q != ngx_queue_sentinel(&rd->parked);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        t = w->deadline;

        if (w->retry_at && (ngx_msec_int_t) (w->retry_at - t) < 0) {
            t = w->retry_at;
        }

        if (earliest == 0 || (ngx_msec_int_t) (t - earliest) < 0) {
            earliest = t;
        }
    }

    left = earliest - ngx_current_msec;

    if (left <= 0) {
        left = 1;
    }

    ngx_add_timer(&rd->retry, (ngx_msec_t) left);
}


static void
ngx_api_led_redis_retry_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_unpark(ev->data, 0);
}


/* a new slot map or master: every parked command goes again */

static void
ngx_api_led_redis_changed(ngx_api_led_redis_t *rd)
{
    ngx_api_led_redis_unpark(rd, 1);
}


/*
 * The parked commands out of time are answered NULL; those whose retry
 * time has come (all: those waiting for a map or master too) are routed
 * again.  The list is taken first: routing may park a command again, and
 * a handler may send new ones.
 */

static void
ngx_api_led_redis_unpark(ngx_api_led_redis_t *rd, ngx_uint_t all)
{
    ngx_int_t                    rc;
    ngx_queue_t                  list, *q;
    ngx_api_led_redis_waiter_t  *w;

    if (ngx_queue_empty(&rd->parked)) {
        return;
    }

    list = rd->parked;
    list.next->prev = &list;
    list.prev->next = &list;
    ngx_queue_init(&rd->parked);

    while (!ngx_queue_empty(&list)) {
        q = ngx_queue_head(&list);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        w->parked = 0;

        if (w->handler == NULL) {
            /* cancelled while it waited: it is not sent */
            ngx_api_led_redis_waiter_free(rd, w);
            continue;
        }

        if ((ngx_msec_int_t) (w->deadline - ngx_current_msec) <= 0) {
            ngx_api_led_redis_finish(rd, w, NULL);
            continue;
        }

        if (!all
            && (w->retry_at == 0
                || (ngx_msec_int_t) (w->retry_at - ngx_current_msec) > 0))
        {
            w->parked = 1;
            ngx_queue_insert_tail(&rd->parked, &w->queue);
            continue;
        }

        rc = ngx_api_led_redis_route(rd, w);

        if (rc != NGX_AGAIN) {
            ngx_api_led_redis_finish(rd, w, NULL);
        }
    }

    ngx_api_led_redis_arm_retry(rd);
}


/*
 * The caller's answer: a script's error reply is logged (at most once a
 * second) and answered NULL; a command's goes to its handler.  The waiter
 * is free before the handler runs.
 */

static void
ngx_api_led_redis_finish(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    void                          *data;
    ngx_uint_t                     errors, refusals, too_large;
    ngx_api_led_redis_handler_pt   handler;

    handler = w->handler;
    data = w->data;
    errors = w->errors;
    refusals = w->refusals;
    too_large = w->too_large;

    ngx_api_led_redis_waiter_free(rd, w);

    if (reply && reply->type == REDIS_REPLY_ERROR && !errors) {
        ngx_api_led_redis_log_reply_error(rd, reply);

        if (refusals && ngx_api_led_redis_refused(reply)) {
            /* Redis answers: no outage, the caller gives the call up */

        } else {
            if (!rd->failing) {
                rd->failing = 1;
                rd->outage++;
            }

            reply = NULL;
        }

    } else if (reply) {
        rd->failing = 0;
    }

    if (handler) {
        /* what ngx_api_led_redis_too_large() tells the handler */
        rd->too_large = (reply == NULL && too_large);

        handler(data, reply);

        /* the handler may not free its own client: rd is still there */
        rd->too_large = 0;
    }
}


ngx_uint_t
ngx_api_led_redis_is_error(redisReply *reply, const char *prefix)
{
    size_t  len;

    len = ngx_strlen(prefix);

    return reply->type == REDIS_REPLY_ERROR
           && (size_t) reply->len >= len
           && ngx_strncmp(reply->str, prefix, len) == 0;
}


ngx_uint_t
ngx_api_led_redis_not_ready(redisReply *reply)
{
    return ngx_api_led_redis_is_error(reply, "LOADING")
           || ngx_api_led_redis_is_error(reply, "BUSY ")
           || ngx_api_led_redis_is_error(reply, "MASTERDOWN");
}


/*
 * An error reply that says the call can never succeed (see the header),
 * looked for anywhere in its text: Redis 6 puts "ERR Error running
 * script (...): @user_script:1:" before a script's error, and an ACL
 * user that may not run a command inside a script gets "ERR The user
 * executing the script can't run this command".
 */

static ngx_uint_t
ngx_api_led_redis_refused(redisReply *reply)
{
    ngx_uint_t   i;

    static char  *refusals[] = {
        "WRONGTYPE",
        "NOPERM",
        "The stream has exhausted the last possible ID",
        "can't run this command",
        NULL
    };

    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    for (i = 0; refusals[i]; i++) {
        if (ngx_strnstr((u_char *) reply->str, refusals[i], reply->len)) {
            return 1;
        }
    }

    return 0;
}


/* error replies of scripts are logged at most once a second */

static void
ngx_api_led_redis_log_reply_error(ngx_api_led_redis_t *rd, redisReply *reply)
{
    u_char     buf[4 * 256];
    ngx_str_t  msg, text;

    if (!ngx_api_led_redis_log_due(&rd->error_logged)) {
        return;
    }

    /* it may quote a key, a value from a request */
    text.data = (u_char *) reply->str;
    text.len = ngx_min(reply->len, 256);

    ngx_api_led_log_value_buf(&msg, buf, &text);

    ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                  "redis answered an error: \"%V\"", &msg);
}


ngx_uint_t
ngx_api_led_redis_too_large(ngx_api_led_redis_t *rd)
{
    return rd->too_large;
}


ngx_msec_t
ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd)
{
    return rd->conf->timeout;
}


/*
 * How long until the next reconnection attempt, for Retry-After: the
 * master's, or the soonest of the cluster's nodes that are down.
 */

ngx_msec_t
ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd)
{
    ngx_msec_t                 best;
    ngx_queue_t               *q;
    ngx_msec_int_t             left;
    ngx_api_led_redis_node_t  *node;

    best = 0;

    for (q = ngx_queue_head(&rd->nodes);
         q != ngx_queue_sentinel(&rd->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);

        if (node->role != NGX_API_LED_REDIS_ROLE_DATA || !node->down
            || !node->reconnect.timer_set)
        {
            continue;
        }

        left = node->retry_at - ngx_current_msec;

        if (left > 0 && (best == 0 || (ngx_msec_t) left < best)) {
            best = left;
        }
    }

    return best;
}


/* counts failures: a caller warns once per value */

ngx_uint_t
ngx_api_led_redis_outage(ngx_api_led_redis_t *rd)
{
    return rd->outage;
}
