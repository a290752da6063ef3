
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Per-worker state of the JWT concern: the verified-token cache and the
 * remote key sets (api_led_jwt_keys_uri), fetched by a subrequest to a
 * location the user defines, without blocking the worker.  The
 * configuration only names the remote key sets; what a worker fetched,
 * when, and who waits for it is in the worker's struct, made at
 * init_process.
 */


#include "ngx_api_led_jwt.h"


/* what became of a fetch, for the metrics */
#define NGX_API_LED_JWT_FETCH_LOADED      0
#define NGX_API_LED_JWT_FETCH_UNCHANGED   1
#define NGX_API_LED_JWT_FETCH_REJECTED    2
#define NGX_API_LED_JWT_FETCH_FAILED      3

/* a failed fetch is not retried for min(valid, this) seconds */
#define NGX_API_LED_JWT_RETRY         10

/* a request waits at most this long for another request's fetch */
#define NGX_API_LED_JWT_WAIT_TIMEOUT  30000


/* a remote key set as this worker has it */
typedef struct {
    ngx_api_led_jwt_remote_t    *remote;      /* its configuration */
    ngx_api_led_jwks_t          *keys;        /* NULL until fetched */
    time_t                       fetched;     /* when keys were (re)fetched */
    time_t                       failed;      /* last failed fetch, 0 none */
    time_t                       kid_fetched; /* last unknown-kid refetch */
    ngx_api_led_jwt_fetch_t     *fetch;       /* fetch in flight, or NULL */
    ngx_queue_t                  waiters;
} ngx_api_led_jwt_remote_state_t;


/* the worker's state of the JWT concern */
typedef struct {
    ngx_api_led_jwt_cache_t          cache;
    ngx_api_led_jwt_remote_state_t  *remotes;  /* by remote->index */
    ngx_uint_t                       nremotes;
    ngx_api_led_metric_t            *fetches;  /* NULL: not counted */
} ngx_api_led_jwt_worker_t;


/*
 * A fetch is a background subrequest of the request that started it: it
 * is never the client connection's active request, so a client that goes
 * away does not end it, and it keeps its main request (and this struct,
 * in that request's pool) alive until it is over.  The request that
 * started it waits for it like any other (a waiter).
 */

struct ngx_api_led_jwt_fetch_s {
    ngx_api_led_jwt_remote_t        *remote;
    ngx_api_led_jwt_remote_state_t  *state;
    unsigned                         done:1;
};


typedef struct {
    ngx_queue_t                  queue;
    ngx_event_t                  ev;          /* the wait's timer */
    ngx_http_request_t          *r;
    ngx_api_led_jwt_req_ctx_t   *jctx;
    unsigned                     queued:1;
} ngx_api_led_jwt_waiter_t;


static ngx_int_t ngx_api_led_jwt_remote_fetch(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t background);
static ngx_int_t ngx_api_led_jwt_remote_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_uint_t ngx_api_led_jwt_remote_update(
    ngx_api_led_jwt_remote_t *remote, ngx_api_led_jwt_remote_state_t *st,
    u_char *body, size_t len, ngx_log_t *log);
static void ngx_api_led_jwt_count_fetch(ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t outcome, ngx_log_t *log);
static void ngx_api_led_jwt_fetch_cleanup(void *data);
static ngx_int_t ngx_api_led_jwt_remote_wait(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t fetcher);
static void ngx_api_led_jwt_remote_wake(ngx_api_led_jwt_remote_state_t *st,
    ngx_uint_t aborted);
static void ngx_api_led_jwt_waiter_handler(ngx_event_t *ev);
static void ngx_api_led_jwt_waiter_cleanup(void *data);
static ngx_api_led_jwt_remote_state_t *ngx_api_led_jwt_remote_state(
    ngx_api_led_jwt_remote_t *remote);


/* this worker's state (each worker process has its own) */
static ngx_api_led_jwt_worker_t  *ngx_api_led_jwt_worker;


/*
 * At init_process, when the configuration verifies tokens with a cache or
 * remote key sets: the cache and a state for each remote key set.  Not in
 * the cycle's pool: it lives as long as the worker, freed at exit_process.
 */

ngx_int_t
ngx_api_led_jwt_worker_init(ngx_cycle_t *cycle,
    ngx_api_led_jwt_main_conf_t *jmcf)
{
    ngx_uint_t                  i;
    ngx_api_led_jwt_worker_t   *wk;
    ngx_api_led_jwt_remote_t  **remotes;

    if (jmcf->cache_size == 0 && jmcf->remotes.nelts == 0) {
        return NGX_OK;
    }

    wk = ngx_calloc(sizeof(ngx_api_led_jwt_worker_t)
                    + jmcf->remotes.nelts
                      * sizeof(ngx_api_led_jwt_remote_state_t),
                    cycle->log);
    if (wk == NULL) {
        return NGX_ERROR;
    }

    ngx_api_led_jwt_cache_init(&wk->cache);
    wk->cache.size = jmcf->cache_size;
    wk->fetches = jmcf->fetches;

    wk->nremotes = jmcf->remotes.nelts;
    wk->remotes = (ngx_api_led_jwt_remote_state_t *) &wk[1];

    remotes = jmcf->remotes.elts;

    for (i = 0; i < wk->nremotes; i++) {
        wk->remotes[i].remote = remotes[i];
        ngx_queue_init(&wk->remotes[i].waiters);
    }

    ngx_api_led_jwt_worker = wk;

    return NGX_OK;
}


/*
 * A remote key set's state in this worker.  NULL when the worker has none
 * for this configuration: only without a master process, after a
 * reconfiguration (init_process is not run again), the keys are then not
 * fetched.
 */

static ngx_api_led_jwt_remote_state_t *
ngx_api_led_jwt_remote_state(ngx_api_led_jwt_remote_t *remote)
{
    ngx_api_led_jwt_worker_t  *wk;

    wk = ngx_api_led_jwt_worker;

    if (wk == NULL
        || remote->index >= wk->nremotes
        || wk->remotes[remote->index].remote != remote)
    {
        return NULL;
    }

    return &wk->remotes[remote->index];
}


/* at exit_process: the cached claims and the fetched key sets go */

void
ngx_api_led_jwt_worker_exit(void)
{
    ngx_uint_t                 i;
    ngx_api_led_jwt_worker_t  *wk;

    wk = ngx_api_led_jwt_worker;

    if (wk == NULL) {
        return;
    }

    ngx_api_led_jwt_cache_free(&wk->cache);

    for (i = 0; i < wk->nremotes; i++) {
        if (wk->remotes[i].keys) {
            ngx_destroy_pool(wk->remotes[i].keys->pool);
            wk->remotes[i].keys = NULL;
        }
    }

    ngx_free(wk);

    ngx_api_led_jwt_worker = NULL;
}


/* the worker's verified-token cache, NULL when there is none */

ngx_api_led_jwt_cache_t *
ngx_api_led_jwt_worker_cache(void)
{
    if (ngx_api_led_jwt_worker == NULL
        || ngx_api_led_jwt_worker->cache.size == 0)
    {
        return NULL;
    }

    return &ngx_api_led_jwt_worker->cache;
}


/* the keys this worker fetched for a remote key set, NULL if none yet */

ngx_api_led_jwks_t *
ngx_api_led_jwt_remote_jwks(ngx_api_led_jwt_remote_t *remote)
{
    ngx_api_led_jwt_remote_state_t  *st;

    st = ngx_api_led_jwt_remote_state(remote);

    return st ? st->keys : NULL;
}


/*
 * The verified-token cache: an rbtree, LRU bounded, that keeps each
 * token with its claims.  A hit used to hash the whole token with
 * SHA-256 (0.2-0.4 us, the better part of a hit); the key is now a
 * seeded mix of the token's last bytes, its signature, and a hit
 * compares the token in full, in constant time.  Only tokens that were
 * verified are inserted, and a verified signature is unpredictable to
 * whoever has not the signing key, so a forged token can at most share
 * a key with one in the cache: it is then compared, unequal, a miss, and
 * verified (and refused) as any other.  Keys are unique in the tree: a
 * verified token whose key another one has (a chance of 2^-64 a pair,
 * 2^-32 where the key is 32 bits) takes its place, so the tree never
 * orders tokens by their bytes, whose comparison would time what a
 * cached token holds.
 */

#define NGX_API_LED_JWT_CACHE_KEY_BYTES  32


void
ngx_api_led_jwt_cache_init(ngx_api_led_jwt_cache_t *cache)
{
    ngx_rbtree_init(&cache->rbtree, &cache->sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&cache->lru);
    cache->count = 0;

    /*
     * each worker spreads its keys its own way; nothing relies on the
     * seed being secret: the tokens are compared
     */
    cache->seed = (uint64_t) ngx_random() << 32 ^ (uint64_t) ngx_random();
}


static ngx_rbtree_key_t
ngx_api_led_jwt_cache_key(ngx_api_led_jwt_cache_t *cache, ngx_str_t *token)
{
    u_char    *p, *last;
    uint64_t   h, w;

    p = token->data + token->len
        - ngx_min(token->len, NGX_API_LED_JWT_CACHE_KEY_BYTES);
    last = token->data + token->len;

    h = cache->seed ^ token->len;

    while (last - p >= (ssize_t) sizeof(uint64_t)) {
        ngx_memcpy(&w, p, sizeof(uint64_t));
        p += sizeof(uint64_t);

        h = ngx_api_led_mix(h, w);
    }

    while (p < last) {
        h = ngx_api_led_mix(h, *p++);
    }

    return (ngx_rbtree_key_t) (h ^ h >> 32);
}


/* the entry holds this very token (compared in constant time) */

static ngx_uint_t
ngx_api_led_jwt_cache_holds(ngx_api_led_jwt_cache_node_t *cn,
    ngx_str_t *token)
{
    return cn->token.len == token->len
           && ngx_api_led_same(cn->token.data, token->data, token->len);
}


/* the entry of the token's key, whatever its token */

static ngx_api_led_jwt_cache_node_t *
ngx_api_led_jwt_cache_find(ngx_api_led_jwt_cache_t *cache,
    ngx_rbtree_key_t key)
{
    ngx_rbtree_node_t  *node, *sentinel;

    node = cache->rbtree.root;
    sentinel = cache->rbtree.sentinel;

    while (node != sentinel) {

        if (key == node->key) {
            return (ngx_api_led_jwt_cache_node_t *) node;
        }

        node = (key < node->key) ? node->left : node->right;
    }

    return NULL;
}


ngx_api_led_jwt_cache_node_t *
ngx_api_led_jwt_cache_lookup(ngx_api_led_jwt_cache_t *cache, ngx_str_t *token)
{
    ngx_api_led_jwt_cache_node_t  *cn;

    cn = ngx_api_led_jwt_cache_find(cache,
                                    ngx_api_led_jwt_cache_key(cache, token));

    if (cn == NULL || !ngx_api_led_jwt_cache_holds(cn, token)) {
        return NULL;
    }

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&cache->lru, &cn->queue);

    return cn;
}


void
ngx_api_led_jwt_cache_insert(ngx_api_led_jwt_cache_t *cache, ngx_str_t *token,
    json_t *claims, time_t exp, ngx_uint_t generation, ngx_uint_t alg,
    ngx_log_t *log)
{
    time_t                         now;
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_rbtree_key_t               key;
    ngx_api_led_jwt_cache_node_t  *cn;

    if (cache->size == 0) {
        return;
    }

    now = ngx_time();

    /* an entry never outlives its token */
    if (exp && exp <= now) {
        return;
    }

    key = ngx_api_led_jwt_cache_key(cache, token);

    cn = ngx_api_led_jwt_cache_find(cache, key);

    if (cn && ngx_api_led_jwt_cache_holds(cn, token)) {
        /* verified again, e.g. with the keys of another location */
        json_incref(claims);
        json_decref(cn->claims);
        cn->claims = claims;
        cn->requires_met = NULL;
        cn->exp = exp;
        cn->generation = generation;
        cn->alg = alg;
        return;
    }

    if (cn) {
        /* another verified token of the same key: this one replaces it */
        ngx_api_led_jwt_cache_delete(cache, cn);
    }

    /* drop up to two expired entries from the tail, then the oldest */

    for (n = 0; n < 2 && !ngx_queue_empty(&cache->lru); n++) {
        q = ngx_queue_last(&cache->lru);
        cn = ngx_queue_data(q, ngx_api_led_jwt_cache_node_t, queue);

        if (cn->exp == 0 || cn->exp > now) {
            break;
        }

        ngx_api_led_jwt_cache_delete(cache, cn);
    }

    if (cache->count >= cache->size) {
        q = ngx_queue_last(&cache->lru);
        cn = ngx_queue_data(q, ngx_api_led_jwt_cache_node_t, queue);
        ngx_api_led_jwt_cache_delete(cache, cn);
    }

    cn = ngx_alloc(sizeof(ngx_api_led_jwt_cache_node_t) + token->len, log);
    if (cn == NULL) {
        return;
    }

    cn->token.data = (u_char *) &cn[1];
    cn->token.len = token->len;
    ngx_memcpy(cn->token.data, token->data, token->len);

    cn->node.key = key;
    cn->claims = json_incref(claims);
    cn->requires_met = NULL;
    cn->exp = exp;
    cn->generation = generation;
    cn->alg = alg;

    ngx_rbtree_insert(&cache->rbtree, &cn->node);
    ngx_queue_insert_head(&cache->lru, &cn->queue);
    cache->count++;
}


void
ngx_api_led_jwt_cache_delete(ngx_api_led_jwt_cache_t *cache,
    ngx_api_led_jwt_cache_node_t *cn)
{
    ngx_rbtree_delete(&cache->rbtree, &cn->node);
    ngx_queue_remove(&cn->queue);
    json_decref(cn->claims);

    /* a credential: nothing of it stays in freed memory */
    ngx_explicit_memzero(cn->token.data, cn->token.len);

    ngx_free(cn);
    cache->count--;
}


void
ngx_api_led_jwt_cache_free(ngx_api_led_jwt_cache_t *cache)
{
    ngx_queue_t                   *q;
    ngx_api_led_jwt_cache_node_t  *cn;

    if (cache->lru.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_last(&cache->lru);
        cn = ngx_queue_data(q, ngx_api_led_jwt_cache_node_t, queue);
        ngx_api_led_jwt_cache_delete(cache, cn);
    }
}


/*
 * Remote key sets.  One per distinct (uri, valid, kid_refetch) of the
 * configuration; a worker's fetched keys live in their own pool,
 * destroyed when replaced or when the worker exits.
 */

ngx_api_led_jwt_remote_t *
ngx_api_led_jwt_remote_add(ngx_conf_t *cf, ngx_api_led_jwt_main_conf_t *jmcf,
    ngx_str_t *uri, time_t valid, time_t kid_refetch)
{
    u_char                     *q;
    ngx_str_t                   path, args;
    ngx_uint_t                  i;
    ngx_api_led_jwt_remote_t   *remote, **rp;

    path = *uri;
    ngx_str_null(&args);

    q = ngx_strlchr(uri->data, uri->data + uri->len, '?');
    if (q) {
        path.len = q - uri->data;
        args.data = q + 1;
        args.len = uri->data + uri->len - args.data;
    }

    rp = jmcf->remotes.elts;

    for (i = 0; i < jmcf->remotes.nelts; i++) {
        remote = rp[i];

        if (remote->uri.len == path.len
            && ngx_strncmp(remote->uri.data, path.data, path.len) == 0
            && remote->args.len == args.len
            && ngx_strncmp(remote->args.data, args.data, args.len) == 0
            && remote->valid == valid
            && remote->kid_refetch == kid_refetch)
        {
            return remote;
        }
    }

    remote = ngx_pcalloc(cf->pool, sizeof(ngx_api_led_jwt_remote_t));
    if (remote == NULL) {
        return NULL;
    }

    remote->uri = path;
    remote->args = args;
    remote->valid = valid;
    remote->kid_refetch = kid_refetch;
    remote->index = jmcf->remotes.nelts;

    rp = ngx_array_push(&jmcf->remotes);
    if (rp == NULL) {
        return NULL;
    }

    *rp = remote;

    return remote;
}


/*
 * Makes sure the remote keys are there and fresh enough.  NGX_OK: use
 * ngx_api_led_jwt_remote_jwks() (NULL when the provider never answered);
 * NGX_AGAIN: the request waits for a fetch, it is resumed and calls again;
 * NGX_ERROR.
 *
 *   no keys yet          fetch and wait (unless a fetch failed recently)
 *   keys past "valid"    fetch and wait; if the provider is down, keep
 *                        using the old keys, retrying now and then
 *   keys past 3/4 valid  refresh in the background, use the current keys
 *   unknown kid          fetch and wait, at most once per kid_refetch
 */

ngx_int_t
ngx_api_led_jwt_remote_keys(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t need)
{
    time_t                           now, age, retry;
    ngx_api_led_jwt_remote_state_t  *st;

    st = ngx_api_led_jwt_remote_state(remote);

    if (jctx->waited || st == NULL) {
        /* the freshest keys this request can get */
        return NGX_OK;
    }

    now = ngx_time();
    retry = ngx_min(remote->valid, NGX_API_LED_JWT_RETRY);

    if (need == NGX_API_LED_JWT_NEED_KID) {

        if (st->fetch) {
            return ngx_api_led_jwt_remote_wait(r, jctx, remote, 0);
        }

        if (st->kid_fetched
            && now - st->kid_fetched < remote->kid_refetch)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "api_led: unknown JWT kid, JWKS \"%V\" not "
                          "refetched: last refetch %T s ago",
                          &remote->uri, now - st->kid_fetched);
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "api_led: unknown JWT kid, refetching JWKS \"%V\"",
                      &remote->uri);

        st->kid_fetched = now;

        return ngx_api_led_jwt_remote_fetch(r, jctx, remote, 0);
    }

    if (st->keys == NULL || now - st->fetched >= remote->valid) {

        if (st->fetch) {
            return ngx_api_led_jwt_remote_wait(r, jctx, remote, 0);
        }

        if (st->failed && now - st->failed < retry) {
            /* the provider is down: old keys if any, no wait */
            return NGX_OK;
        }

        return ngx_api_led_jwt_remote_fetch(r, jctx, remote, 0);
    }

    age = now - st->fetched;

    if (age >= remote->valid - remote->valid / 4
        && st->fetch == NULL
        && !(st->failed && now - st->failed < retry))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "api_led: refreshing JWKS \"%V\" in the background",
                       &remote->uri);

        if (ngx_api_led_jwt_remote_fetch(r, jctx, remote, 1) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_jwt_remote_fetch(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t background)
{
    ngx_http_request_t              *sr;
    ngx_pool_cleanup_t              *cln;
    ngx_api_led_jwt_fetch_t         *fetch;
    ngx_http_post_subrequest_t      *ps;
    ngx_api_led_jwt_remote_state_t  *st;

    st = ngx_api_led_jwt_remote_state(remote);

    fetch = ngx_pcalloc(r->pool, sizeof(ngx_api_led_jwt_fetch_t));
    if (fetch == NULL) {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_api_led_jwt_remote_done;
    ps->data = fetch;

    /*
     * The request's pool goes only after the fetch is over, unless nginx
     * terminates the request (and the fetch with it): waiters are then
     * woken to fetch again.
     */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_api_led_jwt_fetch_cleanup;
    cln->data = fetch;

    if (ngx_http_subrequest(r, &remote->uri,
                            remote->args.len ? &remote->args : NULL,
                            &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        fetch->done = 1;
        return NGX_ERROR;
    }

    /*
     * The identity provider sees none of the client's headers: not its
     * token (Authorization), not its cookies.
     */

    if (ngx_api_led_edit_headers_in_clear(sr) != NGX_OK) {
        return NGX_ERROR;
    }

    fetch->remote = remote;
    fetch->state = st;

    st->fetch = fetch;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: fetching JWKS \"%V\"%s", &remote->uri,
                   background ? " (background)" : "");

    if (background) {
        return NGX_OK;
    }

    return ngx_api_led_jwt_remote_wait(r, jctx, remote, 1);
}


static ngx_int_t
ngx_api_led_jwt_remote_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_api_led_jwt_fetch_t *fetch = data;

    u_char                          *body;
    size_t                           len;
    ngx_uint_t                       status;
    ngx_api_led_jwt_remote_t        *remote;
    ngx_api_led_jwt_remote_state_t  *st;

    if (fetch->done) {
        return rc;
    }

    fetch->done = 1;

    remote = fetch->remote;
    st = fetch->state;

    if (st->fetch == fetch) {
        st->fetch = NULL;
    }

    if (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST || sr->connection->error) {
        /*
         * The fetch ended with the client's connection, not because of
         * the provider: nothing is known about the provider, so it is
         * not taken for down; the waiters fetch again.
         */

        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "api_led: fetching JWKS \"%V\" ended with the client "
                      "connection that started it, to be fetched again",
                      &remote->uri);

        ngx_api_led_jwt_remote_wake(st, 1);

        return rc;
    }

    status = sr->headers_out.status;

    body = NULL;
    len = 0;

    if (sr->out && sr->out->buf) {
        body = sr->out->buf->pos;
        len = sr->out->buf->last - sr->out->buf->pos;

    } else if (sr->upstream) {
        body = sr->upstream->buffer.pos;
        len = sr->upstream->buffer.last - sr->upstream->buffer.pos;
    }

    if (rc == NGX_OK && status == NGX_HTTP_OK && len) {
        ngx_api_led_jwt_count_fetch(remote,
                                    ngx_api_led_jwt_remote_update(remote, st,
                                                   body, len,
                                                   sr->connection->log),
                                    sr->connection->log);

    } else {
        ngx_api_led_jwt_count_fetch(remote, NGX_API_LED_JWT_FETCH_FAILED,
                                    sr->connection->log);

        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "api_led: fetching JWKS \"%V\" failed: status %ui, "
                      "rc %i, %uz bytes%s%s", &remote->uri, status, rc, len,
                      (status == NGX_HTTP_OK && len == 0)
                      ? " (a JWKS larger than the location's "
                        "subrequest_output_buffer_size is refused)" : "",
                      st->keys ? ", keeping the current keys" : "");

        st->failed = ngx_time();
    }

    ngx_api_led_jwt_remote_wake(st, 0);

    return rc;
}


static ngx_uint_t
ngx_api_led_jwt_remote_update(ngx_api_led_jwt_remote_t *remote,
    ngx_api_led_jwt_remote_state_t *st, u_char *body, size_t len,
    ngx_log_t *log)
{
    u_char               digest[NGX_API_LED_JWT_DIGEST_LEN];
    u_char               err[NGX_API_LED_JWT_ERRLEN];
    ngx_pool_t          *pool;
    ngx_api_led_jwks_t  *jwks;

    if (ngx_api_led_jwt_sha256(body, len, digest) != NGX_OK) {
        st->failed = ngx_time();
        return NGX_API_LED_JWT_FETCH_FAILED;
    }

    if (st->keys
        && ngx_memcmp(digest, st->keys->digest, sizeof(digest)) == 0)
    {
        /* unchanged: verified tokens stay in the cache */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "api_led: JWKS \"%V\" unchanged", &remote->uri);
        st->fetched = ngx_time();
        st->failed = 0;
        return NGX_API_LED_JWT_FETCH_UNCHANGED;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        st->failed = ngx_time();
        return NGX_API_LED_JWT_FETCH_FAILED;
    }

    jwks = ngx_api_led_jwks_create(pool);
    if (jwks == NULL) {
        ngx_destroy_pool(pool);
        st->failed = ngx_time();
        return NGX_API_LED_JWT_FETCH_FAILED;
    }

    if (ngx_api_led_jwks_parse(jwks, body, len, 0, log, err) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "api_led: JWKS \"%V\" rejected: %s%s", &remote->uri,
                      err,
                      st->keys ? ", keeping the current keys" : "");
        ngx_destroy_pool(pool);
        st->failed = ngx_time();
        return NGX_API_LED_JWT_FETCH_REJECTED;
    }

    ngx_memcpy(jwks->digest, digest, sizeof(digest));

    if (st->keys) {
        ngx_destroy_pool(st->keys->pool);
    }

    st->keys = jwks;
    st->fetched = ngx_time();
    st->failed = 0;

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "api_led: JWKS \"%V\" loaded: %ui keys",
                  &remote->uri, jwks->keys.nelts);

    return NGX_API_LED_JWT_FETCH_LOADED;
}


/* api_led_jwt_jwks_fetches_total{uri, outcome} */

static void
ngx_api_led_jwt_count_fetch(ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t outcome, ngx_log_t *log)
{
    ngx_str_t  values[2];

    static ngx_str_t  outcomes[] = {
        ngx_string("loaded"), ngx_string("unchanged"),
        ngx_string("rejected"), ngx_string("failed")
    };

    if (ngx_api_led_jwt_worker == NULL) {
        return;
    }

    values[0] = remote->uri;
    values[1] = outcomes[outcome];

    ngx_api_led_metric_count(ngx_api_led_jwt_worker->fetches, values, 1, log);
}


static void
ngx_api_led_jwt_fetch_cleanup(void *data)
{
    ngx_api_led_jwt_fetch_t *fetch = data;

    if (fetch->done) {
        return;
    }

    /* nginx terminated the request that fetched, and its fetch with it */

    fetch->done = 1;

    if (fetch->state && fetch->state->fetch == fetch) {
        fetch->state->fetch = NULL;
        ngx_api_led_jwt_remote_wake(fetch->state, 1);
    }
}


/*
 * The request waits for the fetch in flight, at most
 * NGX_API_LED_JWT_WAIT_TIMEOUT.  A waiter notices its client going away;
 * the request that started the fetch does not: its end would end the
 * fetch the others wait for.
 */

static ngx_int_t
ngx_api_led_jwt_remote_wait(ngx_http_request_t *r,
    ngx_api_led_jwt_req_ctx_t *jctx, ngx_api_led_jwt_remote_t *remote,
    ngx_uint_t fetcher)
{
    ngx_pool_cleanup_t              *cln;
    ngx_api_led_jwt_waiter_t        *w;
    ngx_api_led_jwt_remote_state_t  *st;

    st = ngx_api_led_jwt_remote_state(remote);

    w = jctx->waiter;

    if (w == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_api_led_jwt_waiter_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        w = cln->data;
        ngx_memzero(w, sizeof(ngx_api_led_jwt_waiter_t));

        w->r = r;
        w->jctx = jctx;
        w->ev.handler = ngx_api_led_jwt_waiter_handler;
        w->ev.data = w;
        w->ev.log = r->connection->log;

        cln->handler = ngx_api_led_jwt_waiter_cleanup;
        cln->data = w;

        jctx->waiter = w;
    }

    ngx_queue_insert_tail(&st->waiters, &w->queue);
    w->queued = 1;

    ngx_add_timer(&w->ev, NGX_API_LED_JWT_WAIT_TIMEOUT);

    jctx->waiting = 1;
    jctx->fetch_done = 0;
    jctx->remote = remote;

    r->read_event_handler = fetcher ? ngx_http_block_reading
                                    : ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "api_led: waiting for JWKS \"%V\"", &remote->uri);

    return NGX_AGAIN;
}


/*
 * The fetch is over: every waiting request is woken (it runs again from a
 * posted event, never from inside the fetching request's handler).
 */

static void
ngx_api_led_jwt_remote_wake(ngx_api_led_jwt_remote_state_t *st,
    ngx_uint_t aborted)
{
    ngx_queue_t               *q;
    ngx_api_led_jwt_waiter_t  *w;

    while (!ngx_queue_empty(&st->waiters)) {
        q = ngx_queue_head(&st->waiters);
        w = ngx_queue_data(q, ngx_api_led_jwt_waiter_t, queue);

        ngx_queue_remove(q);
        w->queued = 0;

        w->jctx->fetch_done = 1;

        if (aborted) {
            /* no answer came: the waiter may fetch itself */
            w->jctx->waited = 0;
            w->jctx->waiting = 0;
        }

        if (w->ev.timer_set) {
            ngx_del_timer(&w->ev);
        }

        (void) ngx_api_led_wake(w->r);
    }
}


static void
ngx_api_led_jwt_waiter_handler(ngx_event_t *ev)
{
    ngx_api_led_jwt_waiter_t *w = ev->data;

    if (w->queued) {
        ngx_queue_remove(&w->queue);
        w->queued = 0;

        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "api_led: timed out waiting for a JWKS fetch");

        w->jctx->fetch_done = 1;
    }

    (void) ngx_api_led_wake(w->r);
}


static void
ngx_api_led_jwt_waiter_cleanup(void *data)
{
    ngx_api_led_jwt_waiter_t *w = data;

    if (w->queued) {
        ngx_queue_remove(&w->queue);
        w->queued = 0;
    }

    if (w->ev.timer_set) {
        ngx_del_timer(&w->ev);
    }
}
