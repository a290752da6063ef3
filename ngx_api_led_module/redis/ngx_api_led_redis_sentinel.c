
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Redis Sentinel: the master of api_led_redis's sentinel=NAME, asked of
 * the Sentinels in turn (SENTINEL get-master-addr-by-name) when the client
 * starts, when the master's connection is to be made again, and when the
 * master answers READONLY (it was demoted); followed at once when a
 * Sentinel announces a failover (+switch-master, on a connection
 * subscribed to it, to one Sentinel at a time).  Every new connection to
 * the master asks it its ROLE before any command is written: a replica
 * never sees one.
 */


#include "ngx_api_led_redis_int.h"


static void ngx_api_led_redis_sentinel_handler(ngx_event_t *ev);
static void ngx_api_led_redis_sentinel_reply(void *data, redisReply *reply);
static void ngx_api_led_redis_sentinel_next(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_sentinel_apply(ngx_api_led_redis_t *rd,
    u_char *host, size_t len, ngx_int_t port);
static void ngx_api_led_redis_sentinel_message(ngx_api_led_redis_node_t *node,
    redisReply *reply);
static void ngx_api_led_redis_sentinel_reconnect(
    ngx_api_led_redis_node_t *node);


ngx_int_t
ngx_api_led_redis_sentinel_init(ngx_api_led_redis_t *rd)
{
    ngx_uint_t   i, n;
    ngx_addr_t  *addrs;

    addrs = rd->conf->addrs.elts;
    n = rd->conf->addrs.nelts;

    rd->sentinels = ngx_palloc(rd->pool,
                               n * sizeof(ngx_api_led_redis_node_t *));
    if (rd->sentinels == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        rd->sentinels[i] = ngx_api_led_redis_node_add(rd,
                                              NGX_API_LED_REDIS_ROLE_SENTINEL,
                                              &addrs[i]);
        if (rd->sentinels[i] == NULL) {
            return NGX_ERROR;
        }
    }

    rd->nsentinels = n;

    /* the master's address comes from a Sentinel */
    rd->master = ngx_api_led_redis_node_add(rd, NGX_API_LED_REDIS_ROLE_DATA,
                                            NULL);
    rd->sub = ngx_api_led_redis_node_add(rd, NGX_API_LED_REDIS_ROLE_SUB,
                                         &addrs[0]);

    if (rd->master == NULL || rd->sub == NULL) {
        return NGX_ERROR;
    }

    rd->sub->push = ngx_api_led_redis_sentinel_message;

    rd->discover.handler = ngx_api_led_redis_sentinel_handler;
    rd->discover.data = rd;
    rd->discover.log = &rd->log;
    rd->discover.cancelable = 1;

    rd->reconnect = ngx_api_led_redis_sentinel_reconnect;

    ngx_api_led_redis_node_connect(rd->sub);
    ngx_api_led_redis_sentinel_discover(rd);

    return NGX_OK;
}


/* ask a Sentinel where the master is, unless a question is out */

void
ngx_api_led_redis_sentinel_discover(ngx_api_led_redis_t *rd)
{
    size_t                       argvlen[3];
    ngx_uint_t                   k;
    const char                  *argv[3];
    ngx_api_led_redis_node_t    *sentinel;
    ngx_api_led_redis_waiter_t  *w;

    if (rd->asking || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    sentinel = NULL;

    for (k = 0; k < rd->nsentinels; k++) {
        sentinel = rd->sentinels[rd->sentinel % rd->nsentinels];

        if (ngx_api_led_redis_node_usable(sentinel) == NGX_OK) {
            break;
        }

        sentinel = NULL;
        rd->sentinel++;
    }

    if (sentinel == NULL) {
        ngx_log_error(NGX_LOG_INFO, &rd->log, 0,
                      "redis: no sentinel to ask for master \"%V\"",
                      &rd->conf->master);
        ngx_add_timer(&rd->discover, NGX_API_LED_REDIS_BACKOFF_MAX / 4);
        return;
    }

    argv[0] = "SENTINEL";
    argvlen[0] = 8;
    argv[1] = "get-master-addr-by-name";
    argvlen[1] = 23;
    argv[2] = (const char *) rd->conf->master.data;
    argvlen[2] = rd->conf->master.len;

    w = ngx_api_led_redis_waiter_new(rd, 3, argv, argvlen);
    if (w == NULL) {
        return;
    }

    w->kind = NGX_API_LED_REDIS_REQUEST;
    w->handler = ngx_api_led_redis_sentinel_reply;
    w->data = rd;
    w->errors = 1;

    if (ngx_api_led_redis_node_queue(sentinel, w) != NGX_OK) {
        ngx_api_led_redis_waiter_free(rd, w);
        return;
    }

    rd->asking = w;
}


static void
ngx_api_led_redis_sentinel_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_sentinel_discover(ev->data);
}


/* the answer: [ip, port], or nil when the Sentinel knows no such master */

static void
ngx_api_led_redis_sentinel_reply(void *data, redisReply *reply)
{
    ngx_api_led_redis_t *rd = data;

    ngx_int_t                  port;
    ngx_api_led_redis_node_t  *sentinel;

    rd->asking = NULL;

    sentinel = rd->sentinels[rd->sentinel % rd->nsentinels];

    if (reply == NULL) {
        ngx_api_led_redis_sentinel_next(rd);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, &sentinel->log, 0,
                      "redis sentinel does not know master \"%V\"",
                      &rd->conf->master);
        ngx_api_led_redis_sentinel_next(rd);
        return;
    }

    port = ngx_atoi((u_char *) reply->element[1]->str,
                    reply->element[1]->len);

    rd->asked = 0;

    ngx_api_led_redis_sentinel_apply(rd, (u_char *) reply->element[0]->str,
                                     reply->element[0]->len, port);
}


/* this Sentinel could not tell: the next one now, or all again later */

static void
ngx_api_led_redis_sentinel_next(ngx_api_led_redis_t *rd)
{
    rd->sentinel++;

    if (++rd->asked < rd->nsentinels) {
        ngx_api_led_redis_sentinel_discover(rd);
        return;
    }

    rd->asked = 0;

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&rd->discover, NGX_API_LED_REDIS_BACKOFF_MAX / 4);
    }
}


/*
 * The master is at host:port.  A new address: the old connection goes (the
 * commands written to it are answered NULL, those held go to the new
 * master), and the new one is made.  The same: connected again if it is
 * not; while commands wait for a master that answered READONLY, the
 * Sentinels are asked again soon (the failover is on its way).
 */

static void
ngx_api_led_redis_sentinel_apply(ngx_api_led_redis_t *rd, u_char *host,
    size_t len, ngx_int_t port)
{
    socklen_t                  socklen;
    ngx_sockaddr_t             sa;
    ngx_api_led_redis_node_t  *master;

    master = rd->master;

    if (ngx_api_led_redis_addr_parse(&sa, &socklen, host, len, port)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                      "redis sentinel gave master \"%V\" an address that is "
                      "not an IP address and port", &rd->conf->master);
        ngx_api_led_redis_sentinel_next(rd);
        return;
    }

    if (master->has_addr
        && ngx_cmp_sockaddr(master->addr.sockaddr, master->addr.socklen,
                            &sa.sockaddr, socklen, 1)
           == NGX_OK)
    {
        if (master->c == NULL) {
            ngx_api_led_redis_node_connect(master);
            rd->changed(rd);
            return;
        }

        /*
         * the master that answered READONLY, still named: its commands
         * go again at their retry time, not at once
         */

        if (!ngx_queue_empty(&rd->parked)
            && !ngx_exiting && !ngx_terminate && !ngx_quit)
        {
            ngx_add_timer(&rd->discover, NGX_API_LED_REDIS_BACKOFF_MIN);
        }

        return;
    }

    ngx_api_led_redis_node_reset(master);

    if (ngx_api_led_redis_node_set_addr(master, &sa.sockaddr, socklen)
        != NGX_OK)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, &master->log, 0,
                  "redis master \"%V\" is here", &rd->conf->master);

    ngx_api_led_redis_node_connect(master);

    rd->changed(rd);
}


/*
 * A message on the subscribed connection: "+switch-master" with
 * "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT".  Its subscription's confirmation
 * means the connection was made (again): a failover may have been missed
 * meanwhile, the Sentinels are asked.
 */

static void
ngx_api_led_redis_sentinel_message(ngx_api_led_redis_node_t *node,
    redisReply *reply)
{
    u_char               *p, *last, *field[5];
    size_t                len[5];
    ngx_int_t             port;
    ngx_uint_t            i;
    redisReply          **e;
    ngx_api_led_redis_t  *rd;

    rd = node->client;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        return;
    }

    e = reply->element;

    if (e[0]->type != REDIS_REPLY_STRING || e[2]->type != REDIS_REPLY_STRING)
    {
        if (e[0]->type == REDIS_REPLY_STRING && e[0]->len == 9
            && ngx_strncmp(e[0]->str, "subscribe", 9) == 0)
        {
            ngx_api_led_redis_sentinel_discover(rd);
        }

        return;
    }

    if (e[0]->len != 7 || ngx_strncmp(e[0]->str, "message", 7) != 0) {
        return;
    }

    p = (u_char *) e[2]->str;
    last = p + e[2]->len;

    for (i = 0; i < 5; i++) {
        field[i] = p;

        p = ngx_strlchr(p, last, ' ');
        if (p == NULL) {
            p = last;
        }

        len[i] = p - field[i];

        if (p < last) {
            p++;
        }
    }

    if (len[0] != rd->conf->master.len
        || ngx_strncmp(field[0], rd->conf->master.data, len[0]) != 0)
    {
        return;
    }

    port = ngx_atoi(field[4], len[4]);

    ngx_log_error(NGX_LOG_NOTICE, &node->log, 0,
                  "redis sentinel announced a failover of master \"%V\"",
                  &rd->conf->master);

    ngx_api_led_redis_sentinel_apply(rd, field[3], len[3], port);
}


/*
 * After a backoff: the master is looked for again (and connected once
 * found); the subscription moves to the next Sentinel; a Sentinel's query
 * connection is made again on demand.
 */

static void
ngx_api_led_redis_sentinel_reconnect(ngx_api_led_redis_node_t *node)
{
    ngx_uint_t                 i;
    ngx_api_led_redis_t       *rd;
    ngx_api_led_redis_node_t  *next;

    rd = node->client;

    if (node == rd->master) {
        ngx_api_led_redis_sentinel_discover(rd);
        return;
    }

    if (node == rd->sub) {
        for (i = 0; i < rd->nsentinels; i++) {
            if (ngx_cmp_sockaddr(node->addr.sockaddr, node->addr.socklen,
                                 rd->sentinels[i]->addr.sockaddr,
                                 rd->sentinels[i]->addr.socklen, 1)
                == NGX_OK)
            {
                break;
            }
        }

        next = rd->sentinels[(i + 1) % rd->nsentinels];

        if (ngx_api_led_redis_node_set_addr(node, next->addr.sockaddr,
                                            next->addr.socklen)
            == NGX_OK)
        {
            ngx_api_led_redis_node_connect(node);
        }

        return;
    }

    node->down = 0;
}
