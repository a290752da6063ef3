
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * One Redis node's connection: an nginx connection (ngx_event_connect_peer,
 * nginx's SSL for TLS), hiredis only as the reply parser (redisReader;
 * commands are formatted here), so connecting, timers, reconnecting and
 * shutting down follow nginx's rules and nothing ever blocks the worker.
 *
 * A node carries its client's commands, pipelined; replies are matched to
 * waiters in FIFO order.  Each new connection first sends its handshake
 * (AUTH, SELECT, ROLE with Sentinels, SCRIPT LOAD); commands queued
 * meanwhile are held, not written, until it is done: a command reaches a
 * node only once the node is known to take it (a replica found by ROLE
 * never sees one), and a connection that fails before that loses nothing.
 *
 * After a failure (connect error, TLS refused, lost connection, a reply
 * later than its deadline, a failed handshake) the node's circuit is open:
 * every waiter is answered with a failure at once (its command may have
 * run: it is never sent again), new commands are refused at once, and the
 * node reconnects after a backoff that doubles up to 2 seconds.  The
 * circuit closes when a new handshake has completed.
 *
 * Shutdown: an idle connection holds no timer, so it never delays a
 * worker's exit; exit_process closes it.  The reconnect and connect timers
 * are cancelable; the reply timer is not (a waiting request gets its
 * answer, at most "timeout" later).
 */


#include "ngx_api_led_redis_int.h"


#define NGX_API_LED_REDIS_READ_SIZE     16384

/*
 * What one reply may cost: hiredis allocates an array's table of elements
 * as soon as it reads "*N" ("*500000000" would take 4 GB, and freeing it
 * would hold the worker for seconds), and keeps a bulk string's bytes until
 * the whole string is there.  A reply over either bound fails the
 * connection like any protocol error.  (The rate limits' replies have at
 * most 255 elements.)
 */
#define NGX_API_LED_REDIS_MAX_ELEMENTS  65536     /* all arrays of a reply */

#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_api_led_redis_nelts_t;
#else
typedef int     ngx_api_led_redis_nelts_t;
#endif


static redisReader *ngx_api_led_redis_reader_create(
    ngx_api_led_redis_node_t *node);
static void *ngx_api_led_redis_create_array(const redisReadTask *task,
    ngx_api_led_redis_nelts_t elements);
static ngx_int_t ngx_api_led_redis_reply_too_large(
    ngx_api_led_redis_node_t *node);
static ngx_int_t ngx_api_led_redis_handshake(ngx_api_led_redis_node_t *node);
static ngx_int_t ngx_api_led_redis_handshake_send(
    ngx_api_led_redis_node_t *node, ngx_queue_t *q, ngx_uint_t kind,
    ngx_api_led_redis_script_t *script, int argc, const char **argv,
    const size_t *argvlen);
static void ngx_api_led_redis_tcp_connected(ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_tls_handshake(ngx_connection_t *c);
static ngx_int_t ngx_api_led_redis_tls_verify(ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_connected(ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_ready(ngx_api_led_redis_node_t *node);
static ngx_int_t ngx_api_led_redis_test_connect(ngx_connection_t *c);
static void ngx_api_led_redis_write_handler(ngx_event_t *wev);
static void ngx_api_led_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_api_led_redis_dispatch(ngx_api_led_redis_node_t *node,
    redisReply *reply);
static ngx_int_t ngx_api_led_redis_node_reply(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w, redisReply *reply);
static ngx_int_t ngx_api_led_redis_noscript(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w);
static ngx_int_t ngx_api_led_redis_format(char **out, int argc,
    const char **argv, const size_t *argvlen);
static ngx_int_t ngx_api_led_redis_append(ngx_api_led_redis_node_t *node,
    u_char *data, size_t len);
static void ngx_api_led_redis_flush(ngx_api_led_redis_node_t *node);
static ngx_msec_t ngx_api_led_redis_earliest(ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_arm(ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_timer_handler(ngx_event_t *ev);
static void ngx_api_led_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_api_led_redis_log_handshake_error(
    ngx_api_led_redis_node_t *node, ngx_api_led_redis_waiter_t *w,
    redisReply *reply);
static void ngx_api_led_redis_answer_waiting(
    ngx_api_led_redis_node_t *node);
static void ngx_api_led_redis_report(ngx_api_led_redis_node_t *node,
    ngx_uint_t event, ngx_msec_int_t ms);
static u_char *ngx_api_led_redis_log_handler(ngx_log_t *log, u_char *buf,
    size_t len);


ngx_api_led_redis_node_t *
ngx_api_led_redis_node_add(ngx_api_led_redis_t *rd, ngx_uint_t role,
    ngx_addr_t *addr)
{
    ngx_api_led_redis_node_t  *node;

    if (rd->nnodes >= NGX_API_LED_REDIS_MAX_NODES) {
        ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                      "redis: more than %d nodes, the others are ignored",
                      NGX_API_LED_REDIS_MAX_NODES);
        return NULL;
    }

    node = ngx_pcalloc(rd->pool, sizeof(ngx_api_led_redis_node_t));
    if (node == NULL) {
        return NULL;
    }

    node->client = rd;
    node->role = role;

    node->log = rd->log;
    node->log.handler = ngx_api_led_redis_log_handler;
    node->log.data = node;
    node->log.action = NULL;

    ngx_queue_init(&node->waiting);

    node->timer.handler = ngx_api_led_redis_timer_handler;
    node->timer.data = node;
    node->timer.log = &node->log;
    node->timer.cancelable = rd->blocking;

    node->reconnect.handler = ngx_api_led_redis_reconnect_handler;
    node->reconnect.data = node;
    node->reconnect.log = &node->log;
    node->reconnect.cancelable = 1;

    node->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;

    if (addr
        && ngx_api_led_redis_node_set_addr(node, addr->sockaddr,
                                           addr->socklen)
           != NGX_OK)
    {
        return NULL;
    }

    ngx_queue_insert_tail(&rd->nodes, &node->queue);
    rd->nnodes++;

    return node;
}


/* a node's address: a seed's, a MOVED target's, the master's of the day */

ngx_int_t
ngx_api_led_redis_node_set_addr(ngx_api_led_redis_node_t *node,
    struct sockaddr *sa, socklen_t socklen)
{
    if (socklen > sizeof(ngx_sockaddr_t)) {
        return NGX_ERROR;
    }

    if (node->has_addr) {
        /* the metrics know it by its old name: it leaves that one */
        ngx_api_led_redis_report(node, NGX_API_LED_REDIS_NODE_GONE, 0);
        node->state = 0;
    }

    ngx_memcpy(&node->sockaddr, sa, socklen);

    node->addr.sockaddr = &node->sockaddr.sockaddr;
    node->addr.socklen = socklen;
    node->addr.name.data = node->text;
    node->addr.name.len = ngx_sock_ntop(sa, socklen, node->text,
                                        NGX_SOCKADDR_STRLEN, 1);
    node->has_addr = 1;

    return NGX_OK;
}


ngx_api_led_redis_node_t *
ngx_api_led_redis_node_find(ngx_api_led_redis_t *rd, struct sockaddr *sa,
    socklen_t socklen)
{
    ngx_queue_t               *q;
    ngx_api_led_redis_node_t  *node;

    for (q = ngx_queue_head(&rd->nodes);
         q != ngx_queue_sentinel(&rd->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_api_led_redis_node_t, queue);

        if (node->role == NGX_API_LED_REDIS_ROLE_DATA && node->has_addr
            && ngx_cmp_sockaddr(node->addr.sockaddr, node->addr.socklen,
                                sa, socklen, 1)
               == NGX_OK)
        {
            return node;
        }
    }

    return NULL;
}


/*
 * "ip" and a port from a Redis answer (CLUSTER SLOTS, MOVED, a Sentinel)
 * into sa: no name is resolved (a node announces its address), nothing
 * allocated (redirections come often during a migration).
 */

ngx_int_t
ngx_api_led_redis_addr_parse(ngx_sockaddr_t *sa, socklen_t *socklen,
    u_char *host, size_t len, ngx_int_t port)
{
    in_addr_t  inaddr;

    if (len == 0 || port < 1 || port > 65535) {
        return NGX_DECLINED;
    }

    ngx_memzero(sa, sizeof(ngx_sockaddr_t));

    inaddr = ngx_inet_addr(host, len);

    if (inaddr != INADDR_NONE) {
        sa->sockaddr_in.sin_family = AF_INET;
        sa->sockaddr_in.sin_addr.s_addr = inaddr;
        sa->sockaddr_in.sin_port = htons((in_port_t) port);
        *socklen = sizeof(struct sockaddr_in);
        return NGX_OK;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(host, len, sa->sockaddr_in6.sin6_addr.s6_addr)
        == NGX_OK)
    {
        sa->sockaddr_in6.sin6_family = AF_INET6;
        sa->sockaddr_in6.sin6_port = htons((in_port_t) port);
        *socklen = sizeof(struct sockaddr_in6);
        return NGX_OK;
    }
#endif

    return NGX_DECLINED;
}


/* the node of an address, added when new (NULL: too many, no memory) */

ngx_api_led_redis_node_t *
ngx_api_led_redis_node_get(ngx_api_led_redis_t *rd, ngx_sockaddr_t *sa,
    socklen_t socklen)
{
    ngx_addr_t                 addr;
    ngx_api_led_redis_node_t  *node;

    node = ngx_api_led_redis_node_find(rd, &sa->sockaddr, socklen);
    if (node) {
        return node;
    }

    addr.sockaddr = &sa->sockaddr;
    addr.socklen = socklen;

    return ngx_api_led_redis_node_add(rd, NGX_API_LED_REDIS_ROLE_DATA, &addr);
}


/*
 * At exit_process: the connection closes, nobody is answered any more.
 * The waiters are the client's to free.
 */

void
ngx_api_led_redis_node_destroy(ngx_api_led_redis_node_t *node)
{
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    ngx_api_led_redis_node_close(node);

    ngx_api_led_redis_report(node, NGX_API_LED_REDIS_NODE_GONE, 0);

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    if (node->reconnect.timer_set) {
        ngx_del_timer(&node->reconnect);
    }

    while (!ngx_queue_empty(&node->waiting)) {
        q = ngx_queue_head(&node->waiting);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        ngx_api_led_redis_waiter_free(node->client, w);
    }

    if (node->reader) {
        redisReaderFree(node->reader);
        node->reader = NULL;
    }

    if (node->out) {
        ngx_free(node->out);
        node->out = NULL;
    }
}


/*
 * Whether a command can be queued on the node now: NGX_DECLINED while its
 * circuit is open (the caller fails without waiting).  A node not
 * connected connects now; a node that waits for its address (the master a
 * Sentinel is asked for) takes commands while the question is out.
 */

ngx_int_t
ngx_api_led_redis_node_usable(ngx_api_led_redis_node_t *node)
{
    if (node->down) {
        return NGX_DECLINED;
    }

    if (node->c) {
        return NGX_OK;
    }

    if (!node->has_addr) {
        return node->client->asking ? NGX_OK : NGX_DECLINED;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return NGX_DECLINED;
    }

    ngx_api_led_redis_node_connect(node);

    return node->c ? NGX_OK : NGX_DECLINED;
}


void
ngx_api_led_redis_node_connect(ngx_api_led_redis_node_t *node)
{
    ngx_int_t                    rc;
    ngx_msec_t                   deadline;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_api_led_redis_conf_t    *rcf;
    ngx_api_led_redis_waiter_t  *w;

    rcf = node->client->conf;

    if (node->c || !node->has_addr) {
        return;
    }

    ngx_memzero(&node->peer, sizeof(ngx_peer_connection_t));

    node->peer.sockaddr = node->addr.sockaddr;
    node->peer.socklen = node->addr.socklen;
    node->peer.name = &node->addr.name;
    node->peer.get = ngx_event_get_peer;
    node->peer.log = &node->log;
    node->peer.log_error = NGX_ERROR_ERR;

    node->connected = 0;
    node->ready = 0;
    node->loading = 0;

    rc = ngx_event_connect_peer(&node->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        /* ngx_event_connect_peer() logged why */
        node->peer.connection = NULL;
        ngx_api_led_redis_node_fail(node, 0, NULL);
        return;
    }

    c = node->peer.connection;
    c->data = node;
    node->generation++;

    if (node->state == 0 || node->state == NGX_API_LED_REDIS_NODE_GONE) {
        /* a node met for the first time (down, it stays down until up) */
        ngx_api_led_redis_report(node, NGX_API_LED_REDIS_NODE_CONNECTING, 0);
    }
    c->read->handler = ngx_api_led_redis_read_handler;
    c->write->handler = ngx_api_led_redis_write_handler;

    node->c = c;

    if (node->reader == NULL) {
        node->reader = ngx_api_led_redis_reader_create(node);
        if (node->reader == NULL) {
            ngx_api_led_redis_node_fail(node, 0, "redisReaderCreate() failed");
            return;
        }
    }

    if (ngx_api_led_redis_handshake(node) != NGX_OK) {
        ngx_api_led_redis_node_fail(node, 0, "could not queue the handshake");
        return;
    }

    /* the handshake may wait for the connection, then for its replies */

    deadline = ngx_current_msec + rcf->connect_timeout + rcf->timeout;

    for (q = ngx_queue_head(&node->waiting);
         q != ngx_queue_sentinel(&node->waiting);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        /* a blocking command may have a later deadline: it keeps it */
        if ((ngx_msec_int_t) (w->deadline - deadline) < 0) {
            w->deadline = deadline;
        }
    }

    ngx_api_led_redis_arm(node);

    if (rc == NGX_AGAIN) {
        /* the connect timer does not hold a worker that is shutting down */
        c->write->cancelable = 1;
        ngx_add_timer(c->write, rcf->connect_timeout);
        return;
    }

    ngx_api_led_redis_tcp_connected(node);
}


/*
 * AUTH, SELECT, ROLE and SCRIPT LOAD go first on every new connection:
 * before any command held in the FIFO (a new connection has no command
 * written yet).
 */

static ngx_int_t
ngx_api_led_redis_handshake(ngx_api_led_redis_node_t *node)
{
    int                           argc;
    u_char                        db[NGX_INT_T_LEN];
    size_t                        argvlen[3];
    ngx_uint_t                    i;
    ngx_queue_t                   first;
    const char                   *argv[3];
    ngx_api_led_redis_conf_t     *rcf;
    ngx_api_led_redis_script_t  **scripts;

    rcf = node->client->conf;
    node->handshake = 0;

    ngx_queue_init(&first);

    if (node->role == NGX_API_LED_REDIS_ROLE_SUB) {
        argv[0] = "SUBSCRIBE";
        argvlen[0] = 9;
        argv[1] = "+switch-master";
        argvlen[1] = 14;

        /* its replies are messages, none has a waiter */
        return ngx_api_led_redis_node_raw(node, 2, argv, argvlen);
    }

    if (node->role == NGX_API_LED_REDIS_ROLE_SENTINEL) {
        return NGX_OK;
    }

    if (rcf->password.len) {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rcf->user.len) {
            argv[argc] = (const char *) rcf->user.data;
            argvlen[argc++] = rcf->user.len;
        }

        argv[argc] = (const char *) rcf->password.data;
        argvlen[argc++] = rcf->password.len;

        if (ngx_api_led_redis_handshake_send(node, &first,
                                             NGX_API_LED_REDIS_AUTH, NULL,
                                             argc, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rcf->db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%i", rcf->db) - db;

        if (ngx_api_led_redis_handshake_send(node, &first,
                                             NGX_API_LED_REDIS_SELECT, NULL,
                                             2, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rcf->mode == NGX_API_LED_REDIS_SENTINEL) {
        argv[0] = "ROLE";
        argvlen[0] = 4;

        if (ngx_api_led_redis_handshake_send(node, &first,
                                             NGX_API_LED_REDIS_ROLE, NULL,
                                             1, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    scripts = rcf->scripts.elts;

    for (i = 0; !node->client->blocking && i < rcf->scripts.nelts; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) scripts[i]->text.data;
        argvlen[2] = scripts[i]->text.len;

        if (ngx_api_led_redis_handshake_send(node, &first,
                                             NGX_API_LED_REDIS_LOAD,
                                             scripts[i], 3, argv, argvlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* the handshake goes before the commands held */
    if (!ngx_queue_empty(&first)) {
        ngx_queue_add(&first, &node->waiting);
        ngx_queue_init(&node->waiting);
        ngx_queue_add(&node->waiting, &first);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_redis_handshake_send(ngx_api_led_redis_node_t *node,
    ngx_queue_t *q, ngx_uint_t kind, ngx_api_led_redis_script_t *script,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_api_led_redis_waiter_t  *w;

    w = ngx_api_led_redis_waiter_new(node->client, argc, argv, argvlen);
    if (w == NULL) {
        return NGX_ERROR;
    }

    if (ngx_api_led_redis_append(node, (u_char *) w->cmd, w->len) != NGX_OK) {
        ngx_api_led_redis_waiter_free(node->client, w);
        return NGX_ERROR;
    }

    /* the handshake's commands are never sent again */
    redisFreeCommand(w->cmd);
    w->cmd = NULL;
    w->len = 0;

    w->kind = kind;
    w->script = script;
    w->node = node;
    w->deadline = ngx_current_msec + node->client->conf->timeout;

    ngx_queue_insert_tail(q, &w->queue);

    node->handshake++;

    return NGX_OK;
}


/* a command without a waiter: a subscription's */

ngx_int_t
ngx_api_led_redis_node_raw(ngx_api_led_redis_node_t *node, int argc,
    const char **argv, const size_t *argvlen)
{
    int        len;
    char      *cmd;
    ngx_int_t  rc;

    cmd = NULL;

    len = ngx_api_led_redis_format(&cmd, argc, argv, argvlen);
    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_api_led_redis_append(node, (u_char *) cmd, len);

    redisFreeCommand(cmd);

    if (rc == NGX_OK) {
        ngx_api_led_redis_flush(node);
    }

    return rc;
}


static void
ngx_api_led_redis_tcp_connected(ngx_api_led_redis_node_t *node)
{
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_api_led_redis_conf_t  *rcf;

    c = node->c;
    rcf = node->client->conf;

    if (rcf->ssl == NULL) {
        ngx_api_led_redis_connected(node);
        return;
    }

    /* nginx's SSL allocates its connection state from the pool */
    c->pool = ngx_create_pool(512, &node->log);
    if (c->pool == NULL) {
        ngx_api_led_redis_node_fail(node, 0, "no memory for TLS");
        return;
    }

    if (ngx_ssl_create_connection(rcf->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
        ngx_api_led_redis_node_fail(node, 0, "TLS setup failed");
        return;
    }

    /* closing never waits for, nor sends, the peer's close_notify */
    c->ssl->no_wait_shutdown = 1;
    c->ssl->no_send_shutdown = 1;

    if (rcf->tls_name.len
        && ngx_inet_addr(rcf->tls_name.data, rcf->tls_name.len) == INADDR_NONE)
    {
        /* tls_name is NUL-terminated: it comes from the configuration */
        if (SSL_set_tlsext_host_name(c->ssl->connection,
                                     (char *) rcf->tls_name.data)
            == 0)
        {
            ngx_ssl_error(NGX_LOG_ERR, &node->log, 0,
                          "SSL_set_tlsext_host_name(\"%V\") failed",
                          &rcf->tls_name);
            ngx_api_led_redis_node_fail(node, 0, NULL);
            return;
        }
    }

    if (!c->write->timer_set) {
        c->write->cancelable = 1;
        ngx_add_timer(c->write, rcf->connect_timeout);
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_api_led_redis_tls_handshake;
        return;
    }

    ngx_api_led_redis_tls_handshake(c);
}


static void
ngx_api_led_redis_tls_handshake(ngx_connection_t *c)
{
    ngx_api_led_redis_node_t  *node;

    node = c->data;

    if (c->read->timedout || c->write->timedout) {
        ngx_api_led_redis_node_fail(node, NGX_ETIMEDOUT,
                                    "TLS handshake timed out");
        return;
    }

    if (!c->ssl->handshaked) {
        /* nginx logged the TLS error */
        ngx_api_led_redis_node_fail(node, 0, "TLS handshake failed");
        return;
    }

    if (ngx_api_led_redis_tls_verify(node) != NGX_OK) {
        ngx_api_led_redis_node_fail(node, 0, "TLS certificate refused");
        return;
    }

    c->read->handler = ngx_api_led_redis_read_handler;
    c->write->handler = ngx_api_led_redis_write_handler;

    ngx_api_led_redis_connected(node);
}


/*
 * The certificate chain (verified by OpenSSL during the handshake against
 * the trusted CAs), then the name: api_led_redis_tls_name or the host name
 * of the address, else the node's IP address among the certificate's.
 */

static ngx_int_t
ngx_api_led_redis_tls_verify(ngx_api_led_redis_node_t *node)
{
    int                        ok;
    long                       rc;
    u_char                     ip[NGX_SOCKADDR_STRLEN + 1];
    X509                      *cert;
    size_t                     len;
    ngx_uint_t                 level;
    ngx_connection_t          *c;
    ngx_api_led_redis_conf_t  *rcf;

    c = node->c;
    rcf = node->client->conf;

    /* said once per outage, not at every attempt */
    level = node->down ? NGX_LOG_INFO : NGX_LOG_ERR;

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(level, &node->log, 0,
                      "redis TLS certificate verify error: (%l:%s)",
                      rc, X509_verify_cert_error_string(rc));
        return NGX_ERROR;
    }

    if (rcf->tls_name.len) {
        if (ngx_ssl_check_host(c, &rcf->tls_name) != NGX_OK) {
            ngx_log_error(level,
                          &node->log, 0,
                          "redis TLS certificate does not match \"%V\"",
                          &rcf->tls_name);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (node->addr.sockaddr->sa_family == AF_UNIX) {
        return NGX_OK;
    }

    len = ngx_sock_ntop(node->addr.sockaddr, node->addr.socklen, ip,
                        NGX_SOCKADDR_STRLEN, 0);
    ip[len] = '\0';

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        ngx_log_error(NGX_LOG_ERR, &node->log, 0,
                      "redis sent no TLS certificate");
        return NGX_ERROR;
    }

    ok = X509_check_ip_asc(cert, (char *) ip, 0);

    X509_free(cert);

    if (ok != 1) {
        ngx_log_error(level, &node->log, 0,
                      "redis TLS certificate does not match the address "
                      "%s (api_led_redis_tls_name names the one to check)",
                      ip);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_api_led_redis_connected(ngx_api_led_redis_node_t *node)
{
    ngx_connection_t  *c;

    c = node->c;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->cancelable = 0;

    /* small pipelined writes must not wait for Nagle */
    if (c->type == SOCK_STREAM
        && node->addr.sockaddr->sa_family != AF_UNIX
        && ngx_tcp_nodelay(c) != NGX_OK)
    {
        ngx_api_led_redis_node_fail(node, 0, "setsockopt(TCP_NODELAY) failed");
        return;
    }

    node->connected = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, &node->log, 0,
                   "api_led redis: connected, fd:%d", c->fd);

    if (node->handshake == 0) {
        ngx_api_led_redis_ready(node);

        if (node->c != c) {
            return;
        }
    }

    if (node->out_last > node->out_pos) {
        ngx_api_led_redis_write_handler(c->write);
    }
}


/* the handshake is done: the held commands leave, the circuit closes */

static void
ngx_api_led_redis_ready(ngx_api_led_redis_node_t *node)
{
    ngx_queue_t                 *q;
    ngx_api_led_redis_t         *rd;
    ngx_api_led_redis_waiter_t  *w;

    rd = node->client;

    node->ready = 1;
    node->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;
    rd->failing = 0;

    if (node->down) {
        node->down = 0;
        ngx_log_error(NGX_LOG_NOTICE, &node->log, 0,
                      "redis is available again");
    }

    ngx_api_led_redis_report(node, NGX_API_LED_REDIS_NODE_UP, 0);

    for (q = ngx_queue_head(&node->waiting);
         q != ngx_queue_sentinel(&node->waiting);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        if (!w->held) {
            continue;
        }

        if (ngx_api_led_redis_append(node, (u_char *) w->cmd, w->len)
            != NGX_OK)
        {
            ngx_api_led_redis_node_fail(node, 0, "no memory for commands");
            return;
        }

        w->held = 0;
        w->start = ngx_current_msec;
    }

    ngx_api_led_redis_flush(node);
}


/*
 * Queues a command on the node (the caller checked node_usable()): written
 * at the end of this turn of the event loop with the others, or held until
 * the handshake is done.
 */

ngx_int_t
ngx_api_led_redis_node_queue(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w)
{
    ngx_uint_t  first;

    if (node->ready) {
        if (ngx_api_led_redis_append(node, (u_char *) w->cmd, w->len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        w->held = 0;
        w->start = ngx_current_msec;

    } else {
        w->held = 1;
    }

    w->node = node;

    first = ngx_queue_empty(&node->waiting);

    ngx_queue_insert_tail(&node->waiting, &w->queue);

    /* behind a handshake, the first command has the earliest deadline */
    if (first || !node->ready) {
        ngx_api_led_redis_arm(node);
    }

    if (node->ready) {
        ngx_api_led_redis_flush(node);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_redis_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    return err;
}


static void
ngx_api_led_redis_write_handler(ngx_event_t *wev)
{
    ssize_t                    n;
    ngx_err_t                  err;
    ngx_connection_t          *c;
    ngx_api_led_redis_node_t  *node;

    c = wev->data;
    node = c->data;

    if (!node->connected) {
        if (wev->timedout) {
            ngx_api_led_redis_node_fail(node, NGX_ETIMEDOUT,
                                        "connect timed out");
            return;
        }

        if (c->ssl) {
            /* the TLS handshake's own handlers are elsewhere */
            return;
        }

        err = ngx_api_led_redis_test_connect(c);
        if (err) {
            ngx_api_led_redis_node_fail(node, err, "connect() failed");
            return;
        }

        ngx_api_led_redis_tcp_connected(node);
        return;
    }

    while (node->out_pos < node->out_last) {
        n = c->send(c, node->out + node->out_pos,
                    node->out_last - node->out_pos);

        if (n == NGX_ERROR) {
            ngx_api_led_redis_node_fail(node, 0, "send() failed");
            return;
        }

        if (n == NGX_AGAIN) {
            break;
        }

        node->out_pos += n;
    }

    if (node->out_pos == node->out_last) {
        node->out_pos = 0;
        node->out_last = 0;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_api_led_redis_node_fail(node, 0,
                                    "ngx_handle_write_event() failed");
    }
}


/*
 * Reads until the socket is drained: under edge-triggered epoll, bytes left
 * in it would never fire another event, nor would the connection's end
 * that came with them.  nginx's recv() tells: the read event stays ready
 * while there may be more (with EPOLLRDHUP, a short read without the end
 * behind it clears it: no extra recv() for the EAGAIN).
 */

static void
ngx_api_led_redis_read_handler(ngx_event_t *rev)
{
    u_char                     buf[NGX_API_LED_REDIS_READ_SIZE];
    void                      *reply;
    ssize_t                    n;
    ngx_err_t                  err;
    ngx_uint_t                 generation;
    ngx_connection_t          *c;
    ngx_api_led_redis_node_t  *node;

    c = rev->data;
    node = c->data;
    generation = node->generation;

    if (!node->connected) {
        if (c->ssl) {
            return;
        }

        err = ngx_api_led_redis_test_connect(c);
        if (err) {
            ngx_api_led_redis_node_fail(node, err, "connect() failed");
            return;
        }

        ngx_api_led_redis_tcp_connected(node);

        if (node->c != c || !node->connected) {
            return;
        }
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0) {
            if (ngx_queue_empty(&node->waiting) && node->ready
                && !node->down)
            {
                /* an idle connection closed by Redis: reconnect at once */
                ngx_log_error(NGX_LOG_INFO, &node->log, 0,
                              "redis closed an idle connection");
                ngx_api_led_redis_node_close(node);

                if (!ngx_exiting
                    && (node->role == NGX_API_LED_REDIS_ROLE_SUB
                        || node == node->client->master))
                {
                    ngx_api_led_redis_node_connect(node);
                }

                return;
            }

            ngx_api_led_redis_node_fail(node, 0, "connection closed by redis");
            return;
        }

        if (n == NGX_ERROR) {
            ngx_api_led_redis_node_fail(node, 0, "recv() failed");
            return;
        }

        if (redisReaderFeed(node->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_api_led_redis_node_fail(node, 0, "redisReaderFeed() failed");
            return;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(node->reader, &reply) != REDIS_OK) {
                if (ngx_api_led_redis_reply_too_large(node) != NGX_OK) {
                    return;
                }

                ngx_api_led_redis_node_fail(node, 0, "protocol error");
                return;
            }

            if (reply == NULL) {
                break;
            }

            node->elements = 0;

            if (ngx_api_led_redis_dispatch(node, reply) != NGX_OK) {
                return;
            }

            if (node->c != c || node->generation != generation) {
                /* closed meanwhile (and maybe opened again) */
                return;
            }
        }

        if (ngx_api_led_redis_reply_too_large(node) != NGX_OK) {
            return;
        }

        /*
         * Not a short read: the connection's end may follow the last
         * bytes (Redis gone in the middle of a reply), and epoll reports
         * it once, with them: recv() says when there is nothing more
         */
        if (!rev->ready) {
            break;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_api_led_redis_node_fail(node, 0, "ngx_handle_read_event() failed");
    }
}


/*
 * hiredis's reader with its own reply objects, but an array goes through
 * ngx_api_led_redis_create_array(), which counts the elements of the reply.
 * The table of functions is the same in every process and never changes
 * once set: no state of hiredis is touched.
 */

static redisReplyObjectFunctions  ngx_api_led_redis_reply_fns;
static void *(*ngx_api_led_redis_array_default)(const redisReadTask *task,
    ngx_api_led_redis_nelts_t elements);


static redisReader *
ngx_api_led_redis_reader_create(ngx_api_led_redis_node_t *node)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NULL;
    }

    if (ngx_api_led_redis_array_default == NULL) {
        ngx_api_led_redis_reply_fns = *reader->fn;
        ngx_api_led_redis_array_default = reader->fn->createArray;
        ngx_api_led_redis_reply_fns.createArray =
                                           ngx_api_led_redis_create_array;
    }

    reader->fn = &ngx_api_led_redis_reply_fns;
    reader->privdata = node;

    node->elements = 0;
    node->refused = 0;

    return reader;
}


static void *
ngx_api_led_redis_create_array(const redisReadTask *task,
    ngx_api_led_redis_nelts_t elements)
{
    ngx_api_led_redis_node_t  *node = task->privdata;

    if ((size_t) elements > NGX_API_LED_REDIS_MAX_ELEMENTS - node->elements) {
        /* hiredis fails the reply ("Out of memory"), nothing allocated */
        node->refused = (size_t) elements;
        return NULL;
    }

    node->elements += (size_t) elements;

    return ngx_api_led_redis_array_default(task, elements);
}


/* NGX_ERROR: the reply being read is over a bound, the connection failed */

static ngx_int_t
ngx_api_led_redis_reply_too_large(ngx_api_led_redis_node_t *node)
{
    u_char                       reason[128];
    ngx_api_led_redis_waiter_t  *w;

    if (node->refused) {
        ngx_api_led_errf(reason, sizeof(reason), "a reply with arrays of "
                         "%uz elements refused, at most %d",
                         node->elements + node->refused,
                         NGX_API_LED_REDIS_MAX_ELEMENTS);

    } else if (node->reader->len - node->reader->pos
               > NGX_API_LED_REDIS_MAX_PENDING)
    {
        ngx_api_led_errf(reason, sizeof(reason), "a reply larger than %d "
                         "bytes refused", NGX_API_LED_REDIS_MAX_PENDING);

    } else {
        return NGX_OK;
    }

    /* the reply is the oldest command's: it learns why it gets NULL */

    if (!ngx_queue_empty(&node->waiting)) {
        w = ngx_queue_data(ngx_queue_head(&node->waiting),
                           ngx_api_led_redis_waiter_t, queue);
        w->too_large = 1;
    }

    ngx_api_led_redis_node_fail(node, 0, (char *) reason);

    return NGX_ERROR;
}


/*
 * The reply belongs to the oldest waiter.  Returns NGX_OK to go on reading,
 * NGX_ERROR when the connection failed (and was closed).
 */

static ngx_int_t
ngx_api_led_redis_dispatch(ngx_api_led_redis_node_t *node, redisReply *reply)
{
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    if (node->push) {
        node->push(node, reply);
        freeReplyObject(reply);
        return NGX_OK;
    }

    if (ngx_queue_empty(&node->waiting)) {
        freeReplyObject(reply);
        ngx_api_led_redis_node_fail(node, 0, "unexpected reply");
        return NGX_ERROR;
    }

    q = ngx_queue_head(&node->waiting);
    w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

    if (w->held) {
        freeReplyObject(reply);
        ngx_api_led_redis_node_fail(node, 0, "unexpected reply");
        return NGX_ERROR;
    }

    ngx_queue_remove(q);
    w->node = NULL;

    if (w->kind != NGX_API_LED_REDIS_REQUEST) {
        return ngx_api_led_redis_node_reply(node, w, reply);
    }

    ngx_api_led_redis_report(node, (reply->type == REDIS_REPLY_ERROR)
                                       ? NGX_API_LED_REDIS_CALL_ERROR
                                       : NGX_API_LED_REDIS_CALL_OK,
                             (ngx_msec_int_t) (ngx_current_msec - w->start));

    if (reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && w->script)
    {
        freeReplyObject(reply);

        /* the script cache was flushed: run it with EVAL, then reload it */

        if (ngx_api_led_redis_noscript(node, w) != NGX_OK) {
            /* the waiter is in no queue now: fail() would not answer it */
            ngx_api_led_redis_node_fail(node, 0, "could not resend a script");
            node->client->reply(node->client, w, NULL);
            return NGX_ERROR;
        }

        ngx_api_led_redis_arm(node);
        return NGX_OK;
    }

    ngx_api_led_redis_arm(node);

    /* the client answers the waiter, sends it elsewhere, or frees it */
    node->client->reply(node->client, w, reply);

    freeReplyObject(reply);

    return NGX_OK;
}


/* the handshake's replies and ASKING's */

static ngx_int_t
ngx_api_led_redis_node_reply(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    ngx_uint_t  kind;

    kind = w->kind;

    if (kind == NGX_API_LED_REDIS_ASKING) {
        /* the command behind it tells how it went */
        freeReplyObject(reply);
        ngx_api_led_redis_waiter_free(node->client, w);
        ngx_api_led_redis_arm(node);
        return NGX_OK;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_redis_log_handshake_error(node, w, reply);
        freeReplyObject(reply);
        ngx_api_led_redis_waiter_free(node->client, w);
        ngx_api_led_redis_node_fail(node, 0, NULL);
        return NGX_ERROR;
    }

    if (kind == NGX_API_LED_REDIS_ROLE
        && (reply->type != REDIS_REPLY_ARRAY
            || reply->elements == 0
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[0]->len != 6
            || ngx_strncmp(reply->element[0]->str, "master", 6) != 0))
    {
        /* a demoted master, or a Sentinel that answered late */
        freeReplyObject(reply);
        ngx_api_led_redis_waiter_free(node->client, w);
        ngx_api_led_redis_node_fail(node, 0, "not a master (ROLE)");
        return NGX_ERROR;
    }

    if (kind == NGX_API_LED_REDIS_LOAD) {
        if (reply->type != REDIS_REPLY_STRING
            || reply->len != sizeof(w->script->sha)
            || ngx_strncmp(reply->str, w->script->sha,
                           sizeof(w->script->sha)) != 0)
        {
            ngx_log_error(NGX_LOG_ERR, &node->log, 0,
                          "redis SCRIPT LOAD returned an unexpected digest");
        }

        node->loading = 0;
    }

    freeReplyObject(reply);
    ngx_api_led_redis_waiter_free(node->client, w);

    if (!node->ready && node->handshake && --node->handshake == 0) {
        ngx_api_led_redis_ready(node);

        if (node->c == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_api_led_redis_arm(node);

    return NGX_OK;
}


/*
 * NOSCRIPT: the same command as EVAL.  The formatted EVALSHA is
 * "*N\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n<the rest>": the rest is kept.
 * The waiter's command becomes the EVAL (sent again after a redirection).
 */

static ngx_int_t
ngx_api_led_redis_noscript(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w)
{
    u_char                      *p, *rest, *cmd;
    size_t                       len;
    ngx_str_t                   *text;
    const char                  *argv[3];
    size_t                       argvlen[3];
    ngx_api_led_redis_script_t  *script;
    ngx_api_led_redis_waiter_t  *load;

    /* the module's RESP writer ends no command with a NUL */
    p = ngx_strlchr((u_char *) w->cmd, (u_char *) w->cmd + w->len, '\n');
    if (p == NULL) {
        return NGX_ERROR;
    }

    rest = p + 1 + sizeof("$7\r\nEVALSHA\r\n$40\r\n") - 1 + 40 + 2;

    if (rest > (u_char *) w->cmd + w->len) {
        return NGX_ERROR;
    }

    script = w->script;
    text = &script->text;

    len = (p + 1 - (u_char *) w->cmd)
          + sizeof("$4\r\nEVAL\r\n$\r\n") - 1 + NGX_SIZE_T_LEN
          + text->len + 2
          + ((u_char *) w->cmd + w->len - rest);

    /* as hiredis's own commands, so that redisFreeCommand() frees it */
    cmd = malloc(len);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(cmd, w->cmd, p + 1 - (u_char *) w->cmd);
    p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", text->len);
    p = ngx_cpymem(p, text->data, text->len);
    *p++ = CR; *p++ = LF;
    p = ngx_cpymem(p, rest, (u_char *) w->cmd + w->len - rest);

    redisFreeCommand(w->cmd);
    w->cmd = (char *) cmd;
    w->len = p - cmd;
    w->script = NULL;

    if (ngx_api_led_redis_append(node, (u_char *) w->cmd, w->len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, &node->log, 0,
                  "redis does not know the script, sent it with EVAL");

    /* the waiter keeps its deadline; its reply comes after those queued */
    w->node = node;
    ngx_queue_insert_tail(&node->waiting, &w->queue);

    if (!node->loading) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) text->data;
        argvlen[2] = text->len;

        load = ngx_api_led_redis_waiter_new(node->client, 3, argv, argvlen);
        if (load == NULL) {
            ngx_queue_remove(&w->queue);
            w->node = NULL;
            return NGX_ERROR;
        }

        load->kind = NGX_API_LED_REDIS_LOAD;
        load->script = script;

        if (ngx_api_led_redis_node_queue(node, load) != NGX_OK) {
            ngx_api_led_redis_waiter_free(node->client, load);
            ngx_queue_remove(&w->queue);
            w->node = NULL;
            return NGX_ERROR;
        }

        node->loading = 1;
    }

    ngx_api_led_redis_flush(node);

    return NGX_OK;
}


/*
 * A command in RESP, as redisFormatCommandArgv() makes it (and in memory
 * that redisFreeCommand() frees) without its sprintf() calls: a length
 * is written by hand, a command costs a few hundred instructions less.
 */

static u_char *
ngx_api_led_redis_format_len(u_char *p, u_char type, size_t n)
{
    u_char  *q, digits[NGX_SIZE_T_LEN];

    *p++ = type;

    q = digits + NGX_SIZE_T_LEN;

    do {
        *--q = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    p = ngx_cpymem(p, q, digits + NGX_SIZE_T_LEN - q);

    *p++ = CR;
    *p++ = LF;

    return p;
}


static ngx_int_t
ngx_api_led_redis_format(char **out, int argc, const char **argv,
    const size_t *argvlen)
{
    int      i;
    size_t   len;
    u_char  *cmd, *p;

    len = 1 + NGX_SIZE_T_LEN + 2;

    for (i = 0; i < argc; i++) {
        len += 1 + NGX_SIZE_T_LEN + 2 + argvlen[i] + 2;
    }

    cmd = malloc(len);
    if (cmd == NULL) {
        return -1;
    }

    p = ngx_api_led_redis_format_len(cmd, '*', (size_t) argc);

    for (i = 0; i < argc; i++) {
        p = ngx_api_led_redis_format_len(p, '$', argvlen[i]);
        p = ngx_cpymem(p, argv[i], argvlen[i]);
        *p++ = CR;
        *p++ = LF;
    }

    *out = (char *) cmd;

    return p - cmd;
}


/*
 * A waiter with its command formatted (RESP): its text is kept until the
 * answer, for a redirection.
 */

ngx_api_led_redis_waiter_t *
ngx_api_led_redis_waiter_new(ngx_api_led_redis_t *rd, int argc,
    const char **argv, const size_t *argvlen)
{
    int                          len;
    char                        *cmd;
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    cmd = NULL;

    len = ngx_api_led_redis_format(&cmd, argc, argv, argvlen);
    if (len < 0) {
        ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                      "no memory for a redis command");
        return NULL;
    }

    if (!ngx_queue_empty(&rd->free)) {
        q = ngx_queue_head(&rd->free);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

    } else {
        w = ngx_alloc(sizeof(ngx_api_led_redis_waiter_t), &rd->log);
        if (w == NULL) {
            redisFreeCommand(cmd);
            return NULL;
        }
    }

    ngx_memzero(w, sizeof(ngx_api_led_redis_waiter_t));

    w->cmd = cmd;
    w->len = len;
    w->deadline = ngx_current_msec + rd->conf->timeout;

    return w;
}


void
ngx_api_led_redis_waiter_free(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w)
{
    if (w->cmd) {
        redisFreeCommand(w->cmd);
        w->cmd = NULL;
    }

    w->handler = NULL;
    w->data = NULL;
    w->node = NULL;

    if (rd->destroyed) {
        ngx_free(w);
        return;
    }

    ngx_queue_insert_head(&rd->free, &w->queue);
}


static ngx_int_t
ngx_api_led_redis_append(ngx_api_led_redis_node_t *node, u_char *data,
    size_t len)
{
    u_char  *out;
    size_t   size;

    if (node->out_pos && node->out_last + len > node->out_size) {
        ngx_memmove(node->out, node->out + node->out_pos,
                    node->out_last - node->out_pos);
        node->out_last -= node->out_pos;
        node->out_pos = 0;
    }

    if (node->out_last + len > node->out_size) {
        size = node->out_size ? node->out_size : 4096;

        while (size < node->out_last + len) {
            size *= 2;
        }

        out = ngx_alloc(size, &node->log);
        if (out == NULL) {
            return NGX_ERROR;
        }

        if (node->out) {
            ngx_memcpy(out, node->out, node->out_last);
            ngx_free(node->out);
        }

        node->out = out;
        node->out_size = size;
    }

    ngx_memcpy(node->out + node->out_last, data, len);
    node->out_last += len;

    return NGX_OK;
}


/*
 * Commands queued during one turn of the event loop leave in one write:
 * the write event is posted, not run.
 */

static void
ngx_api_led_redis_flush(ngx_api_led_redis_node_t *node)
{
    if (node->c && node->connected && !node->c->write->posted) {
        ngx_post_event(node->c->write, &ngx_posted_events);
    }
}


/*
 * One timer for every waiter: the earliest deadline.  Deadlines are not
 * always in queue order (a command resent after NOSCRIPT or a redirection
 * keeps its own, the handshake's include the connect timeout); the queue
 * is short: a worker has one script call in flight per node, seldom more.
 */

static ngx_msec_t
ngx_api_led_redis_earliest(ngx_api_led_redis_node_t *node)
{
    ngx_msec_t                   earliest;
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    earliest = 0;

    for (q = ngx_queue_head(&node->waiting);
         q != ngx_queue_sentinel(&node->waiting);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        if (earliest == 0
            || (ngx_msec_int_t) (w->deadline - earliest) < 0)
        {
            earliest = w->deadline;
        }
    }

    return earliest;
}


static void
ngx_api_led_redis_arm(ngx_api_led_redis_node_t *node)
{
    ngx_msec_int_t  left;

    if (ngx_queue_empty(&node->waiting)) {
        if (node->timer.timer_set) {
            ngx_del_timer(&node->timer);
        }

        return;
    }

    left = ngx_api_led_redis_earliest(node) - ngx_current_msec;

    if (left <= 0) {
        left = 1;
    }

    ngx_add_timer(&node->timer, (ngx_msec_t) left);
}


static void
ngx_api_led_redis_timer_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_node_t  *node;

    node = ev->data;

    if (ngx_queue_empty(&node->waiting)) {
        return;
    }

    if ((ngx_msec_int_t) (ngx_api_led_redis_earliest(node) - ngx_current_msec)
        > 0)
    {
        ngx_api_led_redis_arm(node);
        return;
    }

    /*
     * Replies come in order: every later one is late too.  The connection
     * (or the attempt to make one) is given up, its waiters answered, and
     * the circuit opens.
     */

    ngx_api_led_redis_node_fail(node, NGX_ETIMEDOUT,
                                "timed out waiting for a reply");
}


static void
ngx_api_led_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_t       *rd;
    ngx_api_led_redis_node_t  *node;

    node = ev->data;
    rd = node->client;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->reconnect) {
        rd->reconnect(node);
        return;
    }

    ngx_api_led_redis_node_connect(node);
}


void
ngx_api_led_redis_node_close(ngx_api_led_redis_node_t *node)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = node->c;

    if (c) {
        pool = c->pool;

        if (c->ssl) {
            (void) ngx_ssl_shutdown(c);
        }

        ngx_close_connection(c);

        if (pool) {
            ngx_destroy_pool(pool);
        }

        node->c = NULL;
    }

    node->connected = 0;
    node->ready = 0;
    node->loading = 0;
    node->out_pos = 0;
    node->out_last = 0;

    /* a half-read reply must not be glued to the next connection's */
    if (node->reader) {
        redisReaderFree(node->reader);
        node->reader = NULL;
    }
}


/*
 * The node's circuit opens: the connection is closed, every waiter is
 * answered with a failure (in order, after the state has changed, so that
 * what they do sees an open circuit), and a reconnection is scheduled.
 * Commands held behind the handshake were never written: the client may
 * send them elsewhere.
 */

void
ngx_api_led_redis_node_fail(ngx_api_led_redis_node_t *node, ngx_err_t err,
    const char *reason)
{
    ngx_api_led_redis_t  *rd;

    rd = node->client;

    ngx_api_led_redis_node_close(node);

    if (!node->down) {
        node->down = 1;
        node->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;

        ngx_api_led_redis_report(node, NGX_API_LED_REDIS_NODE_DOWN, 0);

        if (reason) {
            ngx_log_error(NGX_LOG_ERR, &node->log, err,
                          "redis unavailable: %s", reason);
        }

    } else {
        node->backoff *= 2;

        if (node->backoff > NGX_API_LED_REDIS_BACKOFF_MAX) {
            node->backoff = NGX_API_LED_REDIS_BACKOFF_MAX;
        }

        if (reason) {
            ngx_log_error(NGX_LOG_INFO, &node->log, err,
                          "redis still unavailable: %s", reason);
        }
    }

    if (!rd->failing) {
        rd->failing = 1;
        rd->outage++;
    }

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        node->retry_at = ngx_current_msec + node->backoff;
        ngx_add_timer(&node->reconnect, node->backoff);
    }

    ngx_api_led_redis_answer_waiting(node);

    if (rd->node_down) {
        rd->node_down(node);
    }
}


/*
 * The node moves (a new master): the connection closes without opening the
 * circuit.  Commands written to it are answered NULL (they may have run),
 * those held behind its handshake go back to the client, to go again.
 */

void
ngx_api_led_redis_node_reset(ngx_api_led_redis_node_t *node)
{
    ngx_api_led_redis_node_close(node);

    node->down = 0;
    node->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;

    if (node->timer.timer_set) {
        ngx_del_timer(&node->timer);
    }

    if (node->reconnect.timer_set) {
        ngx_del_timer(&node->reconnect);
    }

    ngx_api_led_redis_answer_waiting(node);
}


/*
 * The commands waiting on a closed node are answered NULL, in order.  They
 * are moved to a queue of their own first, so that what a reply queues on
 * the node is not answered here.  Held commands (never written) are not
 * counted as failed calls; the waiters that are not a request's are freed.
 */

static void
ngx_api_led_redis_answer_waiting(ngx_api_led_redis_node_t *node)
{
    ngx_queue_t                  failed, *q;
    ngx_api_led_redis_t         *rd;
    ngx_api_led_redis_waiter_t  *w;

    rd = node->client;

    ngx_queue_init(&failed);

    if (!ngx_queue_empty(&node->waiting)) {
        failed = node->waiting;
        failed.next->prev = &failed;
        failed.prev->next = &failed;
        ngx_queue_init(&node->waiting);
    }

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        w->node = NULL;

        if (w->kind != NGX_API_LED_REDIS_REQUEST) {
            ngx_api_led_redis_waiter_free(rd, w);
            continue;
        }

        if (!w->held) {
            ngx_api_led_redis_report(node, NGX_API_LED_REDIS_CALL_FAILED, 0);
        }

        rd->reply(rd, w, NULL);
    }
}


/*
 * A node's connection reports what happens to it (redis.h): its state,
 * kept in its own field so that the observer hears of a change once with
 * the state left, or the end of a call.
 */

void
ngx_api_led_redis_node_event(ngx_api_led_redis_conf_t *rcf, ngx_str_t *node,
    ngx_uint_t *state, ngx_uint_t event, ngx_msec_int_t ms, ngx_log_t *log)
{
    ngx_uint_t  from;

    from = *state;

    if (event <= NGX_API_LED_REDIS_NODE_GONE) {
        if (event == from) {
            return;
        }

        *state = event;
    }

    if (rcf->observer) {
        rcf->observer(rcf->observer_data, node, event, from, ms, log);
    }
}


/* the data nodes only: a Sentinel's connections are no store */

static void
ngx_api_led_redis_report(ngx_api_led_redis_node_t *node, ngx_uint_t event,
    ngx_msec_int_t ms)
{
    if (node->role != NGX_API_LED_REDIS_ROLE_DATA || !node->has_addr) {
        return;
    }

    ngx_api_led_redis_node_event(node->client->conf, &node->addr.name,
                                 &node->state, event, ms, &node->log);
}


static void
ngx_api_led_redis_log_handshake_error(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    u_char       buf[4 * 256];
    ngx_str_t    msg, text;
    const char  *what;

    /* it may quote a key, a value from a request */
    text.data = (u_char *) reply->str;
    text.len = ngx_min(reply->len, 256);

    ngx_api_led_log_value_buf(&msg, buf, &text);

    switch (w->kind) {
    case NGX_API_LED_REDIS_AUTH:
        what = "AUTH";
        break;
    case NGX_API_LED_REDIS_SELECT:
        what = "SELECT";
        break;
    case NGX_API_LED_REDIS_ROLE:
        what = "ROLE";
        break;
    default:
        what = "SCRIPT LOAD";
    }

    ngx_log_error(NGX_LOG_ERR, &node->log, 0,
                  "redis unavailable: %s failed: \"%V\"", what, &msg);
}


static u_char *
ngx_api_led_redis_log_handler(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_api_led_redis_node_t  *node;

    node = log->data;

    if (!node->has_addr) {
        return ngx_snprintf(buf, len, ", api_led redis: master \"%V\"",
                            &node->client->conf->master);
    }

    return ngx_snprintf(buf, len, ", api_led redis: %V%s",
                        &node->addr.name,
                        node->role == NGX_API_LED_REDIS_ROLE_DATA
                        ? "" : " (sentinel)");
}
