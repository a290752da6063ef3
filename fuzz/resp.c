
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Redis replies (redis/ngx_api_led_redis.c and the rate limit's reply
 * checks in limit/ngx_api_led_limit_redis.c): the input plays Redis.  The
 * worker starts the client as it does (the Redis module's shared
 * connection, ngx_api_led_redis_create(): connection, AUTH/SELECT/SCRIPT
 * LOAD; the rate limits' worker state on it,
 * ngx_api_led_limit_redis_init_process), requests with rate limits join
 * batches (ngx_api_led_limit_redis()), the batches leave as EVALSHA, and
 * the rest of the input is what Redis answers, read by the client's own
 * read handler through hiredis's reader, in chunks.  Then the clock jumps
 * ahead (reply timeouts, batch expiry, reconnection) and the worker exits.
 *
 * Three functions are replaced at link time: ngx_event_connect_peer()
 * connects at once (or in progress) to one end of a socketpair whose
 * recv() hands out the input; ngx_api_led_wake() checks the request's
 * outcome instead of posting its wake-up; ngx_api_led_redis_shared() gives
 * the connection the harness made (the Redis module's init_process would
 * need a whole cycle).
 *
 *   byte 0  bits 0-1: requests - 1; bits 2-3: handshake (SCRIPT LOAD,
 *           + AUTH, + AUTH user and SELECT, + SELECT); bit 4: Redis closes
 *           the connection after the input; bits 5-7: chunks of 2^(n-1)
 *           bytes (0: 16k, whole reads)
 *   byte 1  limits per request, 2 bits each, 1 to 4
 *   byte 2  bit 0: connects in progress; bits 1-3: a shared key; bit 3:
 *           the period; bits 4-7: the burst
 *   then    the RESP stream
 *
 * Properties: no crash, leak, hang or UB whatever Redis answers; each
 * request is woken exactly once (by the end, reply timeouts passed),
 * replied, with the failure or an outcome in bounds (remaining below the
 * limit, a reset ahead, no later than a full bucket, the largest tau + T
 * of the limits of its key in the call, and a retry no later than that
 * less tau: T when the key has one limit); no reply
 * makes hiredis allocate more than -malloc_limit_mb at once (issue 16
 * defect 14: "*500000000" made it allocate 4 GB).
 */


#include "harness.h"
#include "ngx_api_led_limit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

ngx_int_t __wrap_ngx_api_led_wake(ngx_http_request_t *r);
ngx_int_t __wrap_ngx_event_connect_peer(ngx_peer_connection_t *pc);
ngx_api_led_redis_t *__wrap_ngx_api_led_redis_shared(void);


#define NREQUESTS     4
#define NCONNECTIONS  8


static const uint8_t  *input;
static size_t          input_size;

/* Redis's side */
static u_char            *feed, *feed_end;
static size_t             chunk;
static ngx_uint_t         feed_eof, in_progress;
static int                sv[2];
static ngx_connection_t  *conn;        /* the client's, the last made */

/* the worker's shared connection */
static ngx_api_led_redis_t  *shared;

/* api_led_redis, as byte 0 says (the handshake) */
static ngx_module_t  *redis_modules[] = { &ngx_api_led_redis_module, NULL };

static const char  *redis_conf[4] = {
    "api_led_redis unix:/fuzz/redis;",
    "api_led_redis unix:/fuzz/redis password=secret;",
    "api_led_redis unix:/fuzz/redis password=secret user=u db=3;",
    "api_led_redis unix:/fuzz/redis db=15;"
};

static ngx_api_led_limit_ctx_t  *lctxs[NREQUESTS];
static ngx_uint_t                resumed[NREQUESTS];


static ngx_int_t
fz_event_noop(ngx_event_t *ev, ngx_int_t event, ngx_uint_t flags)
{
    ev->active = (flags != NGX_CLOSE_EVENT);
    return NGX_OK;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t          i;
    ngx_cycle_t        *cycle;
    ngx_event_t        *revs, *wevs;
    ngx_connection_t   *c;

    fz_init();

    /* an event loop that is never run: the harness calls the handlers */

    ngx_event_flags = NGX_USE_CLEAR_EVENT;
    ngx_event_actions.add = fz_event_noop;
    ngx_event_actions.del = fz_event_noop;
    ngx_event_actions.enable = fz_event_noop;
    ngx_event_actions.disable = fz_event_noop;

    /* connections, as ngx_event_process_init() makes them */

    cycle = (ngx_cycle_t *) ngx_cycle;

    c = calloc(NCONNECTIONS, sizeof(ngx_connection_t));
    revs = calloc(NCONNECTIONS, sizeof(ngx_event_t));
    wevs = calloc(NCONNECTIONS, sizeof(ngx_event_t));
    if (c == NULL || revs == NULL || wevs == NULL) {
        abort();
    }

    for (i = 0; i < NCONNECTIONS; i++) {
        revs[i].closed = 1;
        wevs[i].closed = 1;
        c[i].read = &revs[i];
        c[i].write = &wevs[i];
        c[i].fd = (ngx_socket_t) -1;
        c[i].data = (i + 1 < NCONNECTIONS) ? &c[i + 1] : NULL;
    }

    cycle->connections = c;
    cycle->connection_n = NCONNECTIONS;
    cycle->free_connections = c;
    cycle->free_connection_n = NCONNECTIONS;
    ngx_queue_init(&cycle->reusable_connections_queue);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        abort();
    }

    return 0;
}


/* Redis answers: the input, a chunk at a time */

static ssize_t
fz_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t  n;

    if (feed == feed_end) {
        if (feed_eof) {
            c->read->eof = 1;
            return 0;
        }

        c->read->ready = 0;
        return NGX_AGAIN;
    }

    n = ngx_min(size, ngx_min(chunk, (size_t) (feed_end - feed)));

    ngx_memcpy(buf, feed, n);
    feed += n;

    return n;
}


static ssize_t
fz_send(ngx_connection_t *c, u_char *buf, size_t size)
{
    /* Redis reads every command at once */
    return size;
}


/* what ngx_event_connect_peer() makes of a unix socket that connects */

ngx_int_t
__wrap_ngx_event_connect_peer(ngx_peer_connection_t *pc)
{
    int                fd;
    ngx_connection_t  *c;

    fd = dup(sv[0]);
    if (fd == -1) {
        abort();
    }

    c = ngx_get_connection(fd, pc->log);
    if (c == NULL) {
        close(fd);
        return NGX_ERROR;
    }

    c->type = SOCK_STREAM;
    c->recv = fz_recv;
    c->send = fz_send;
    c->tcp_nopush = NGX_TCP_NOPUSH_DISABLED;
    c->tcp_nodelay = NGX_TCP_NODELAY_DISABLED;
    c->log_error = pc->log_error;
    c->read->log = c->log;
    c->write->log = c->log;
    c->read->active = 1;
    c->write->active = 1;

    pc->connection = c;
    conn = c;

    if (in_progress) {
        return NGX_AGAIN;
    }

    c->write->ready = 1;

    return NGX_OK;
}


/* what the harness does instead of running the request's phases */

ngx_int_t
__wrap_ngx_api_led_wake(ngx_http_request_t *r)
{
    ngx_uint_t                 i, j;
    ngx_api_led_limit_item_t  *item;

    for (i = 0; i < NREQUESTS; i++) {
        if (lctxs[i] && lctxs[i]->request == r) {
            break;
        }
    }

    if (i == NREQUESTS) {
        fz_dump("input", input, input_size);
        fz_fail("an unknown request was resumed");
    }

    if (resumed[i]++) {
        fz_dump("input", input, input_size);
        fz_fail("a request was resumed twice");
    }

    if (lctxs[i]->state != NGX_API_LED_LIMIT_REPLIED || lctxs[i]->batch) {
        fz_dump("input", input, input_size);
        fz_fail("resumed, but not replied");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "fuzz: request %ui resumed, failed:%ui", i,
                   (ngx_uint_t) lctxs[i]->failed);

    if (lctxs[i]->failed) {
        return NGX_OK;
    }

    item = lctxs[i]->items;

    for (j = 0; j < lctxs[i]->nitems; j++) {
        /*
         * whatever Redis stored, no further than a full bucket ahead: the
         * largest of the limits of the key in the call (item.full), where
         * the script cuts the key's TAT
         */
        if (item[j].full < item[j].tau + item[j].interval
            || item[j].remaining >= item[j].limit || item[j].reset == 0
            || item[j].reset > (item[j].full + 999) / 1000
            || item[j].retry > (item[j].full - item[j].tau + 999) / 1000)
        {
            fz_dump("input", input, input_size);
            fz_fail("an outcome out of bounds: remaining %lu of %lu, "
                    "reset %lu, retry %lu, full bucket %lu us",
                    (unsigned long) item[j].remaining,
                    (unsigned long) item[j].limit,
                    (unsigned long) item[j].reset,
                    (unsigned long) item[j].retry,
                    (unsigned long) item[j].full);
        }
    }

    return NGX_OK;
}


/* the event loop's turns: what is readable, then what was posted */

static void
run(void)
{
    ngx_uint_t  guard;

    ngx_event_process_posted((ngx_cycle_t *) ngx_cycle, &ngx_posted_events);

    for (guard = 0; guard < 100000; guard++) {

        if (conn == NULL || conn->fd == (ngx_socket_t) -1
            || (feed == feed_end && !feed_eof) || conn->read->eof)
        {
            return;
        }

        conn->read->ready = 1;
        conn->read->handler(conn->read);

        ngx_event_process_posted((ngx_cycle_t *) ngx_cycle,
                                 &ngx_posted_events);
    }

    fz_dump("input", input, input_size);
    fz_fail("the client does not stop reading");
}


ngx_api_led_redis_t *
__wrap_ngx_api_led_redis_shared(void)
{
    return shared;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t                            fz;
    ngx_str_t                       s;
    ngx_uint_t                      i, j, nitems;
    ngx_http_request_t             *r;
    ngx_api_led_limit_ctx_t        *lctx;
    ngx_api_led_limit_item_t       *item;
    ngx_api_led_redis_conf_t       *rcf;
    ngx_api_led_limit_worker_t     *wk;
    ngx_api_led_limit_main_conf_t  *lmcf;

    if (size < 3) {
        return 0;
    }

    input = data;
    input_size = size;

    feed = (u_char *) data + 3;
    feed_end = (u_char *) data + size;
    chunk = (data[0] >> 5) ? (size_t) 1 << ((data[0] >> 5) - 1) : 16384;
    feed_eof = (data[0] >> 4) & 1;
    in_progress = data[2] & 1;
    conn = NULL;

    fz_begin(&fz);

    /* "api_led_redis ...", with the limit's script */

    if (fz_conf_create(&fz, &ngx_api_led_redis_module) != NGX_CONF_OK) {
        abort();
    }

    j = (data[0] >> 2) & 3;

    if (fz_conf_text(&fz, redis_modules, (u_char *) redis_conf[j],
                     ngx_strlen(redis_conf[j]))
        != NGX_CONF_OK
        || fz_conf_init(&fz, &ngx_api_led_redis_module) != NGX_CONF_OK)
    {
        abort();
    }

    rcf = ngx_api_led_redis_configured(fz.cf);
    if (rcf == NULL) {
        abort();
    }

    lmcf = ngx_pcalloc(fz.pool, sizeof(ngx_api_led_limit_main_conf_t));
    wk = ngx_pcalloc(fz.pool, sizeof(ngx_api_led_limit_worker_t));
    if (lmcf == NULL || wk == NULL) {
        abort();
    }

    lmcf->redis = rcf;
    lmcf->script = ngx_api_led_redis_add_script(fz.cf, rcf,
                                          ngx_api_led_limit_redis_script());
    if (lmcf->script == NULL) {
        abort();
    }

    /* the worker starts: the Redis module first, then the rate limits */

    shared = ngx_api_led_redis_create((ngx_cycle_t *) ngx_cycle, rcf);
    if (shared == NULL) {
        abort();
    }

    wk->conf = lmcf;

    if (ngx_api_led_limit_redis_init_process((ngx_cycle_t *) ngx_cycle, wk)
        != NGX_OK)
    {
        abort();
    }

    if (in_progress && conn) {
        /* connect() completes */
        conn->write->ready = 1;
        conn->write->handler(conn->write);
    }

    /* the requests and their limits */

    ngx_memzero(lctxs, sizeof(lctxs));
    ngx_memzero(resumed, sizeof(resumed));

    for (i = 0; i <= (ngx_uint_t) (data[0] & 3); i++) {
        r = fz_request(&fz);

        lctx = ngx_pcalloc(fz.pool, sizeof(ngx_api_led_limit_ctx_t));
        nitems = ((data[1] >> (2 * i)) & 3) + 1;
        item = ngx_pcalloc(fz.pool, nitems * sizeof(ngx_api_led_limit_item_t));
        if (lctx == NULL || item == NULL) {
            abort();
        }

        lctx->request = r;
        lctx->items = item;
        lctx->nitems = nitems;
        lctx->state = NGX_API_LED_LIMIT_WAITING;

        for (j = 0; j < nitems; j++) {
            s.data = ngx_pnalloc(fz.pool, 64);
            if (s.data == NULL) {
                abort();
            }

            /* requests share keys and limits now and then */
            s.len = ngx_sprintf(s.data, "api_led:{k%ui}:l%ui",
                                (i * (data[2] >> 1)) & 3, j)
                    - s.data;

            item[j].key = s;
            item[j].limit = (data[2] >> 4) + 1;
            item[j].interval = (data[2] & 8) ? 1000000 : 1;
            item[j].tau = (item[j].limit - 1) * item[j].interval;
        }

        lctxs[i] = lctx;

        switch (ngx_api_led_limit_redis(r, wk, lctx)) {

        case NGX_AGAIN:
            break;

        case NGX_DECLINED:
            /* Redis is down: decided now, nothing to wake */
            resumed[i] = 1;
            break;

        default:
            fz_dump("input", input, input_size);
            fz_fail("ngx_api_led_limit_redis() failed");
        }
    }

    /* the batches leave, Redis answers */

    run();

    /* time passes: reply timeouts, batch expiry, reconnection */

    ngx_current_msec += 10000;
    ngx_event_expire_timers();

    run();

    /* by now each request got its answer or its failure: none hangs */

    for (i = 0; i <= (ngx_uint_t) (data[0] & 3); i++) {
        if (!resumed[i]) {
            fz_dump("input", input, input_size);
            fz_fail("request %ui was never woken", i);
        }
    }

    /* the worker exits: the Redis module first, as nginx orders them */

    ngx_api_led_redis_destroy(shared);
    shared = NULL;

    ngx_api_led_limit_redis_exit_process(wk);

    ngx_memzero(lctxs, sizeof(lctxs));

    fz_end(&fz);

    return 0;
}
