
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Redis replies (redis/ngx_api_led_redis.c and the rate limit's reply
 * checks in limit/ngx_api_led_limit_redis.c): the input plays Redis.
 * Requests with rate limits are put in batches
 * (ngx_api_led_limit_redis()), the batches leave as EVALSHA on the
 * client's connection (with AUTH, SELECT and SCRIPT LOAD first if the
 * header asks), and the rest of the input is what Redis answers, read by
 * the client's own read handler through hiredis's reader, in chunks.
 * The connection is a real nginx connection (on a socketpair) whose recv()
 * hands out the input.
 *
 *   byte 0  bits 0-1: requests - 1; bits 2-3: handshake (none, AUTH,
 *           AUTH user + SELECT, SELECT); bit 4: Redis closes the
 *           connection after the input; bits 5-7: chunks of 2^n bytes
 *           (0: 16k, a whole read)
 *   byte 1  limits per request, 2 bits each, 1 to 4
 *   byte 2  burst and period variety
 *   then    the RESP stream
 *
 * Properties: no crash, leak or hang whatever Redis answers; each request
 * is resumed at most once, with the failure or a consistent outcome (no
 * more remaining than the burst, a reset ahead); hiredis never allocates
 * more than -malloc_limit_mb at once (issue 16 defect 14: "*500000000"
 * made it allocate 4 GB).
 */


#include "harness.h"

/* the client's state and the batches are private: the files are included */
#include "ngx_api_led_redis.c"
#include "ngx_api_led_limit_redis.c"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void __wrap_ngx_api_led_resume(ngx_http_request_t *r);


#define NREQUESTS  4


static const uint8_t  *input;
static size_t          input_size;

/* Redis's side of the socket */
static u_char         *feed, *feed_end;
static size_t          chunk;
static ngx_uint_t      feed_eof;

static ngx_api_led_limit_ctx_t  *lctxs[NREQUESTS];
static ngx_uint_t                resumed[NREQUESTS];

static ngx_connection_t  *connections;
static ngx_event_t       *revs, *wevs;

/* the client's end of a socketpair, dup()ed for each connection */
static int                sv[2];


static ngx_int_t
fz_event_noop(ngx_event_t *ev, ngx_int_t event, ngx_uint_t flags)
{
    if (event == NGX_READ_EVENT || event == NGX_WRITE_EVENT) {
        ev->active = (flags != NGX_CLOSE_EVENT);
    }

    return NGX_OK;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t         i;
    ngx_cycle_t       *cycle;

    fz_init();

    /* an event loop that is never run: the harness calls the handlers */

    ngx_event_flags = NGX_USE_CLEAR_EVENT;
    ngx_event_actions.add = fz_event_noop;
    ngx_event_actions.del = fz_event_noop;
    ngx_event_actions.enable = fz_event_noop;
    ngx_event_actions.disable = fz_event_noop;

    /* a few connections, as ngx_event_process_init() makes them */

    cycle = (ngx_cycle_t *) ngx_cycle;

    connections = calloc(4, sizeof(ngx_connection_t));
    revs = calloc(4, sizeof(ngx_event_t));
    wevs = calloc(4, sizeof(ngx_event_t));
    if (connections == NULL || revs == NULL || wevs == NULL) {
        abort();
    }

    for (i = 0; i < 4; i++) {
        revs[i].closed = 1;
        wevs[i].closed = 1;
        connections[i].read = &revs[i];
        connections[i].write = &wevs[i];
        connections[i].fd = (ngx_socket_t) -1;
        connections[i].data = (i < 3) ? &connections[i + 1] : NULL;
    }

    cycle->connections = connections;
    cycle->connection_n = 4;
    cycle->free_connections = connections;
    cycle->free_connection_n = 4;
    ngx_queue_init(&cycle->reusable_connections_queue);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        abort();
    }

    return 0;
}


/* what the harness does instead of running the request's phases */

void
__wrap_ngx_api_led_resume(ngx_http_request_t *r)
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
        return;
    }

    item = lctxs[i]->items;

    for (j = 0; j < lctxs[i]->nitems; j++) {
        if (item[j].remaining >= item[j].limit || item[j].reset == 0) {
            fz_dump("input", input, input_size);
            fz_fail("an outcome out of bounds: remaining %ui of %ui, "
                    "reset %M", item[j].remaining, item[j].limit,
                    item[j].reset);
        }
    }
}


/* Redis answers: the input, a chunk at a time */

static ssize_t
fz_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    size_t  n;

    if (feed == feed_end) {
        if (feed_eof) {
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


/*
 * What ngx_api_led_redis_connect() does once ngx_event_connect_peer()
 * has connected: the connection is one end of a socketpair
 */

static void
fz_connect(ngx_api_led_redis_t *rd, int fd)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, &rd->log);
    if (c == NULL) {
        abort();
    }

    c->recv = fz_recv;
    c->send = fz_send;
    c->data = rd;
    c->read->handler = ngx_api_led_redis_read_handler;
    c->write->handler = ngx_api_led_redis_write_handler;
    c->read->log = &rd->log;
    c->write->log = &rd->log;
    c->read->active = 1;
    c->write->active = 1;
    c->write->ready = 1;
    c->tcp_nodelay = NGX_TCP_NODELAY_SET;

    rd->peer.connection = c;
    rd->c = c;
    rd->connected = 0;
    rd->ready = 0;

    rd->reader = redisReaderCreate();
    if (rd->reader == NULL) {
        abort();
    }

    if (ngx_api_led_redis_handshake(rd) != NGX_OK) {
        abort();
    }

    ngx_api_led_redis_arm(rd);
    ngx_api_led_redis_connected(rd);
}


/*
 * known (crashes/resp/huge-multibulk, issue 16 defect 14): hiredis
 * allocates the elements of an array as soon as it reads its length
 */

static ngx_uint_t
huge_array(u_char *p, u_char *end)
{
    ngx_int_t  n;
    u_char    *q;

    for ( /* void */ ; p < end; p++) {
        if (*p != '*') {
            continue;
        }

        for (q = p + 1; q < end && *q >= '0' && *q <= '9'; q++) {
            /* void */
        }

        n = ngx_atoi(p + 1, q - p - 1);

        if (q - p - 1 > 9 || n > 1000000) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                             fd;
    fz_t                            fz;
    ngx_str_t                       s;
    ngx_uint_t                      i, j, n, nitems, guard;
    ngx_api_led_redis_t            *rd;
    ngx_http_request_t             *r;
    ngx_api_led_limit_ctx_t        *lctx;
    ngx_api_led_limit_item_t       *item;
    ngx_api_led_limit_main_conf_t  *lmcf;

    /* a reconnection fails at once, without the network */
    static ngx_str_t  args[4][5] = {
        { ngx_string("api_led_redis"), ngx_string("unix:/nonexistent") },
        { ngx_string("api_led_redis"), ngx_string("unix:/nonexistent"),
          ngx_string("password=secret") },
        { ngx_string("api_led_redis"), ngx_string("unix:/nonexistent"),
          ngx_string("password=secret"), ngx_string("user=u"),
          ngx_string("db=3") },
        { ngx_string("api_led_redis"), ngx_string("unix:/nonexistent"),
          ngx_string("db=15") }
    };
    static ngx_uint_t  nargs[4] = { 2, 3, 5, 3 };

    if (size < 3) {
        return 0;
    }

    if (fz_known && huge_array((u_char *) data + 3, (u_char *) data + size))
    {
        return 0;
    }

    input = data;
    input_size = size;

    fz_begin(&fz);

    /* the client as "api_led_redis" makes it, with the limit's script */

    fz.cf->args->nelts = 0;
    j = (data[0] >> 2) & 3;

    for (i = 0; i < nargs[j]; i++) {
        *(ngx_str_t *) ngx_array_push(fz.cf->args) = args[j][i];
    }

    rd = NULL;
    if (ngx_api_led_redis_parse(fz.cf, &rd) != NGX_CONF_OK) {
        abort();
    }

    lmcf = ngx_pcalloc(fz.pool, sizeof(ngx_api_led_limit_main_conf_t));
    if (lmcf == NULL) {
        abort();
    }

    lmcf->redis = rd;
    lmcf->script = ngx_api_led_redis_add_script(fz.cf, rd,
                                          ngx_api_led_limit_redis_script());
    if (lmcf->script == NULL) {
        abort();
    }

    /* init_process, up to the connection */

    ngx_queue_init(&lmcf->filling);
    ngx_queue_init(&lmcf->flight);
    lmcf->flush.handler = ngx_api_led_limit_redis_flush;
    lmcf->flush.data = lmcf;
    lmcf->flush.log = ngx_cycle->log;

    rd->log = *ngx_cycle->log;
    rd->log.handler = ngx_api_led_redis_log_handler;
    rd->log.data = rd;
    ngx_queue_init(&rd->waiting);
    ngx_queue_init(&rd->free);
    rd->timer.handler = ngx_api_led_redis_timer_handler;
    rd->timer.data = rd;
    rd->timer.log = &rd->log;
    rd->reconnect.handler = ngx_api_led_redis_reconnect_handler;
    rd->reconnect.data = rd;
    rd->reconnect.log = &rd->log;
    rd->reconnect.cancelable = 1;
    rd->backoff = NGX_API_LED_REDIS_BACKOFF_MIN;
    rd->started = 1;

    fd = dup(sv[0]);
    if (fd == -1) {
        abort();
    }

    fz_connect(rd, fd);

    /* the requests and their limits */

    ngx_memzero(lctxs, sizeof(lctxs));
    ngx_memzero(resumed, sizeof(resumed));

    n = (data[0] & 3) + 1;

    for (i = 0; i < n; i++) {
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
            s.data = ngx_pnalloc(fz.pool, 32);
            if (s.data == NULL) {
                abort();
            }

            /* requests share keys and limits now and then */
            s.len = ngx_sprintf(s.data, "api_led:{k%ui}:l%ui",
                                (i + data[2]) & 1, j)
                    - s.data;

            item[j].key = s;
            item[j].limit = (data[2] >> 4) + 1;
            item[j].interval = (data[2] & 8) ? 1000000 : 1;
            item[j].tau = (item[j].limit - 1) * item[j].interval;
        }

        lctxs[i] = lctx;

        if (ngx_api_led_limit_redis(r, lmcf, lctx) != NGX_AGAIN) {
            abort();
        }
    }

    /* the batches leave, then Redis answers */

    feed = (u_char *) data + 3;
    feed_end = (u_char *) data + size;
    chunk = (data[0] >> 5) ? (size_t) 1 << ((data[0] >> 5) - 1) : 16384;
    feed_eof = (data[0] >> 4) & 1;

    ngx_event_process_posted((ngx_cycle_t *) ngx_cycle, &ngx_posted_events);

    for (guard = 0; rd->c && guard < 100000; guard++) {
        if (feed == feed_end && !feed_eof) {
            break;
        }

        rd->c->read->ready = 1;
        rd->c->read->handler(rd->c->read);

        ngx_event_process_posted((ngx_cycle_t *) ngx_cycle,
                                 &ngx_posted_events);
    }

    if (guard == 100000) {
        fz_dump("input", input, input_size);
        fz_fail("the client does not read");
    }

    /* the worker exits */

    ngx_api_led_limit_redis_exit_process(lmcf);

    ngx_memzero(lctxs, sizeof(lctxs));

    fz_end(&fz);

    return 0;
}
