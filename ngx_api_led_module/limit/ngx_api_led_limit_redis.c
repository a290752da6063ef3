
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The Redis store of the rate limits, requests batched.  A request's
 * limits are checked by one call of a GCRA script; the requests that come
 * while a call is on its way share the next one.  A worker keeps one batch
 * in flight: the requests that arrive meanwhile fill the next batch, which
 * leaves when the reply comes (with nothing in flight, at the end of the
 * event loop's turn).  Alone, a request makes one call; under load, Redis
 * runs one script for many requests, whose cost is mostly per call, not
 * per request, and a request waits for at most the call in flight, then
 * its own.
 *
 * The script checks a batch's requests in their order of arrival, each
 * all-or-nothing as if it were alone: a rejected request consumes no
 * quota, a later one sees what an earlier one consumed.  A key or a limit
 * shared by several requests is sent and read once, written once.
 *
 * The batch belongs to the worker, not to a request: a request that goes
 * away while it waits only empties its place, and the batch is freed once
 * its reply (or the failure) has been handed out.
 */


#include "ngx_api_led_limit.h"


/* a slot's number travels as a byte: a batch holds at most 255 limits */
#define NGX_API_LED_LIMIT_BATCH_SLOTS  255
#define NGX_API_LED_LIMIT_BATCH_HASH   512


/* one limit (key, T and tau) as the script sees it */
typedef struct {
    uint64_t                        interval;
    uint64_t                        tau;
    ngx_uint_t                      key;       /* 1-based, as in KEYS */
} ngx_api_led_limit_slot_t;


/*
 * A request's limits in one script call: all of them, or in a cluster
 * those whose keys share a hash slot (a request's limits of one key always
 * do: they share its hash tag).
 */
typedef struct {
    u_char                          request;   /* its place in the batch */
    uint16_t                        items;     /* which of its limits */
    ngx_uint_t                      hslot;     /* the cluster's hash slot */
    ngx_uint_t                      part;
} ngx_api_led_limit_entry_t;


/* one script call of a batch: its entries, in order of arrival */
typedef struct {
    ngx_api_led_limit_batch_t      *batch;
    ngx_uint_t                      first;     /* in the batch's entries */
    ngx_uint_t                      nentries;
    ngx_uint_t                      nitems;    /* the reply's elements */
    ngx_uint_t                      hslot;
} ngx_api_led_limit_part_t;


struct ngx_api_led_limit_batch_s {
    ngx_queue_t                     queue;     /* filling or flight */
    ngx_api_led_limit_worker_t     *worker;
    ngx_event_t                     timer;     /* its first request's timeout */
    unsigned                        sent:1;
    unsigned                        sending:1;

    ngx_uint_t                      nrequests;
    ngx_uint_t                      nitems;    /* no more slots than that */

    /* each request has a limit at least: no more requests than limits */
    ngx_api_led_limit_ctx_t        *requests[NGX_API_LED_LIMIT_BATCH_SLOTS];

    /* each request's number of limits */
    u_char                          sizes[NGX_API_LED_LIMIT_BATCH_SLOTS];

    /* the calls: one, or one per hash slot in a cluster */
    ngx_uint_t                      nparts;
    ngx_uint_t                      answered;
    ngx_uint_t                      nentries;
    ngx_api_led_limit_part_t        parts[NGX_API_LED_LIMIT_BATCH_SLOTS];
    ngx_api_led_limit_entry_t       entries[NGX_API_LED_LIMIT_BATCH_SLOTS];
    ngx_api_led_limit_entry_t       sorted[NGX_API_LED_LIMIT_BATCH_SLOTS];
    u_char                          part_hash[NGX_API_LED_LIMIT_BATCH_HASH];

    /* a call's command, built when it leaves */
    ngx_uint_t                      nkeys;
    ngx_uint_t                      nslots;
    ngx_str_t                       keys[NGX_API_LED_LIMIT_BATCH_SLOTS];
    ngx_api_led_limit_slot_t        slots[NGX_API_LED_LIMIT_BATCH_SLOTS];
    u_char                          key_hash[NGX_API_LED_LIMIT_BATCH_HASH];
    u_char                          slot_hash[NGX_API_LED_LIMIT_BATCH_HASH];
    uint64_t                        full[NGX_API_LED_LIMIT_BATCH_SLOTS];

    ngx_str_t                       args[2 + 4 * NGX_API_LED_LIMIT_BATCH_SLOTS];
    u_char                          list[2 * NGX_API_LED_LIMIT_BATCH_SLOTS];
    u_char                          numbers[(1 + 3
                                             * NGX_API_LED_LIMIT_BATCH_SLOTS)
                                            * NGX_INT64_LEN];
};


static ngx_api_led_limit_batch_t *ngx_api_led_limit_batch_open(
    ngx_api_led_limit_worker_t *wk, ngx_uint_t nitems);
static void ngx_api_led_limit_batch_free(ngx_api_led_limit_batch_t *b);
static void ngx_api_led_limit_redis_flush(ngx_event_t *ev);
static void ngx_api_led_limit_redis_expire(ngx_event_t *ev);
static void ngx_api_led_limit_redis_send(ngx_api_led_limit_batch_t *b);
static void ngx_api_led_limit_redis_split(ngx_api_led_limit_batch_t *b);
static ngx_uint_t ngx_api_led_limit_redis_command(
    ngx_api_led_limit_batch_t *b, ngx_api_led_limit_part_t *part);
static u_char ngx_api_led_limit_redis_slot(ngx_api_led_limit_batch_t *b,
    ngx_api_led_limit_item_t *item);
static void ngx_api_led_limit_redis_full(ngx_api_led_limit_batch_t *b,
    ngx_api_led_limit_part_t *part);
static void ngx_api_led_limit_redis_reply(void *data, redisReply *reply);
static ngx_int_t ngx_api_led_limit_redis_valid(ngx_api_led_limit_part_t *part,
    redisReply *reply);
static void ngx_api_led_limit_redis_answer(ngx_api_led_limit_part_t *part,
    redisReply *reply);
static void ngx_api_led_limit_redis_done(ngx_api_led_limit_batch_t *b);
static void ngx_api_led_limit_redis_hand_out(ngx_api_led_limit_batch_t *b);
static void ngx_api_led_limit_redis_wake(ngx_api_led_limit_batch_t *b,
    ngx_uint_t i);
static void ngx_api_led_limit_redis_outcome(ngx_api_led_limit_ctx_t *lctx,
    ngx_uint_t items, redisReply **e);


/*
 * The GCRA script.  KEYS: the batch's keys.  ARGV: for each limit (slot),
 * its key's index in KEYS, T and tau in microseconds; last, the requests
 * as a byte string: for each, the number of its limits, then their slots.
 * Returns, for each request and each of its limits, how far ahead of now
 * the limit's TAT was (microseconds): the request was admitted if no limit
 * was ahead by more than its tau, and only then counted, each limit from
 * the TAT it saw (two limits of one request that land on one key, their
 * keys' values being equal, count the request once).  The rest
 * (remaining, reset, retry) follows from T and tau: nginx works it out,
 * Redis's work stays per limit small.  Lua numbers are doubles:
 * microseconds since the epoch (~2^51) are exact, and Redis writes a
 * number argument with 17 significant digits, so the stored value is
 * exact too (string.format would cost a microsecond a key).  A stored
 * value that is no number is an empty bucket, "nan" too.  One further
 * ahead than the call's limits of its key can store (the largest tau + T
 * of them, a full bucket) was not written by them: by hand, corrupted, by
 * another rate of the name, maybe without a TTL.  Trusted as it is, it
 * would refuse every request until it passed, and refused requests write
 * nothing: it is cut to a full bucket and written back with its TTL, so
 * the bucket recovers as a full one does (one PSETEX for such a key, none
 * per request).  No value counts beyond 2^54 whatever the arguments:
 * Redis would turn 1e19, 1e30 or inf into a negative integer, a malformed
 * reply that fails every request of the call.
 */

static ngx_str_t  ngx_api_led_limit_redis_gcra = ngx_string(
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000000 + t[2]\n"
    "local key, T, tau, full = {}, {}, {}, {}\n"
    "for s = 1, (#ARGV - 1) / 3 do\n"
    "  local k = tonumber(ARGV[3 * s - 2])\n"
    "  key[s] = k\n"
    "  T[s] = tonumber(ARGV[3 * s - 1])\n"
    "  tau[s] = tonumber(ARGV[3 * s])\n"
    "  local f = tau[s] + T[s]\n"
    "  if (full[k] or 0) < f then full[k] = f end\n"
    "end\n"
    "local a = redis.call('MGET', unpack(KEYS))\n"
    "local dirty = {}\n"
    "for k = 1, #KEYS do\n"
    "  local x = (tonumber(a[k]) or now) - now\n"
    "  if not (x > 0) then x = 0 end\n"
    "  if x > 18014398509481984 then x = 18014398509481984 end\n"
    "  if x > full[k] then\n"
    "    x = full[k]\n"
    "    dirty[k] = true\n"
    "  end\n"
    "  a[k] = x\n"
    "end\n"
    "local r = {string.byte(ARGV[#ARGV], 1, -1)}\n"
    "local out, o, p = {}, 0, 1\n"
    "while p <= #r do\n"
    "  local n, ok = r[p], true\n"
    "  for j = p + 1, p + n do\n"
    "    local s = r[j]\n"
    "    local x = a[key[s]]\n"
    "    o = o + 1\n"
    "    out[o] = x\n"
    "    if x > tau[s] then ok = false end\n"
    "  end\n"
    "  if ok then\n"
    "    local q = o - n\n"
    "    for j = p + 1, p + n do\n"
    "      local s = r[j]\n"
    "      local k = key[s]\n"
    "      q = q + 1\n"
    "      a[k] = out[q] + T[s]\n"
    "      dirty[k] = true\n"
    "    end\n"
    "  end\n"
    "  p = p + n + 1\n"
    "end\n"
    "for k in pairs(dirty) do\n"
    "  redis.call('PSETEX', KEYS[k], math.ceil(a[k] / 1000), now + a[k])\n"
    "end\n"
    "return out\n");


ngx_str_t *
ngx_api_led_limit_redis_script(void)
{
    return &ngx_api_led_limit_redis_gcra;
}


/*
 * Puts the request in the open batch.  NGX_AGAIN: the request waits;
 * NGX_DECLINED: Redis is unavailable, the failure policy applies now.
 */

ngx_int_t
ngx_api_led_limit_redis(ngx_http_request_t *r,
    ngx_api_led_limit_worker_t *wk, ngx_api_led_limit_ctx_t *lctx)
{
    ngx_api_led_limit_batch_t  *b;

    if (ngx_api_led_redis_usable(wk->redis) != NGX_OK) {
        return NGX_DECLINED;
    }

    b = ngx_api_led_limit_batch_open(wk, lctx->nitems);
    if (b == NULL) {
        return NGX_ERROR;
    }

    lctx->batch = b;
    lctx->slot = b->nrequests;

    b->requests[b->nrequests] = lctx;
    b->sizes[b->nrequests] = (u_char) lctx->nitems;
    b->nrequests++;
    b->nitems += lctx->nitems;

    if (!wk->flush.posted
        && (ngx_queue_empty(&wk->flight)
            || ngx_queue_head(&wk->filling) != &b->queue))
    {
        ngx_post_event(&wk->flush, &ngx_posted_events);
    }

    return NGX_AGAIN;
}


/* the request went away: its place in the batch is left empty */

void
ngx_api_led_limit_redis_forget(ngx_api_led_limit_ctx_t *lctx)
{
    if (lctx->batch) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, lctx->request->connection->log, 0,
                       "api_led limit: request gone while waiting for redis");

        lctx->batch->requests[lctx->slot] = NULL;
        lctx->batch = NULL;
    }
}


/*
 * The worker's batches, at init_process; the Redis client is the worker's
 * shared one (made before, by the Redis module).
 */

ngx_int_t
ngx_api_led_limit_redis_init_process(ngx_cycle_t *cycle,
    ngx_api_led_limit_worker_t *wk)
{
    ngx_queue_init(&wk->filling);
    ngx_queue_init(&wk->flight);

    wk->flush.handler = ngx_api_led_limit_redis_flush;
    wk->flush.data = wk;
    wk->flush.log = cycle->log;

    wk->redis = ngx_api_led_redis_shared();
    if (wk->redis == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The Redis module freed the client before (it comes first): no reply can
 * reach a freed batch.
 */

void
ngx_api_led_limit_redis_exit_process(ngx_api_led_limit_worker_t *wk)
{
    ngx_queue_t  *q;

    wk->redis = NULL;

    if (wk->flush.posted) {
        ngx_delete_posted_event(&wk->flush);
    }

    ngx_queue_add(&wk->filling, &wk->flight);

    while (!ngx_queue_empty(&wk->filling)) {
        q = ngx_queue_head(&wk->filling);
        ngx_queue_remove(q);

        ngx_api_led_limit_batch_free(ngx_queue_data(q,
                                                    ngx_api_led_limit_batch_t,
                                                    queue));
    }

    ngx_queue_init(&wk->flight);

    if (wk->spare) {
        ngx_free(wk->spare);
        wk->spare = NULL;
    }
}


/* the batch a request with "nitems" limits joins: a new one when full */

static ngx_api_led_limit_batch_t *
ngx_api_led_limit_batch_open(ngx_api_led_limit_worker_t *wk,
    ngx_uint_t nitems)
{
    ngx_api_led_limit_batch_t  *b;

    if (!ngx_queue_empty(&wk->filling)) {
        b = ngx_queue_data(ngx_queue_last(&wk->filling),
                           ngx_api_led_limit_batch_t, queue);

        if (b->nitems + nitems <= NGX_API_LED_LIMIT_BATCH_SLOTS) {
            return b;
        }
    }

    if (wk->spare) {
        b = wk->spare;
        wk->spare = NULL;

    } else {
        b = ngx_alloc(sizeof(ngx_api_led_limit_batch_t), ngx_cycle->log);
        if (b == NULL) {
            return NULL;
        }
    }

    ngx_memzero(&b->timer, sizeof(ngx_event_t));

    b->timer.handler = ngx_api_led_limit_redis_expire;
    b->timer.data = b;
    b->timer.log = ngx_cycle->log;

    b->worker = wk;
    b->sent = 0;
    b->sending = 0;
    b->nrequests = 0;
    b->nitems = 0;

    ngx_queue_insert_tail(&wk->filling, &b->queue);

    ngx_add_timer(&b->timer, ngx_api_led_redis_timeout(wk->redis));

    return b;
}


/* every way a batch ends comes here: its timer must not outlive it */

static void
ngx_api_led_limit_batch_free(ngx_api_led_limit_batch_t *b)
{
    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    if (b->worker->spare == NULL) {
        b->worker->spare = b;
        return;
    }

    ngx_free(b);
}


/*
 * At the end of a turn: full batches leave; the open one leaves unless one
 * is in flight (its reply will send it, fuller).
 */

static void
ngx_api_led_limit_redis_flush(ngx_event_t *ev)
{
    ngx_queue_t                    *q;
    ngx_api_led_limit_batch_t      *b;
    ngx_api_led_limit_worker_t     *wk;

    wk = ev->data;

    while (!ngx_queue_empty(&wk->filling)) {
        q = ngx_queue_head(&wk->filling);

        if (q == ngx_queue_last(&wk->filling)
            && !ngx_queue_empty(&wk->flight))
        {
            break;
        }

        ngx_queue_remove(q);

        b = ngx_queue_data(q, ngx_api_led_limit_batch_t, queue);

        ngx_api_led_limit_redis_send(b);
    }
}


/*
 * The batch leaves: one script call, or in a cluster one per hash slot
 * present, each queued now (the calls to one node leave in one write, at
 * the end of this turn).  A call refused at once (its node's circuit is
 * open) answers its requests' part with a failure.
 */

static void
ngx_api_led_limit_redis_send(ngx_api_led_limit_batch_t *b)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i, n, p, nargs;
    ngx_api_led_limit_part_t    *part;
    ngx_api_led_limit_worker_t  *wk;

    wk = b->worker;

    /* the places of requests that went away are closed up */

    n = 0;

    for (i = 0; i < b->nrequests; i++) {
        if (b->requests[i]) {
            b->requests[n] = b->requests[i];
            b->sizes[n] = b->sizes[i];
            b->requests[n]->slot = n;
            n++;
        }
    }

    b->nrequests = n;

    if (n == 0) {
        ngx_api_led_limit_batch_free(b);
        return;
    }

    ngx_api_led_limit_redis_split(b);

    b->sent = 1;
    b->sending = 1;
    b->answered = 0;

    ngx_queue_insert_tail(&wk->flight, &b->queue);

    for (p = 0; p < b->nparts; p++) {
        part = &b->parts[p];

        /* every key of the call is in one slot: the first routes it */
        nargs = ngx_api_led_limit_redis_command(b, part);

        rc = ngx_api_led_redis_evalsha(wk->redis, wk->conf->script,
                                       nargs, b->args,
                                       ngx_api_led_limit_redis_reply, part,
                                       NULL);

        if (rc != NGX_AGAIN) {
            /* the circuit opened since the requests came: the policy */
            ngx_api_led_limit_redis_answer(part, NULL);
            continue;
        }

        /*
         * calls per request: api_led_redis_calls_total over this (a
         * request whose limits span hash slots counts in each call)
         */
        ngx_api_led_metric_count(wk->conf->redis_requests, NULL,
                                 part->nentries, ngx_cycle->log);
    }

    b->sending = 0;

    if (b->answered == b->nparts) {
        ngx_api_led_limit_redis_done(b);
    }
}


/*
 * The batch's entries and calls.  Without a cluster: one call, each
 * request one entry.  In a cluster: a request's limits grouped by the hash
 * slot of their keys (an entry each), the entries grouped by slot (a call
 * each), in order of arrival inside a call.
 */

static void
ngx_api_led_limit_redis_split(ngx_api_led_limit_batch_t *b)
{
    ngx_uint_t                   i, j, k, h, first, hslot, cluster;
    ngx_api_led_limit_ctx_t     *lctx;
    ngx_api_led_limit_part_t    *part;
    ngx_api_led_limit_entry_t   *e;

    cluster = ngx_api_led_redis_is_cluster(b->worker->redis);

    b->nentries = 0;
    b->nparts = 0;

    if (!cluster) {
        k = 0;

        for (i = 0; i < b->nrequests; i++) {
            k += b->requests[i]->nitems;

            e = &b->entries[b->nentries++];
            e->request = (u_char) i;
            e->items = (uint16_t) ((1u << b->requests[i]->nitems) - 1);
            e->hslot = 0;
            e->part = 0;
            b->requests[i]->parts = 1;
        }

        part = &b->parts[b->nparts++];
        part->batch = b;
        part->first = 0;
        part->nentries = b->nentries;
        part->nitems = k;
        part->hslot = 0;

        return;
    }

    ngx_memzero(b->part_hash, sizeof(b->part_hash));

    for (i = 0; i < b->nrequests; i++) {
        lctx = b->requests[i];
        first = b->nentries;
        lctx->parts = 0;

        for (j = 0; j < lctx->nitems; j++) {
            hslot = ngx_api_led_redis_key_slot(lctx->items[j].key.data,
                                               lctx->items[j].key.len);

            for (k = first; k < b->nentries; k++) {
                if (b->entries[k].hslot == hslot) {
                    break;
                }
            }

            if (k < b->nentries) {
                b->entries[k].items |= (uint16_t) (1u << j);
                continue;
            }

            e = &b->entries[b->nentries++];
            e->request = (u_char) i;
            e->items = (uint16_t) (1u << j);
            e->hslot = hslot;
            lctx->parts++;

            /* the call of this slot: a new one at its first entry */

            for (h = hslot; /* void */; h++) {
                h &= NGX_API_LED_LIMIT_BATCH_HASH - 1;

                if (b->part_hash[h] == 0) {
                    part = &b->parts[b->nparts++];
                    part->batch = b;
                    part->nentries = 0;
                    part->nitems = 0;
                    part->hslot = hslot;
                    b->part_hash[h] = (u_char) b->nparts;
                    break;
                }

                if (b->parts[b->part_hash[h] - 1].hslot == hslot) {
                    break;
                }
            }

            e->part = b->part_hash[h] - 1;
            b->parts[e->part].nentries++;
        }
    }

    /* the entries in call order (stable: arrival order inside a call) */

    first = 0;

    for (k = 0; k < b->nparts; k++) {
        b->parts[k].first = first;
        first += b->parts[k].nentries;
        b->parts[k].nentries = 0;
    }

    for (k = 0; k < b->nentries; k++) {
        part = &b->parts[b->entries[k].part];
        b->sorted[part->first + part->nentries++] = b->entries[k];
        part->nitems += __builtin_popcount(b->entries[k].items);
    }

    ngx_memcpy(b->entries, b->sorted,
               b->nentries * sizeof(ngx_api_led_limit_entry_t));
}


/* a call's KEYS, then its slots, then the list of its entries */

static ngx_uint_t
ngx_api_led_limit_redis_command(ngx_api_led_limit_batch_t *b,
    ngx_api_led_limit_part_t *part)
{
    u_char                     *p, *list;
    ngx_str_t                  *arg;
    ngx_uint_t                  i, j;
    ngx_api_led_limit_ctx_t    *lctx;
    ngx_api_led_limit_slot_t   *slot;
    ngx_api_led_limit_entry_t  *e;

    b->nkeys = 0;
    b->nslots = 0;
    ngx_memzero(b->key_hash, sizeof(b->key_hash));
    ngx_memzero(b->slot_hash, sizeof(b->slot_hash));

    list = b->list;

    for (i = 0; i < part->nentries; i++) {
        e = &b->entries[part->first + i];
        lctx = b->requests[e->request];

        *list++ = (u_char) __builtin_popcount(e->items);

        for (j = 0; j < lctx->nitems; j++) {
            if (e->items & (1u << j)) {
                *list++ = ngx_api_led_limit_redis_slot(b, &lctx->items[j]);
            }
        }
    }

    p = b->numbers;
    arg = b->args;

    arg->data = p;
    p = ngx_api_led_uint_dump(p, b->nkeys);
    arg->len = p - arg->data;
    arg++;

    for (i = 0; i < b->nkeys; i++) {
        *arg++ = b->keys[i];
    }

    for (i = 0; i < b->nslots; i++) {
        slot = &b->slots[i];

        arg->data = p;
        p = ngx_api_led_uint_dump(p, slot->key);
        arg->len = p - arg->data;
        arg++;

        arg->data = p;
        p = ngx_api_led_uint_dump(p, slot->interval);
        arg->len = p - arg->data;
        arg++;

        arg->data = p;
        p = ngx_api_led_uint_dump(p, slot->tau);
        arg->len = p - arg->data;
        arg++;
    }

    arg->data = b->list;
    arg->len = list - b->list;
    arg++;

    ngx_api_led_limit_redis_full(b, part);

    return arg - b->args;
}


/*
 * Each limit of the call learns its key's full bucket in the call, the
 * largest tau + T of the call's limits of that key: the script cuts the
 * key's TAT to it, no further, and a limit of a smaller full bucket is
 * refused until that TAT has come down to its tau.
 */

static void
ngx_api_led_limit_redis_full(ngx_api_led_limit_batch_t *b,
    ngx_api_led_limit_part_t *part)
{
    u_char                     *list;
    uint64_t                    full;
    ngx_uint_t                  i, j;
    ngx_api_led_limit_ctx_t    *lctx;
    ngx_api_led_limit_slot_t   *slot;
    ngx_api_led_limit_entry_t  *e;

    ngx_memzero(b->full, b->nkeys * sizeof(uint64_t));

    for (i = 0; i < b->nslots; i++) {
        slot = &b->slots[i];
        full = slot->tau + slot->interval;

        if (b->full[slot->key - 1] < full) {
            b->full[slot->key - 1] = full;
        }
    }

    /* the list names each entry's slots in the order of its limits */

    list = b->list;

    for (i = 0; i < part->nentries; i++) {
        e = &b->entries[part->first + i];
        lctx = b->requests[e->request];

        list++;

        for (j = 0; j < lctx->nitems; j++) {
            if (e->items & (1u << j)) {
                slot = &b->slots[*list++ - 1];
                lctx->items[j].full = b->full[slot->key - 1];
            }
        }
    }
}


/* the slot of a limit, its key and itself added when new to the call */

static u_char
ngx_api_led_limit_redis_slot(ngx_api_led_limit_batch_t *b,
    ngx_api_led_limit_item_t *item)
{
    ngx_uint_t                 hash, h, k, s;
    ngx_api_led_limit_slot_t  *slot;

    hash = ngx_hash_key(item->key.data, item->key.len);

    for (h = hash; /* void */; h++) {
        h &= NGX_API_LED_LIMIT_BATCH_HASH - 1;
        k = b->key_hash[h];

        if (k == 0) {
            b->keys[b->nkeys++] = item->key;
            k = b->nkeys;
            b->key_hash[h] = (u_char) k;
            break;
        }

        if (b->keys[k - 1].len == item->key.len
            && ngx_memcmp(b->keys[k - 1].data, item->key.data,
                          item->key.len)
               == 0)
        {
            break;
        }
    }

    for (h = hash ^ (ngx_uint_t) (item->interval * 31 + item->tau);
         /* void */;
         h++)
    {
        h &= NGX_API_LED_LIMIT_BATCH_HASH - 1;
        s = b->slot_hash[h];

        if (s == 0) {
            slot = &b->slots[b->nslots++];
            slot->key = k;
            slot->interval = item->interval;
            slot->tau = item->tau;

            b->slot_hash[h] = (u_char) b->nslots;

            return (u_char) b->nslots;
        }

        slot = &b->slots[s - 1];

        if (slot->key == k
            && slot->interval == item->interval
            && slot->tau == item->tau)
        {
            return (u_char) s;
        }
    }
}


static void
ngx_api_led_limit_redis_reply(void *data, redisReply *reply)
{
    ngx_api_led_limit_part_t *part = data;

    static ngx_msec_t  logged;

    if (reply && ngx_api_led_limit_redis_valid(part, reply) != NGX_OK) {

        /* every call gets it from such a Redis: at most once a second */

        if (logged == 0 || ngx_current_msec - logged >= 1000) {
            logged = ngx_current_msec ? ngx_current_msec : 1;

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "api_led: unexpected reply from the redis rate "
                          "limit script");
        }

        reply = NULL;
    }

    ngx_api_led_limit_redis_answer(part, reply);

    if (part->batch->answered == part->batch->nparts
        && !part->batch->sending)
    {
        ngx_api_led_limit_redis_done(part->batch);
    }
}


static ngx_int_t
ngx_api_led_limit_redis_valid(ngx_api_led_limit_part_t *part,
    redisReply *reply)
{
    ngx_uint_t    i;
    redisReply  **e;

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != part->nitems)
    {
        return NGX_ERROR;
    }

    e = reply->element;

    for (i = 0; i < part->nitems; i++) {
        if (e[i]->type != REDIS_REPLY_INTEGER || e[i]->integer < 0) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A call's reply (NULL: failure): each request still there gets its share;
 * one whose every call has answered is woken.
 */

static void
ngx_api_led_limit_redis_answer(ngx_api_led_limit_part_t *part,
    redisReply *reply)
{
    ngx_uint_t                  i, pos;
    ngx_api_led_limit_ctx_t    *lctx;
    ngx_api_led_limit_batch_t  *b;
    ngx_api_led_limit_entry_t  *e;

    b = part->batch;
    pos = 0;

    for (i = 0; i < part->nentries; i++) {
        e = &b->entries[part->first + i];
        lctx = b->requests[e->request];

        if (lctx == NULL) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "api_led limit: a reply for a request gone");

        } else {
            if (reply) {
                ngx_api_led_limit_redis_outcome(lctx, e->items,
                                                &reply->element[pos]);

            } else {
                lctx->failed = 1;
            }

            if (--lctx->parts == 0) {
                ngx_api_led_limit_redis_wake(b, e->request);
            }
        }

        pos += __builtin_popcount(e->items);
    }

    b->answered++;
}


/* every call of the batch has answered: the next batch may leave */

static void
ngx_api_led_limit_redis_done(ngx_api_led_limit_batch_t *b)
{
    ngx_api_led_limit_worker_t  *wk;

    wk = b->worker;

    ngx_queue_remove(&b->queue);

    /* the open batch leaves at the end of this turn, with what it has */

    if (!ngx_queue_empty(&wk->filling) && !wk->flush.posted) {
        ngx_post_event(&wk->flush, &ngx_posted_events);
    }

    ngx_api_led_limit_batch_free(b);
}


/*
 * A batch's first request has waited "timeout": the requests of the batch
 * get their failure policy now, though Redis itself may be well (it is
 * Redis's own deadline, a reply later than "timeout" after the call left,
 * that opens the circuit).  Calls on their way stay there: their replies,
 * when they come, find nobody.  Logged at most once a second.
 */

static void
ngx_api_led_limit_redis_expire(ngx_event_t *ev)
{
    ngx_api_led_limit_batch_t *b = ev->data;

    static ngx_msec_t  logged;

    if (logged == 0 || ngx_current_msec - logged >= 1000) {
        logged = ngx_current_msec ? ngx_current_msec : 1;

        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "api_led: rate limit checks waited %M ms for redis, "
                      "their on_error applies",
                      ngx_api_led_redis_timeout(b->worker->redis));
    }

    if (!b->sent) {
        ngx_queue_remove(&b->queue);
        ngx_api_led_limit_redis_hand_out(b);
        ngx_api_led_limit_batch_free(b);
        return;
    }

    ngx_api_led_limit_redis_hand_out(b);
}


/* every request still waiting in the batch fails */

static void
ngx_api_led_limit_redis_hand_out(ngx_api_led_limit_batch_t *b)
{
    ngx_uint_t  i;

    for (i = 0; i < b->nrequests; i++) {
        if (b->requests[i]) {
            b->requests[i]->failed = 1;
            ngx_api_led_limit_redis_wake(b, i);
        }
    }
}


/*
 * The request has its answer (or its failure) and is woken: it goes on
 * from a posted event, after the Redis read loop (or the batch's timer) is
 * done with the batch.
 */

static void
ngx_api_led_limit_redis_wake(ngx_api_led_limit_batch_t *b, ngx_uint_t i)
{
    ngx_api_led_limit_ctx_t  *lctx;

    lctx = b->requests[i];

    b->requests[i] = NULL;
    lctx->batch = NULL;
    lctx->state = NGX_API_LED_LIMIT_REPLIED;

    if (!lctx->failed) {
        lctx->store = NGX_API_LED_LIMIT_STORE_REDIS;
    }

    (void) ngx_api_led_wake(lctx->request);
}


/*
 * The request's limits of one call ("items"), with how far ahead of now
 * each was; the call admitted them all or none: refused, those that would
 * have admitted it were not counted (skip).
 */

static void
ngx_api_led_limit_redis_outcome(ngx_api_led_limit_ctx_t *lctx,
    ngx_uint_t items, redisReply **e)
{
    uint64_t                   ahead;
    ngx_uint_t                 i, k, admitted;
    ngx_api_led_limit_item_t  *item;

    item = lctx->items;
    admitted = 1;
    k = 0;

    for (i = 0; i < lctx->nitems; i++) {
        if (!(items & (1u << i))) {
            continue;
        }

        ahead = (uint64_t) e[k++]->integer;

        /*
         * the script cut the key's TAT to its largest full bucket in the
         * call (item.full): what it says is what the key holds, though a
         * limit of a smaller full bucket (another rate of the name) then
         * waits longer than its T.  Cutting to the limit's own tau + T
         * here would promise an admission that TAT refuses; the bound
         * only guards against a reply of no script of ours.
         */
        ahead = ngx_min(ahead, item[i].full);

        if (ahead > item[i].tau) {
            item[i].remaining = 0;
            item[i].reset = (ahead + 999) / 1000;
            item[i].retry = (ahead - item[i].tau + 999) / 1000;
            admitted = 0;

        } else {
            item[i].remaining = (item[i].tau - ahead) / item[i].interval;
            item[i].reset = (ahead + item[i].interval + 999) / 1000;
            item[i].retry = 0;
        }
    }

    if (!admitted) {
        for (i = 0; i < lctx->nitems; i++) {
            if (items & (1u << i)) {
                /* admitted by this limit, but nothing was counted */
                item[i].skip = (item[i].retry == 0);
            }
        }
    }
}
