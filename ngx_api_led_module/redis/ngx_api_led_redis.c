
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * A Redis client on an nginx connection.  hiredis is only the RESP reader
 * (redisReader; ngx_api_led_redis_format() writes commands): the socket is
 * nginx's own (ngx_event_connect_peer), so connecting, timers,
 * reconnecting and shutting down follow nginx's rules and nothing ever
 * blocks the worker.
 *
 * One connection per worker carries every request's commands, pipelined;
 * replies are matched to waiters in FIFO order.  A command cannot be
 * unsent: a caller whose requests go away meanwhile keeps track of them
 * itself (the rate limits' batches do).
 *
 * States: while the first connection of the worker is being made,
 * commands are queued behind the handshake (AUTH, SELECT, SCRIPT LOAD).
 * After a failure (connect error, lost connection, a reply later than
 * "timeout", a failed handshake) the circuit is open: every waiter is
 * answered with a failure at once, new commands are refused at once (the
 * caller applies its failure policy without waiting), and the client
 * reconnects after a backoff that doubles up to 2 seconds.  The circuit
 * closes when a new handshake has completed.
 *
 * Shutdown: an idle connection holds no timer, so it never delays a
 * worker's exit; requests still in progress during a graceful shutdown can
 * use it, and exit_process closes it.  The reconnect and connect timers
 * are cancelable; the reply timer is not (a waiting request gets its
 * answer, at most "timeout" later).
 */


#include "ngx_api_led_redis.h"
#include <hiredis/hiredis.h>
#include <openssl/sha.h>


#define NGX_API_LED_REDIS_BACKOFF_MIN   100
#define NGX_API_LED_REDIS_BACKOFF_MAX   2000
#define NGX_API_LED_REDIS_MAX_ARGS      64
#define NGX_API_LED_REDIS_READ_SIZE     16384
#define NGX_API_LED_REDIS_ERROR_LOG_GAP 1000

/*
 * What one reply may cost: hiredis allocates an array's table of elements
 * as soon as it reads "*N" ("*500000000" would take 4 GB, and freeing it
 * would hold the worker for seconds), and keeps a bulk string's bytes until
 * the whole string is there.  A reply over either bound fails the
 * connection like any protocol error.  (The rate limits' replies have at
 * most 255 elements.)
 */
#define NGX_API_LED_REDIS_MAX_ELEMENTS  65536     /* all arrays of a reply */
#define NGX_API_LED_REDIS_MAX_PENDING   (4 * 1024 * 1024)

#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_api_led_redis_nelts_t;
#else
typedef int     ngx_api_led_redis_nelts_t;
#endif


#define NGX_API_LED_REDIS_REQUEST       0
#define NGX_API_LED_REDIS_AUTH          1
#define NGX_API_LED_REDIS_SELECT        2
#define NGX_API_LED_REDIS_LOAD          3


struct ngx_api_led_redis_script_s {
    ngx_str_t                      text;
    u_char                         sha[40];
};


struct ngx_api_led_redis_waiter_s {
    ngx_queue_t                    queue;
    ngx_api_led_redis_handler_pt   handler;    /* NULL: the handshake's */
    void                          *data;
    ngx_msec_t                     deadline;
    ngx_msec_t                     start;      /* sent, for the metrics */
    char                          *cmd;        /* EVALSHA, for NOSCRIPT */
    size_t                         len;
    ngx_api_led_redis_script_t    *script;
    ngx_uint_t                     kind;
    ngx_msec_t                     block;     /* Redis may hold it that long */
    unsigned                       errors:1;  /* error replies to the handler */
};


/* api_led_redis: read-only once loaded */
struct ngx_api_led_redis_conf_s {
    ngx_addr_t                     addr;
    ngx_str_t                      user;
    ngx_str_t                      password;
    ngx_int_t                      db;
    ngx_msec_t                     connect_timeout;
    ngx_msec_t                     timeout;
    ngx_array_t                    scripts;   /* ngx_api_led_redis_script_t * */

    /* the metrics of its nodes, NULL: none */
    ngx_api_led_redis_observer_pt  observer;
    void                          *observer_data;
};


/* a worker's connection: made at init_process, never in the configuration */
struct ngx_api_led_redis_s {
    ngx_api_led_redis_conf_t      *conf;
    ngx_log_t                      log;
    ngx_peer_connection_t          peer;
    ngx_connection_t              *c;
    redisReader                   *reader;
    size_t                         elements;  /* of the reply being read */
    size_t                         refused;   /* an array over the bound */

    u_char                        *out;
    size_t                         out_size;
    size_t                         out_pos;
    size_t                         out_last;

    ngx_queue_t                    waiting;   /* sent or to be sent, FIFO */
    ngx_queue_t                    free;

    ngx_event_t                    timer;     /* the oldest reply's deadline */
    ngx_event_t                    reconnect;
    ngx_msec_t                     backoff;
    ngx_msec_t                     retry_at;
    ngx_msec_t                     error_logged;

    ngx_uint_t                     handshake; /* handshake replies expected */
    ngx_uint_t                     outage;    /* failures seen, for warnings */
    ngx_uint_t                     node_state; /* NGX_API_LED_REDIS_NODE_* */

    unsigned                       started:1;
    unsigned                       connected:1;
    unsigned                       ready:1;   /* handshake done */
    unsigned                       down:1;    /* circuit open */
    unsigned                       failing:1; /* last command failed */
    unsigned                       loading:1; /* SCRIPT LOAD after NOSCRIPT */
    unsigned                       blocking:1; /* for blocking reads only */
};


static void ngx_api_led_redis_connect(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_report(ngx_api_led_redis_t *rd,
    ngx_uint_t event, ngx_msec_int_t ms);
static redisReader *ngx_api_led_redis_reader_create(ngx_api_led_redis_t *rd);
static void *ngx_api_led_redis_create_array(const redisReadTask *task,
    ngx_api_led_redis_nelts_t elements);
static ngx_int_t ngx_api_led_redis_reply_too_large(ngx_api_led_redis_t *rd);
static ngx_int_t ngx_api_led_redis_handshake(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_connected(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_ready(ngx_api_led_redis_t *rd);
static ngx_int_t ngx_api_led_redis_test_connect(ngx_connection_t *c);
static void ngx_api_led_redis_write_handler(ngx_event_t *wev);
static void ngx_api_led_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_api_led_redis_dispatch(ngx_api_led_redis_t *rd,
    redisReply *reply);
static ngx_int_t ngx_api_led_redis_noscript(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w);
static ngx_int_t ngx_api_led_redis_send(ngx_api_led_redis_t *rd,
    ngx_uint_t kind, ngx_api_led_redis_script_t *script, int argc,
    const char **argv, const size_t *argvlen,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp);
static ngx_int_t ngx_api_led_redis_append(ngx_api_led_redis_t *rd,
    u_char *data, size_t len);
static void ngx_api_led_redis_flush(ngx_api_led_redis_t *rd);
static ngx_msec_t ngx_api_led_redis_earliest(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_arm(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_timer_handler(ngx_event_t *ev);
static void ngx_api_led_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_api_led_redis_close(ngx_api_led_redis_t *rd);
static void ngx_api_led_redis_fail(ngx_api_led_redis_t *rd, ngx_err_t err,
    const char *reason);
static void ngx_api_led_redis_free_waiter(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w);
static void ngx_api_led_redis_log_reply_error(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply);
static u_char *ngx_api_led_redis_log_handler(ngx_log_t *log, u_char *buf,
    size_t len);


/*
 * api_led_redis ADDRESS [user=U] [password=S] [db=N] [connect_timeout=T]
 *     [timeout=T]
 */

char *
ngx_api_led_redis_parse(ngx_conf_t *cf, ngx_api_led_redis_conf_t **rcfp)
{
    ngx_str_t                 *value, s;
    ngx_url_t                  u;
    ngx_int_t                  n;
    ngx_uint_t                 i;
    ngx_api_led_redis_conf_t  *rd;

    value = cf->args->elts;

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_conf_t));
    if (rd == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->connect_timeout = NGX_API_LED_REDIS_CONNECT_TIMEOUT;
    rd->timeout = NGX_API_LED_REDIS_TIMEOUT;

    if (ngx_array_init(&rd->scripts, cf->pool, 1,
                       sizeof(ngx_api_led_redis_script_t *))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = NGX_API_LED_REDIS_PORT;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in redis address \"%V\"", u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    if (u.uri.len || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\": use host:port, "
                           "ip:port or unix:/path", &u.url);
        return NGX_CONF_ERROR;
    }

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "redis address \"%V\" resolves to several "
                           "addresses, using %V", &u.url, &u.addrs[0].name);
    }

    rd->addr = u.addrs[0];

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "user=", 5) == 0
            && value[i].len > 5)
        {
            rd->user.data = value[i].data + 5;
            rd->user.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0
            && value[i].len > 9)
        {
            rd->password.data = value[i].data + 9;
            rd->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis database \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rd->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0
            || ngx_strncmp(value[i].data, "timeout=", 8) == 0)
        {
            s.data = (u_char *) ngx_strchr(value[i].data, '=') + 1;
            s.len = value[i].data + value[i].len - s.data;

            n = ngx_parse_time(&s, 0);
            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis timeout \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            if (value[i].data[0] == 'c') {
                rd->connect_timeout = n;

            } else {
                rd->timeout = n;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (rd->user.len && rd->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis \"user=\" needs \"password=\"");
        return NGX_CONF_ERROR;
    }

    *rcfp = rd;

    return NGX_CONF_OK;
}


ngx_api_led_redis_script_t *
ngx_api_led_redis_add_script(ngx_conf_t *cf, ngx_api_led_redis_conf_t *rd,
    ngx_str_t *text)
{
    u_char                       md[SHA_DIGEST_LENGTH];
    ngx_api_led_redis_script_t  *script, **sp;

    script = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_redis_script_t));
    if (script == NULL) {
        return NULL;
    }

    script->text = *text;

    SHA1(text->data, text->len, md);
    ngx_hex_dump(script->sha, md, SHA_DIGEST_LENGTH);

    sp = ngx_array_push(&rd->scripts);
    if (sp == NULL) {
        return NULL;
    }

    *sp = script;

    return script;
}


/* the worker's connection: at init_process */

ngx_api_led_redis_t *
ngx_api_led_redis_create(ngx_cycle_t *cycle, ngx_api_led_redis_conf_t *rcf)
{
    return ngx_api_led_redis_create_conn(cycle, rcf, 0);
}


/*
 * A connection for blocking reads (ngx_api_led_redis_cmd.c) loads no
 * script, and its timers never hold a worker that shuts down.
 */

ngx_api_led_redis_t *
ngx_api_led_redis_create_conn(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_uint_t blocking)
{
    ngx_api_led_redis_t  *rd;

    rd = ngx_calloc(sizeof(ngx_api_led_redis_t), cycle->log);
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = rcf;
    rd->log = *cycle->log;
    rd->log.handler = ngx_api_led_redis_log_handler;
    rd->log.data = rd;
    rd->log.action = NULL;

    ngx_queue_init(&rd->waiting);
    ngx_queue_init(&rd->free);

    rd->timer.handler = ngx_api_led_redis_timer_handler;
    rd->timer.data = rd;
    rd->timer.log = &rd->log;
    rd->timer.cancelable = blocking;
    rd->blocking = blocking;

    rd->reconnect.handler = ngx_api_led_redis_reconnect_handler;
    rd->reconnect.data = rd;
    rd->reconnect.log = &rd->log;
    rd->reconnect.cancelable = 1;

    rd->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;
    rd->started = 1;

    ngx_api_led_redis_report(rd, NGX_API_LED_REDIS_NODE_CONNECTING, 0);

    /* the handshake's deadlines must not start from a stale clock */
    ngx_time_update();

    ngx_api_led_redis_connect(rd);

    return rd;
}


/*
 * At exit_process: the connection closes, nobody is answered any more.
 * The worker's connection is not in the cycle's pool: it goes here.
 */

void
ngx_api_led_redis_destroy(ngx_api_led_redis_t *rd)
{
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    ngx_api_led_redis_close(rd);

    ngx_api_led_redis_report(rd, NGX_API_LED_REDIS_NODE_GONE, 0);

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    while (!ngx_queue_empty(&rd->waiting)) {
        q = ngx_queue_head(&rd->waiting);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        if (w->cmd) {
            redisFreeCommand(w->cmd);
        }

        ngx_free(w);
    }

    while (!ngx_queue_empty(&rd->free)) {
        q = ngx_queue_head(&rd->free);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue));
    }

    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }

    if (rd->out) {
        ngx_free(rd->out);
        rd->out = NULL;
    }

    ngx_free(rd);
}


/*
 * Whether a command can be queued now: NGX_DECLINED while the circuit is
 * open (the caller applies its failure policy without waiting).
 */

ngx_int_t
ngx_api_led_redis_usable(ngx_api_led_redis_t *rd)
{
    if (!rd->started || rd->down) {
        return NGX_DECLINED;
    }

    if (rd->c == NULL) {
        if (ngx_exiting || ngx_terminate || ngx_quit) {
            return NGX_DECLINED;
        }

        ngx_api_led_redis_connect(rd);

        if (rd->c == NULL) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * Queues EVALSHA of a script.  Returns NGX_AGAIN when the command
 * is on its way (the handler will be called exactly once), NGX_DECLINED
 * when Redis is unavailable (the circuit is open: the caller must not
 * wait), NGX_ERROR on a local failure.
 */

ngx_int_t
ngx_api_led_redis_evalsha(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_script_t *script, ngx_uint_t nargs, ngx_str_t *args,
    ngx_api_led_redis_handler_pt handler, void *data,
    ngx_api_led_redis_waiter_t **wp)
{
    size_t        stack_argvlen[NGX_API_LED_REDIS_MAX_ARGS], *argvlen;
    ngx_int_t     rc;
    ngx_uint_t    i, argc;
    const char   *stack_argv[NGX_API_LED_REDIS_MAX_ARGS], **argv;

    if (ngx_api_led_redis_usable(rd) != NGX_OK) {
        return NGX_DECLINED;
    }

    argc = nargs + 2;

    if (argc > INT_MAX / 2) {
        return NGX_ERROR;
    }

    if (argc <= NGX_API_LED_REDIS_MAX_ARGS) {
        argv = stack_argv;
        argvlen = stack_argvlen;

    } else {
        argv = ngx_alloc(argc * (sizeof(char *) + sizeof(size_t)), &rd->log);
        if (argv == NULL) {
            return NGX_ERROR;
        }

        argvlen = (size_t *) &argv[argc];
    }

    argv[0] = "EVALSHA";
    argvlen[0] = sizeof("EVALSHA") - 1;
    argv[1] = (const char *) script->sha;
    argvlen[1] = sizeof(script->sha);

    for (i = 0; i < nargs; i++) {
        argv[i + 2] = (const char *) args[i].data;
        argvlen[i + 2] = args[i].len;
    }

    rc = ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_REQUEST, script,
                                (int) argc, argv, argvlen, handler, data,
                                wp);

    if (argv != stack_argv) {
        ngx_free(argv);
    }

    return rc;
}


/*
 * Queues any command for ngx_api_led_redis_cmd.c: a blocking command's
 * reply is awaited "block" longer, an error reply may go to the handler.
 */

ngx_int_t
ngx_api_led_redis_queue(ngx_api_led_redis_t *rd, int argc, const char **argv,
    const size_t *argvlen, ngx_api_led_redis_cmd_t *cmd)
{
    ngx_int_t                    rc;
    ngx_api_led_redis_waiter_t  *w;

    if (ngx_api_led_redis_usable(rd) != NGX_OK) {
        return NGX_DECLINED;
    }

    rc = ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_REQUEST, NULL, argc,
                                argv, argvlen, cmd->handler, cmd->data, &w);

    if (rc == NGX_AGAIN) {
        w->block = cmd->block;
        w->errors = cmd->errors;

        if (cmd->block) {
            w->deadline += cmd->block;
            ngx_api_led_redis_arm(rd);
        }
    }

    return rc;
}


ngx_msec_t
ngx_api_led_redis_timeout(ngx_api_led_redis_t *rd)
{
    return rd->conf->timeout;
}


/* how long until the next reconnection attempt, for Retry-After */

ngx_msec_t
ngx_api_led_redis_retry_after(ngx_api_led_redis_t *rd)
{
    if (!rd->down || !rd->reconnect.timer_set
        || (ngx_msec_int_t) (rd->retry_at - ngx_current_msec) <= 0)
    {
        return 0;
    }

    return rd->retry_at - ngx_current_msec;
}


/* counts failures: a caller warns once per value */

ngx_uint_t
ngx_api_led_redis_outage(ngx_api_led_redis_t *rd)
{
    return rd->outage;
}


/* once configured, by the configuration's owner (observe/ counts) */

void
ngx_api_led_redis_set_observer(ngx_api_led_redis_conf_t *rcf,
    ngx_api_led_redis_observer_pt handler, void *data)
{
    rcf->observer = handler;
    rcf->observer_data = data;
}


/*
 * A node's connection reports here what happens to it (each node of a
 * topology, where it happens): a state, kept in the node's own field so
 * that the observer hears of a change once with the state left, or the
 * end of a call.
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


/* the worker's one connection is the node of the address configured */

static void
ngx_api_led_redis_report(ngx_api_led_redis_t *rd, ngx_uint_t event,
    ngx_msec_int_t ms)
{
    ngx_api_led_redis_node_event(rd->conf, &rd->conf->addr.name,
                                 &rd->node_state, event, ms, &rd->log);
}


static void
ngx_api_led_redis_connect(ngx_api_led_redis_t *rd)
{
    ngx_int_t                    rc;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_api_led_redis_waiter_t  *w;

    ngx_memzero(&rd->peer, sizeof(ngx_peer_connection_t));

    rd->peer.sockaddr = rd->conf->addr.sockaddr;
    rd->peer.socklen = rd->conf->addr.socklen;
    rd->peer.name = &rd->conf->addr.name;
    rd->peer.get = ngx_event_get_peer;
    rd->peer.log = &rd->log;
    rd->peer.log_error = NGX_ERROR_ERR;

    rd->connected = 0;
    rd->ready = 0;
    rd->loading = 0;

    rc = ngx_event_connect_peer(&rd->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        /* ngx_event_connect_peer() logged why */
        rd->peer.connection = NULL;
        ngx_api_led_redis_fail(rd, 0, NULL);
        return;
    }

    c = rd->peer.connection;
    c->data = rd;
    c->read->handler = ngx_api_led_redis_read_handler;
    c->write->handler = ngx_api_led_redis_write_handler;

    rd->c = c;

    if (rd->reader == NULL) {
        rd->reader = ngx_api_led_redis_reader_create(rd);
        if (rd->reader == NULL) {
            ngx_api_led_redis_fail(rd, 0, "redisReaderCreate() failed");
            return;
        }
    }

    if (ngx_api_led_redis_handshake(rd) != NGX_OK) {
        ngx_api_led_redis_fail(rd, 0, "could not queue the handshake");
        return;
    }

    /* the handshake may wait for the connection, then for its replies */

    for (q = ngx_queue_head(&rd->waiting);
         q != ngx_queue_sentinel(&rd->waiting);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);
        w->deadline = ngx_current_msec + rd->conf->connect_timeout
                      + rd->conf->timeout + w->block;
    }

    ngx_api_led_redis_arm(rd);

    if (rc == NGX_AGAIN) {
        /* the connect timer does not hold a worker that is shutting down */
        c->write->cancelable = 1;
        ngx_add_timer(c->write, rd->conf->connect_timeout);
        return;
    }

    ngx_api_led_redis_connected(rd);
}


/* AUTH, SELECT and SCRIPT LOAD go first on every new connection */

static ngx_int_t
ngx_api_led_redis_handshake(ngx_api_led_redis_t *rd)
{
    int                           argc;
    u_char                        db[NGX_INT_T_LEN];
    size_t                        argvlen[3];
    ngx_uint_t                    i;
    const char                   *argv[3];
    ngx_api_led_redis_conf_t     *rcf;
    ngx_api_led_redis_script_t  **scripts;

    rcf = rd->conf;
    rd->handshake = 0;

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

        if (ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_AUTH, NULL, argc,
                                   argv, argvlen, NULL, NULL, NULL)
            != NGX_AGAIN)
        {
            return NGX_ERROR;
        }

        rd->handshake++;
    }

    if (rcf->db) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = (const char *) db;
        argvlen[1] = ngx_sprintf(db, "%i", rcf->db) - db;

        if (ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_SELECT, NULL, 2,
                                   argv, argvlen, NULL, NULL, NULL)
            != NGX_AGAIN)
        {
            return NGX_ERROR;
        }

        rd->handshake++;
    }

    scripts = rcf->scripts.elts;

    for (i = 0; !rd->blocking && i < rcf->scripts.nelts; i++) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) scripts[i]->text.data;
        argvlen[2] = scripts[i]->text.len;

        if (ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_LOAD, scripts[i], 3,
                                   argv, argvlen, NULL, NULL, NULL)
            != NGX_AGAIN)
        {
            return NGX_ERROR;
        }

        rd->handshake++;
    }

    return NGX_OK;
}


static void
ngx_api_led_redis_connected(ngx_api_led_redis_t *rd)
{
    ngx_connection_t  *c;

    c = rd->c;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->cancelable = 0;

    /* small pipelined writes must not wait for Nagle */
    if (ngx_tcp_nodelay(c) != NGX_OK) {
        ngx_api_led_redis_fail(rd, 0, "setsockopt(TCP_NODELAY) failed");
        return;
    }

    rd->connected = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, &rd->log, 0,
                   "api_led redis: connected, fd:%d", c->fd);

    if (rd->handshake == 0) {
        ngx_api_led_redis_ready(rd);
    }

    if (rd->out_last > rd->out_pos) {
        ngx_api_led_redis_write_handler(c->write);
    }
}


/* the handshake is done: the circuit closes */

static void
ngx_api_led_redis_ready(ngx_api_led_redis_t *rd)
{
    rd->ready = 1;
    rd->failing = 0;
    rd->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;

    if (rd->down) {
        rd->down = 0;
        ngx_log_error(NGX_LOG_NOTICE, &rd->log, 0,
                      "redis is available again");
    }

    ngx_api_led_redis_report(rd, NGX_API_LED_REDIS_NODE_UP, 0);
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
    ssize_t               n;
    ngx_err_t             err;
    ngx_connection_t     *c;
    ngx_api_led_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    if (!rd->connected) {
        if (wev->timedout) {
            ngx_api_led_redis_fail(rd, NGX_ETIMEDOUT, "connect timed out");
            return;
        }

        err = ngx_api_led_redis_test_connect(c);
        if (err) {
            ngx_api_led_redis_fail(rd, err, "connect() failed");
            return;
        }

        ngx_api_led_redis_connected(rd);
        return;
    }

    while (rd->out_pos < rd->out_last) {
        n = c->send(c, rd->out + rd->out_pos, rd->out_last - rd->out_pos);

        if (n == NGX_ERROR) {
            ngx_api_led_redis_fail(rd, 0, "send() failed");
            return;
        }

        if (n == NGX_AGAIN) {
            break;
        }

        rd->out_pos += n;
    }

    if (rd->out_pos == rd->out_last) {
        rd->out_pos = 0;
        rd->out_last = 0;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_api_led_redis_fail(rd, 0, "ngx_handle_write_event() failed");
    }
}


/*
 * Reads until the socket is drained: under edge-triggered epoll, bytes left
 * in it would never fire another event.  A read shorter than the buffer
 * drained it (data arriving later fires a new event): no extra recv() for
 * the EAGAIN.
 */

static void
ngx_api_led_redis_read_handler(ngx_event_t *rev)
{
    u_char                buf[NGX_API_LED_REDIS_READ_SIZE];
    void                 *reply;
    ssize_t               n;
    ngx_err_t             err;
    ngx_connection_t     *c;
    ngx_api_led_redis_t  *rd;

    c = rev->data;
    rd = c->data;

    if (!rd->connected) {
        err = ngx_api_led_redis_test_connect(c);
        if (err) {
            ngx_api_led_redis_fail(rd, err, "connect() failed");
            return;
        }

        ngx_api_led_redis_connected(rd);

        if (rd->c != c) {
            return;
        }
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0) {
            if (ngx_queue_empty(&rd->waiting) && rd->ready && !rd->down) {
                /* an idle connection closed by Redis: reconnect at once */
                ngx_log_error(NGX_LOG_INFO, &rd->log, 0,
                              "redis closed an idle connection");
                ngx_api_led_redis_close(rd);

                if (!ngx_exiting) {
                    ngx_api_led_redis_connect(rd);
                }

                return;
            }

            ngx_api_led_redis_fail(rd, 0, "connection closed by redis");
            return;
        }

        if (n == NGX_ERROR) {
            ngx_api_led_redis_fail(rd, 0, "recv() failed");
            return;
        }

        if (redisReaderFeed(rd->reader, (const char *) buf, n) != REDIS_OK) {
            ngx_api_led_redis_fail(rd, 0, "redisReaderFeed() failed");
            return;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(rd->reader, &reply) != REDIS_OK) {
                if (ngx_api_led_redis_reply_too_large(rd) != NGX_OK) {
                    return;
                }

                ngx_api_led_redis_fail(rd, 0, "protocol error");
                return;
            }

            if (reply == NULL) {
                break;
            }

            rd->elements = 0;

            if (ngx_api_led_redis_dispatch(rd, reply) != NGX_OK) {
                return;
            }

            if (rd->c != c) {
                /* closed meanwhile */
                return;
            }
        }

        if (ngx_api_led_redis_reply_too_large(rd) != NGX_OK) {
            return;
        }

        if ((size_t) n < sizeof(buf)) {
            break;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_api_led_redis_fail(rd, 0, "ngx_handle_read_event() failed");
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
ngx_api_led_redis_reader_create(ngx_api_led_redis_t *rd)
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
    reader->privdata = rd;

    rd->elements = 0;
    rd->refused = 0;

    return reader;
}


static void *
ngx_api_led_redis_create_array(const redisReadTask *task,
    ngx_api_led_redis_nelts_t elements)
{
    ngx_api_led_redis_t  *rd = task->privdata;

    if ((size_t) elements > NGX_API_LED_REDIS_MAX_ELEMENTS - rd->elements) {
        /* hiredis fails the reply ("Out of memory"), nothing allocated */
        rd->refused = (size_t) elements;
        return NULL;
    }

    rd->elements += (size_t) elements;

    return ngx_api_led_redis_array_default(task, elements);
}


/* NGX_ERROR: the reply being read is over a bound, the connection failed */

static ngx_int_t
ngx_api_led_redis_reply_too_large(ngx_api_led_redis_t *rd)
{
    u_char  reason[128];

    if (rd->refused) {
        ngx_api_led_errf(reason, sizeof(reason), "a reply with arrays of "
                         "%uz elements refused, at most %d",
                         rd->elements + rd->refused,
                         NGX_API_LED_REDIS_MAX_ELEMENTS);

    } else if (rd->reader->len - rd->reader->pos
               > NGX_API_LED_REDIS_MAX_PENDING)
    {
        ngx_api_led_errf(reason, sizeof(reason), "a reply larger than %d "
                         "bytes refused", NGX_API_LED_REDIS_MAX_PENDING);

    } else {
        return NGX_OK;
    }

    ngx_api_led_redis_fail(rd, 0, (char *) reason);

    return NGX_ERROR;
}


/*
 * The reply belongs to the oldest waiter.  Returns NGX_OK to go on reading,
 * NGX_ERROR when the connection failed (and was closed).
 */

static ngx_int_t
ngx_api_led_redis_dispatch(ngx_api_led_redis_t *rd, redisReply *reply)
{
    void                          *data;
    ngx_queue_t                   *q;
    ngx_api_led_redis_waiter_t    *w;
    ngx_api_led_redis_handler_pt   handler;

    if (ngx_queue_empty(&rd->waiting)) {
        freeReplyObject(reply);
        ngx_api_led_redis_fail(rd, 0, "unexpected reply");
        return NGX_ERROR;
    }

    q = ngx_queue_head(&rd->waiting);
    w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

    ngx_queue_remove(q);

    if (w->kind != NGX_API_LED_REDIS_REQUEST) {

        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_api_led_redis_log_reply_error(rd, w, reply);
            freeReplyObject(reply);
            ngx_api_led_redis_free_waiter(rd, w);
            ngx_api_led_redis_fail(rd, 0, NULL);
            return NGX_ERROR;
        }

        if (w->kind == NGX_API_LED_REDIS_LOAD) {
            if (reply->type != REDIS_REPLY_STRING
                || reply->len != sizeof(w->script->sha)
                || ngx_strncmp(reply->str, w->script->sha,
                               sizeof(w->script->sha)) != 0)
            {
                ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                              "redis SCRIPT LOAD returned an unexpected "
                              "digest");
            }

            rd->loading = 0;
        }

        freeReplyObject(reply);
        ngx_api_led_redis_free_waiter(rd, w);

        if (!rd->ready && rd->handshake && --rd->handshake == 0) {
            ngx_api_led_redis_ready(rd);
        }

        ngx_api_led_redis_arm(rd);

        return NGX_OK;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && w->cmd && w->script)
    {
        freeReplyObject(reply);

        /* the script cache was flushed: run it with EVAL, then reload it */

        if (ngx_api_led_redis_noscript(rd, w) != NGX_OK) {
            /* the waiter is in no queue now: fail() would not answer it */
            handler = w->handler;
            data = w->data;

            ngx_api_led_redis_free_waiter(rd, w);
            ngx_api_led_redis_fail(rd, 0, "could not resend a script");

            handler(data, NULL);

            return NGX_ERROR;
        }

        ngx_api_led_redis_arm(rd);
        return NGX_OK;
    }

    handler = w->handler;
    data = w->data;

    ngx_api_led_redis_report(rd, (reply->type == REDIS_REPLY_ERROR)
                                     ? NGX_API_LED_REDIS_CALL_ERROR
                                     : NGX_API_LED_REDIS_CALL_OK,
                                 (ngx_msec_int_t) (ngx_current_msec
                                                   - w->start));

    if (reply->type == REDIS_REPLY_ERROR && w->errors) {
        /* the caller reads error replies itself (BUSYGROUP, NOGROUP) */
        ngx_api_led_redis_free_waiter(rd, w);
        ngx_api_led_redis_arm(rd);

        rd->failing = 0;

        handler(data, reply);

        freeReplyObject(reply);

        return NGX_OK;
    }

    ngx_api_led_redis_free_waiter(rd, w);
    ngx_api_led_redis_arm(rd);

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_api_led_redis_log_reply_error(rd, NULL, reply);

        if (!rd->failing) {
            rd->failing = 1;
            rd->outage++;
        }

        freeReplyObject(reply);

        handler(data, NULL);

        return NGX_OK;
    }

    rd->failing = 0;

    handler(data, reply);

    freeReplyObject(reply);

    return NGX_OK;
}


/*
 * NOSCRIPT: the same command as EVAL.  The formatted EVALSHA is
 * "*N\r\n$7\r\nEVALSHA\r\n$40\r\n<sha>\r\n<the rest>": the rest is kept.
 */

static ngx_int_t
ngx_api_led_redis_noscript(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w)
{
    u_char                      *p, *rest, *cmd;
    size_t                       len;
    ngx_str_t                   *text;
    const char                  *argv[3];
    size_t                       argvlen[3];

    p = (u_char *) ngx_strchr(w->cmd, '\n');
    if (p == NULL) {
        return NGX_ERROR;
    }

    rest = p + 1 + sizeof("$7\r\nEVALSHA\r\n$40\r\n") - 1 + 40 + 2;

    if (rest > (u_char *) w->cmd + w->len) {
        return NGX_ERROR;
    }

    text = &w->script->text;

    len = (p + 1 - (u_char *) w->cmd)
          + sizeof("$4\r\nEVAL\r\n$\r\n") - 1 + NGX_SIZE_T_LEN
          + text->len + 2
          + ((u_char *) w->cmd + w->len - rest);

    cmd = ngx_alloc(len, &rd->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(cmd, w->cmd, p + 1 - (u_char *) w->cmd);
    p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", text->len);
    p = ngx_cpymem(p, text->data, text->len);
    *p++ = CR; *p++ = LF;
    p = ngx_cpymem(p, rest, (u_char *) w->cmd + w->len - rest);

    if (ngx_api_led_redis_append(rd, cmd, p - cmd) != NGX_OK) {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    ngx_free(cmd);

    ngx_log_error(NGX_LOG_INFO, &rd->log, 0,
                  "redis does not know the script, sent it with EVAL");

    /* the waiter keeps its deadline; its reply comes after those queued */
    ngx_queue_insert_tail(&rd->waiting, &w->queue);

    if (!rd->loading) {
        argv[0] = "SCRIPT";
        argvlen[0] = 6;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = (const char *) text->data;
        argvlen[2] = text->len;

        if (ngx_api_led_redis_send(rd, NGX_API_LED_REDIS_LOAD, w->script, 3,
                                   argv, argvlen, NULL, NULL, NULL)
            != NGX_AGAIN)
        {
            ngx_queue_remove(&w->queue);
            return NGX_ERROR;
        }

        rd->loading = 1;
    }

    ngx_api_led_redis_flush(rd);

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_redis_send(ngx_api_led_redis_t *rd, ngx_uint_t kind,
    ngx_api_led_redis_script_t *script, int argc, const char **argv,
    const size_t *argvlen, ngx_api_led_redis_handler_pt handler,
    void *data, ngx_api_led_redis_waiter_t **wp)
{
    int                          len;
    char                        *cmd;
    ngx_uint_t                   first;
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    cmd = NULL;

    len = ngx_api_led_redis_format(&cmd, argc, argv, argvlen);
    if (len < 0 || cmd == NULL) {
        ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                      "formatting a Redis command failed");
        return NGX_ERROR;
    }

    if (!ngx_queue_empty(&rd->free)) {
        q = ngx_queue_head(&rd->free);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

    } else {
        w = ngx_alloc(sizeof(ngx_api_led_redis_waiter_t), &rd->log);
        if (w == NULL) {
            redisFreeCommand(cmd);
            return NGX_ERROR;
        }
    }

    if (ngx_api_led_redis_append(rd, (u_char *) cmd, len) != NGX_OK) {
        redisFreeCommand(cmd);
        w->cmd = NULL;
        ngx_api_led_redis_free_waiter(rd, w);
        return NGX_ERROR;
    }

    w->handler = handler;
    w->data = data;
    w->deadline = ngx_current_msec + rd->conf->timeout;
    w->start = ngx_current_msec;
    w->script = script;
    w->kind = kind;
    w->block = 0;
    w->errors = 0;

    /* only a script call needs its command again (NOSCRIPT) */
    if (kind == NGX_API_LED_REDIS_REQUEST && script) {
        w->cmd = cmd;
        w->len = len;

    } else {
        w->cmd = NULL;
        w->len = 0;
        redisFreeCommand(cmd);
    }

    first = ngx_queue_empty(&rd->waiting);

    ngx_queue_insert_tail(&rd->waiting, &w->queue);

    /* behind a handshake, the first request has the earliest deadline */
    if (first || !rd->ready) {
        ngx_api_led_redis_arm(rd);
    }

    ngx_api_led_redis_flush(rd);

    if (wp) {
        *wp = w;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_api_led_redis_append(ngx_api_led_redis_t *rd, u_char *data, size_t len)
{
    u_char  *out;
    size_t   size;

    if (rd->out_pos && rd->out_last + len > rd->out_size) {
        ngx_memmove(rd->out, rd->out + rd->out_pos,
                    rd->out_last - rd->out_pos);
        rd->out_last -= rd->out_pos;
        rd->out_pos = 0;
    }

    if (rd->out_last + len > rd->out_size) {
        size = rd->out_size ? rd->out_size : 4096;

        while (size < rd->out_last + len) {
            size *= 2;
        }

        out = ngx_alloc(size, &rd->log);
        if (out == NULL) {
            return NGX_ERROR;
        }

        if (rd->out) {
            ngx_memcpy(out, rd->out, rd->out_last);
            ngx_free(rd->out);
        }

        rd->out = out;
        rd->out_size = size;
    }

    ngx_memcpy(rd->out + rd->out_last, data, len);
    rd->out_last += len;

    return NGX_OK;
}


/*
 * Commands queued during one turn of the event loop leave in one write:
 * the write event is posted, not run.
 */

static void
ngx_api_led_redis_flush(ngx_api_led_redis_t *rd)
{
    if (rd->c && rd->connected && !rd->c->write->posted) {
        ngx_post_event(rd->c->write, &ngx_posted_events);
    }
}


/*
 * One timer for every waiter: the earliest deadline.  Deadlines are not
 * always in queue order (a command resent after NOSCRIPT keeps its own, the
 * handshake's include the connect timeout); the queue is short: a worker
 * has one script call in flight, seldom more.
 */

static ngx_msec_t
ngx_api_led_redis_earliest(ngx_api_led_redis_t *rd)
{
    ngx_msec_t                   earliest;
    ngx_queue_t                 *q;
    ngx_api_led_redis_waiter_t  *w;

    earliest = 0;

    for (q = ngx_queue_head(&rd->waiting);
         q != ngx_queue_sentinel(&rd->waiting);
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
ngx_api_led_redis_arm(ngx_api_led_redis_t *rd)
{
    ngx_msec_int_t  left;

    if (ngx_queue_empty(&rd->waiting)) {
        if (rd->timer.timer_set) {
            ngx_del_timer(&rd->timer);
        }

        return;
    }

    left = ngx_api_led_redis_earliest(rd) - ngx_current_msec;

    if (left <= 0) {
        left = 1;
    }

    ngx_add_timer(&rd->timer, (ngx_msec_t) left);
}


static void
ngx_api_led_redis_timer_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_t  *rd;

    rd = ev->data;

    if (ngx_queue_empty(&rd->waiting)) {
        return;
    }

    if ((ngx_msec_int_t) (ngx_api_led_redis_earliest(rd) - ngx_current_msec)
        > 0)
    {
        ngx_api_led_redis_arm(rd);
        return;
    }

    /*
     * Replies come in order: every later one is late too.  The connection
     * (or the attempt to make one) is given up, its waiters answered, and
     * the circuit opens.
     */

    ngx_api_led_redis_fail(rd, NGX_ETIMEDOUT, "timed out waiting for a reply");
}


static void
ngx_api_led_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_api_led_redis_t  *rd;

    rd = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_api_led_redis_connect(rd);
}


static void
ngx_api_led_redis_close(ngx_api_led_redis_t *rd)
{
    if (rd->c) {
        ngx_close_connection(rd->c);
        rd->c = NULL;
    }

    rd->connected = 0;
    rd->ready = 0;
    rd->loading = 0;
    rd->out_pos = 0;
    rd->out_last = 0;

    /* a half-read reply must not be glued to the next connection's */
    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }
}


/*
 * The circuit opens: the connection is closed, every waiter is answered
 * with a failure (in order, after the state has changed, so that what
 * they do sees an open circuit), and a reconnection is scheduled.
 */

static void
ngx_api_led_redis_fail(ngx_api_led_redis_t *rd, ngx_err_t err,
    const char *reason)
{
    void                          *data;
    ngx_queue_t                    failed, *q;
    ngx_api_led_redis_waiter_t    *w;
    ngx_api_led_redis_handler_pt   handler;

    ngx_api_led_redis_close(rd);

    if (!rd->down) {
        rd->down = 1;
        rd->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;

        ngx_api_led_redis_report(rd, NGX_API_LED_REDIS_NODE_DOWN, 0);

        if (reason) {
            ngx_log_error(NGX_LOG_ERR, &rd->log, err,
                          "redis unavailable: %s", reason);
        }

    } else {
        rd->backoff *= 2;

        if (rd->backoff > NGX_API_LED_REDIS_BACKOFF_MAX) {
            rd->backoff = NGX_API_LED_REDIS_BACKOFF_MAX;
        }

        if (reason) {
            ngx_log_error(NGX_LOG_INFO, &rd->log, err,
                          "redis still unavailable: %s", reason);
        }
    }

    if (!rd->failing) {
        rd->failing = 1;
        rd->outage++;
    }

    if (rd->timer.timer_set) {
        ngx_del_timer(&rd->timer);
    }

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        rd->retry_at = ngx_current_msec + rd->backoff;
        ngx_add_timer(&rd->reconnect, rd->backoff);
    }

    ngx_queue_init(&failed);

    if (!ngx_queue_empty(&rd->waiting)) {
        failed = rd->waiting;
        failed.next->prev = &failed;
        failed.prev->next = &failed;
        ngx_queue_init(&rd->waiting);
    }

    while (!ngx_queue_empty(&failed)) {
        q = ngx_queue_head(&failed);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_api_led_redis_waiter_t, queue);

        handler = w->handler;
        data = w->data;

        ngx_api_led_redis_free_waiter(rd, w);

        if (handler) {
            ngx_api_led_redis_report(rd, NGX_API_LED_REDIS_CALL_FAILED,
                                         0);
            handler(data, NULL);
        }
    }
}


static void
ngx_api_led_redis_free_waiter(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w)
{
    if (w->cmd) {
        redisFreeCommand(w->cmd);
        w->cmd = NULL;
    }

    w->handler = NULL;
    w->data = NULL;

    ngx_queue_insert_head(&rd->free, &w->queue);
}


/* error replies of requests are logged at most once a second */

static void
ngx_api_led_redis_log_reply_error(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w, redisReply *reply)
{
    u_char       buf[4 * 256];
    ngx_str_t    msg, text;
    const char  *what;

    /* it may quote a key, a value from a request */
    text.data = (u_char *) reply->str;
    text.len = ngx_min(reply->len, 256);

    ngx_api_led_log_value_buf(&msg, buf, &text);

    if (w == NULL) {
        if (rd->error_logged
            && ngx_current_msec - rd->error_logged
               < NGX_API_LED_REDIS_ERROR_LOG_GAP)
        {
            return;
        }

        rd->error_logged = ngx_current_msec ? ngx_current_msec : 1;

        ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                      "redis answered an error: \"%V\"", &msg);
        return;
    }

    switch (w->kind) {
    case NGX_API_LED_REDIS_AUTH:
        what = "AUTH";
        break;
    case NGX_API_LED_REDIS_SELECT:
        what = "SELECT";
        break;
    default:
        what = "SCRIPT LOAD";
    }

    ngx_log_error(NGX_LOG_ERR, &rd->log, 0,
                  "redis unavailable: %s failed: \"%V\"", what, &msg);
}


static u_char *
ngx_api_led_redis_log_handler(ngx_log_t *log, u_char *buf, size_t len)
{
    ngx_api_led_redis_t  *rd;

    rd = log->data;

    return ngx_snprintf(buf, len, ", api_led redis: %V",
                        &rd->conf->addr.name);
}
