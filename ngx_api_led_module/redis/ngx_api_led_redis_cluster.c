
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Redis Cluster: the hash slot of a key, and the slot map of a worker's
 * client, read with CLUSTER SLOTS from any node it knows (the seeds first)
 * when the client starts, every 5 seconds, after a MOVED, when a node that
 * serves slots fails, and when a slot has no master.  At most one read is
 * in flight; the requests for more while it is out make one more read,
 * 100 ms after it at the soonest.  A MOVED also updates its slot at once.
 *
 * Nodes announce their IP addresses (cluster-preferred-endpoint-type ip,
 * Redis's default): no name is resolved in a worker.
 */


#include "ngx_api_led_redis_int.h"


static void ngx_api_led_redis_cluster_send(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_cluster_refresh_handler(ngx_event_t *ev);
static void ngx_api_led_redis_cluster_slots(void *data, redisReply *reply);
static ngx_int_t ngx_api_led_redis_cluster_parse(ngx_api_led_redis_t *rd,
    redisReply *reply);
static void ngx_api_led_redis_cluster_node_down(
    ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_cluster_reconnect(
    ngx_api_led_redis_node_t *node);
static ngx_api_led_redis_node_t *ngx_api_led_redis_cluster_node(
    ngx_api_led_redis_t *rd, u_char *host, size_t len, ngx_int_t port);


/*
 * CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), a byte at a
 * time: the table is the CRC of each byte value (the key's hash slot is
 * computed for every command, in every request of a cluster).
 */
static const uint16_t  ngx_api_led_redis_crc16[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
    0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
    0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
    0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
    0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
    0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
    0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
    0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
    0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
    0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
    0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
    0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
    0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
    0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
    0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
    0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
    0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
    0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
    0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
    0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
    0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
    0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0
};


/*
 * CRC16 (XMODEM: polynomial 0x1021, initial 0) of the key, or of its hash
 * tag: the bytes between the first '{' and the first '}' after it, when
 * there are some.  The slot is the CRC modulo 16384.
 */

ngx_uint_t
ngx_api_led_redis_key_slot(u_char *key, size_t len)
{
    u_char      *open, *close;
    uint16_t     crc;
    ngx_uint_t   i;

    open = ngx_strlchr(key, key + len, '{');

    if (open) {
        close = ngx_strlchr(open + 1, key + len, '}');

        if (close && close > open + 1) {
            key = open + 1;
            len = close - key;
        }
    }

    crc = 0;

    for (i = 0; i < len; i++) {
        crc = (uint16_t) (crc << 8)
              ^ ngx_api_led_redis_crc16[((crc >> 8) ^ key[i]) & 0xff];
    }

    return crc & (NGX_API_LED_REDIS_SLOTS - 1);
}


ngx_int_t
ngx_api_led_redis_cluster_init(ngx_api_led_redis_t *rd)
{
    ngx_uint_t   i;
    ngx_addr_t  *addrs;

    rd->slots = ngx_pcalloc(rd->pool, NGX_API_LED_REDIS_SLOTS
                                      * sizeof(ngx_api_led_redis_node_t *));
    rd->next = ngx_pcalloc(rd->pool, NGX_API_LED_REDIS_SLOTS
                                     * sizeof(ngx_api_led_redis_node_t *));

    if (rd->slots == NULL || rd->next == NULL) {
        return NGX_ERROR;
    }

    addrs = rd->conf->addrs.elts;

    for (i = 0; i < rd->conf->addrs.nelts; i++) {
        if (ngx_api_led_redis_node_add(rd, NGX_API_LED_REDIS_ROLE_DATA,
                                       &addrs[i])
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    rd->refresh.handler = ngx_api_led_redis_cluster_refresh_handler;
    rd->refresh.data = rd;
    rd->refresh.log = &rd->log;
    rd->refresh.cancelable = 1;

    rd->node_down = ngx_api_led_redis_cluster_node_down;
    rd->reconnect = ngx_api_led_redis_cluster_reconnect;

    ngx_api_led_redis_cluster_send(rd);

    return NGX_OK;
}


/* read the map again: now, or as soon as the last read allows */

void
ngx_api_led_redis_cluster_refresh(ngx_api_led_redis_t *rd)
{
    ngx_msec_int_t  left;

    if (rd->reading) {
        rd->again = 1;
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    left = rd->refreshed + NGX_API_LED_REDIS_REFRESH_GAP - ngx_current_msec;

    if (rd->refreshed && left > 0) {
        if (!rd->refresh.timer_set
            || (ngx_msec_int_t) (rd->refresh.timer.key - ngx_current_msec)
               > left)
        {
            ngx_add_timer(&rd->refresh, (ngx_msec_t) left);
        }

        return;
    }

    ngx_api_led_redis_cluster_send(rd);
}


static void
ngx_api_led_redis_cluster_refresh_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_t  *rd;

    rd = ev->data;

    if (rd->reading || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_api_led_redis_cluster_send(rd);
}


/*
 * CLUSTER SLOTS to a node: one connected first, else the next one in turn
 * that is not down (seeds included), connected now.
 */

static void
ngx_api_led_redis_cluster_send(ngx_api_led_redis_t *rd)
{
    size_t                       argvlen[2];
    ngx_uint_t                   i, n, pass;
    ngx_queue_t                 *q;
    const char                  *argv[2];
    ngx_api_led_redis_node_t    *node, *found;
    ngx_api_led_redis_waiter_t  *w;

    found = NULL;

    for (pass = 0; pass < 2 && found == NULL; pass++) {

        n = 0;
        i = rd->seed % rd->nnodes;

        /* from the node after the one asked last, round */

        for (q = ngx_queue_head(&rd->nodes);
             n < rd->nnodes * 2;
             q = ngx_queue_next(q))
        {
            if (q == ngx_queue_sentinel(&rd->nodes)) {
                continue;
            }

            if (n++ < i) {
                continue;
            }

            node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);

            if (node->role != NGX_API_LED_REDIS_ROLE_DATA || node->down) {
                continue;
            }

            if (pass == 0 && !node->ready) {
                continue;
            }

            if (ngx_api_led_redis_node_usable(node) == NGX_OK) {
                found = node;
                break;
            }
        }
    }

    rd->seed++;

    if (found == NULL) {
        /* every node is down: try again after the shortest backoff */
        if (ngx_api_led_redis_log_due(&rd->slots_logged)) {
            ngx_log_error(NGX_LOG_INFO, &rd->log, 0,
                          "redis cluster: no node to read the slot map "
                          "from");
        }

        if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
            ngx_add_timer(&rd->refresh, NGX_API_LED_REDIS_BACKOFF_MIN);
        }

        return;
    }

    argv[0] = "CLUSTER";
    argvlen[0] = 7;
    argv[1] = "SLOTS";
    argvlen[1] = 5;

    w = ngx_api_led_redis_waiter_new(rd, 2, argv, argvlen);
    if (w == NULL) {
        return;
    }

    w->kind = NGX_API_LED_REDIS_REQUEST;
    w->handler = ngx_api_led_redis_cluster_slots;
    w->data = rd;
    w->errors = 1;

    if (ngx_api_led_redis_node_queue(found, w) != NGX_OK) {
        ngx_api_led_redis_waiter_free(rd, w);
        return;
    }

    rd->reading = w;
    rd->reader = found;
    rd->again = 0;
}


static void
ngx_api_led_redis_cluster_slots(void *data, redisReply *reply)
{
    ngx_api_led_redis_t *rd = data;

    u_char     buf[4 * 128];
    ngx_str_t  msg, text;

    rd->reading = NULL;
    rd->refreshed = ngx_current_msec ? ngx_current_msec : 1;

    /* a failed read is tried again every 100 ms: logged once a second */

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        text.data = (u_char *) reply->str;
        text.len = ngx_min(reply->len, 128);

        if (ngx_api_led_redis_log_due(&rd->slots_logged)) {
            ngx_log_error(NGX_LOG_ERR, &rd->reader->log, 0,
                          "redis CLUSTER SLOTS failed: \"%V\"",
                          ngx_api_led_log_value_buf(&msg, buf, &text));
        }

        reply = NULL;
    }

    if (reply && ngx_api_led_redis_cluster_parse(rd, reply) != NGX_OK) {
        if (ngx_api_led_redis_log_due(&rd->slots_logged)) {
            ngx_log_error(NGX_LOG_ERR, &rd->reader->log, 0,
                          "redis CLUSTER SLOTS answered an unexpected "
                          "reply");
        }

        reply = NULL;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (reply == NULL) {
        /* another node next time, soon */
        ngx_add_timer(&rd->refresh, NGX_API_LED_REDIS_BACKOFF_MIN);
        return;
    }

    ngx_add_timer(&rd->refresh, rd->again ? NGX_API_LED_REDIS_REFRESH_GAP
                                          : NGX_API_LED_REDIS_REFRESH);
    rd->again = 0;

    rd->changed(rd);
}


/*
 * Each element: start, end, then the master [ip, port, id, ...], then its
 * replicas.  An empty ip is the address of the node that answered.  The
 * map is built apart and replaces the old one only when the whole reply
 * is valid.
 */

static ngx_int_t
ngx_api_led_redis_cluster_parse(ngx_api_led_redis_t *rd, redisReply *reply)
{
    u_char                     host[NGX_SOCKADDR_STRLEN];
    size_t                     len;
    ngx_uint_t                 i, s, masters, covered, level;
    ngx_queue_t               *q;
    redisReply                *range, *master;
    long long                  start, end;
    ngx_api_led_redis_node_t  *node;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    ngx_memzero(rd->next, NGX_API_LED_REDIS_SLOTS
                          * sizeof(ngx_api_led_redis_node_t *));

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY)
        {
            return NGX_ERROR;
        }

        start = range->element[0]->integer;
        end = range->element[1]->integer;
        master = range->element[2];

        if (start < 0 || end < start || end >= NGX_API_LED_REDIS_SLOTS
            || master->elements < 2
            || master->element[0]->type != REDIS_REPLY_STRING
            || master->element[1]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        if (master->element[0]->len == 0) {
            /* the node that answered does not know its own address */
            len = ngx_sock_ntop(rd->reader->addr.sockaddr,
                                rd->reader->addr.socklen, host,
                                NGX_SOCKADDR_STRLEN, 0);

            node = ngx_api_led_redis_cluster_node(rd, host, len,
                                            master->element[1]->integer);

        } else {
            node = ngx_api_led_redis_cluster_node(rd,
                                        (u_char *) master->element[0]->str,
                                        master->element[0]->len,
                                        master->element[1]->integer);
        }

        if (node == NULL) {
            return NGX_ERROR;
        }

        for (s = (ngx_uint_t) start; s <= (ngx_uint_t) end; s++) {
            rd->next[s] = node;
        }
    }

    ngx_memcpy(rd->slots, rd->next, NGX_API_LED_REDIS_SLOTS
                                    * sizeof(ngx_api_led_redis_node_t *));

    for (q = ngx_queue_head(&rd->nodes);
         q != ngx_queue_sentinel(&rd->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);
        node->nslots = 0;
    }

    covered = 0;
    masters = 0;

    for (s = 0; s < NGX_API_LED_REDIS_SLOTS; s++) {
        node = rd->slots[s];

        if (node) {
            covered++;

            if (node->nslots++ == 0) {
                masters++;
            }
        }
    }

    /* the first map; then a map that misses slots, once a second */

    if (!rd->mapped
        || (covered != NGX_API_LED_REDIS_SLOTS
            && ngx_api_led_redis_log_due(&rd->slots_logged)))
    {
        level = (covered == NGX_API_LED_REDIS_SLOTS) ? NGX_LOG_INFO
                                                     : NGX_LOG_WARN;

        ngx_log_error(level, &rd->log, 0,
                      "redis cluster: %ui masters serve %ui of %d slots",
                      masters, covered, NGX_API_LED_REDIS_SLOTS);
    }

    rd->mapped = 1;

    return NGX_OK;
}


/*
 * MOVED SLOT IP:PORT (the slot's owner: the map learns it at once and is
 * read again) or ASK SLOT IP:PORT (the node importing the slot, for this
 * command only).  The node to send the command to, NULL if none.
 */

ngx_api_led_redis_node_t *
ngx_api_led_redis_cluster_redirect(ngx_api_led_redis_t *rd, redisReply *reply,
    ngx_uint_t moved)
{
    u_char                    *p, *last, *colon;
    ngx_int_t                  slot, port;
    ngx_api_led_redis_node_t  *node, *old;

    p = (u_char *) reply->str;
    last = p + reply->len;

    /* the word, the slot, the address */

    p = ngx_strlchr(p, last, ' ');
    if (p == NULL) {
        return NULL;
    }

    p++;

    colon = ngx_strlchr(p, last, ' ');
    if (colon == NULL) {
        return NULL;
    }

    slot = ngx_atoi(p, colon - p);
    if (slot == NGX_ERROR || slot >= NGX_API_LED_REDIS_SLOTS) {
        return NULL;
    }

    p = colon + 1;

    /* an IPv6 address has colons of its own: the port follows the last */

    for (colon = last - 1; colon > p && *colon != ':'; colon--) {
        /* void */
    }

    if (colon <= p) {
        return NULL;
    }

    port = ngx_atoi(colon + 1, last - colon - 1);

    node = ngx_api_led_redis_cluster_node(rd, p, colon - p, port);
    if (node == NULL) {
        return NULL;
    }

    if (moved) {
        old = rd->slots[slot];

        if (old != node) {
            if (old) {
                old->nslots--;
            }

            node->nslots++;
            rd->slots[slot] = node;
        }

        ngx_api_led_redis_cluster_refresh(rd);
    }

    return node;
}


static ngx_api_led_redis_node_t *
ngx_api_led_redis_cluster_node(ngx_api_led_redis_t *rd, u_char *host,
    size_t len, ngx_int_t port)
{
    socklen_t       socklen;
    ngx_str_t       text, msg;
    u_char          buf[4 * 64];
    ngx_sockaddr_t  sa;

    if (ngx_api_led_redis_addr_parse(&sa, &socklen, host, len, port)
        != NGX_OK)
    {
        text.data = host;
        text.len = ngx_min(len, 64);

        /* every MOVED to it says it again: once a second */

        if (ngx_api_led_redis_log_due(&rd->announce_logged)) {
            ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                          "redis cluster: a node announced as \"%V\" port "
                          "%i, not an IP address and port",
                          ngx_api_led_log_value_buf(&msg, buf, &text), port);
        }

        return NULL;
    }

    return ngx_api_led_redis_node_get(rd, &sa, socklen);
}


/* a node that serves slots failed: the map may have changed */

static void
ngx_api_led_redis_cluster_node_down(ngx_api_led_redis_node_t *node)
{
    if (node->nslots || node == node->client->reader) {
        ngx_api_led_redis_cluster_refresh(node->client);
    }
}


/*
 * A node that serves no slot any more (a failed master now replaced) is
 * not connected again: it will be on demand, if a map or a MOVED names it.
 */

static void
ngx_api_led_redis_cluster_reconnect(ngx_api_led_redis_node_t *node)
{
    if (node->nslots == 0) {
        node->down = 0;
        return;
    }

    ngx_api_led_redis_node_connect(node);
}
